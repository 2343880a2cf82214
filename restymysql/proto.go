package restymysql

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // mysql_native_password and RSA-OAEP are defined on SHA-1
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"filippo.io/edwards25519"

	"github.com/caddy-resty/caddy-resty/cosocket"
)

// This file is the MySQL client/server protocol as lua-resty-mysql speaks
// it: the text protocol (COM_QUERY, COM_QUIT), protocol 4.1 handshakes
// with the authentication plugins the library supports, TLS, and result
// sets read packet by packet. Nothing here touches Lua: the module calls
// these functions while its Lua state is free (see cosocket).

// Capability flags (https://dev.mysql.com/doc/dev/mysql-server/latest/group__group__cs__capabilities__flags.html).
const (
	clientLongPassword     = 0x00000001
	clientFoundRows        = 0x00000002
	clientLongFlag         = 0x00000004
	clientConnectWithDB    = 0x00000008
	clientODBC             = 0x00000040
	clientIgnoreSpace      = 0x00000100
	clientProtocol41       = 0x00000200
	clientInteractive      = 0x00000400
	clientSSL              = 0x00000800
	clientIgnoreSIGPIPE    = 0x00001000
	clientTransactions     = 0x00002000
	clientReserved         = 0x00004000
	clientSecureConnection = 0x00008000
	clientMultiStatements  = 0x00010000
	clientMultiResults     = 0x00020000
	clientPluginAuth       = 0x00080000
	clientPluginAuthLenenc = 0x00200000

	// myClientFlags are lua-resty-mysql's flags (0x3f7cf with plugin
	// auth) without CLIENT_LOCAL_FILES: the server may not ask for a
	// local file, which neither library could send.
	myClientFlags = clientLongPassword | clientFoundRows | clientLongFlag | clientConnectWithDB |
		clientODBC | clientIgnoreSpace | clientProtocol41 | clientInteractive | clientIgnoreSIGPIPE |
		clientTransactions | clientReserved | clientSecureConnection | clientMultiStatements |
		clientMultiResults | clientPluginAuth
)

// Commands, status flags and packet markers.
const (
	comQuit  = 0x01
	comQuery = 0x03

	serverStatusInTrans     = 0x0001
	serverMoreResultsExists = 0x0008

	minProtocolVersion = 10
	maxPayload         = 1<<24 - 1
)

// Packet types, named as lua-resty-mysql names them in its errors.
const (
	respOK           = "OK"
	respAuthMoreData = "AUTHMOREDATA"
	respLocalInfile  = "LOCALINFILE"
	respEOF          = "EOF"
	respErr          = "ERR"
	respData         = "DATA"
)

func packetType(p []byte) string {
	switch p[0] {
	case 0x00:
		return respOK
	case 0x01:
		return respAuthMoreData
	case 0xfb:
		return respLocalInfile
	case 0xfe:
		return respEOF
	case 0xff:
		return respErr
	}
	return respData
}

// charsets maps lua-resty-mysql's charset option to the collation id sent
// in the handshake (each charset's default collation).
var charsets = map[string]byte{
	"_default": 0, "big5": 1, "dec8": 3, "cp850": 4, "hp8": 6, "koi8r": 7, "latin1": 8,
	"latin2": 9, "swe7": 10, "ascii": 11, "ujis": 12, "sjis": 13, "hebrew": 16, "tis620": 18,
	"euckr": 19, "koi8u": 22, "gb2312": 24, "greek": 25, "cp1250": 26, "gbk": 28, "latin5": 30,
	"armscii8": 32, "utf8": 33, "ucs2": 35, "cp866": 36, "keybcs2": 37, "macce": 38,
	"macroman": 39, "cp852": 40, "latin7": 41, "utf8mb4": 45, "cp1251": 51, "utf16": 54,
	"utf16le": 56, "cp1256": 57, "cp1257": 59, "utf32": 60, "binary": 63, "geostd8": 92,
	"cp932": 95, "eucjpms": 97, "gb18030": 248,
}

// serverError is an ERR packet: the message, the error code and the
// SQLSTATE ("" when the packet has none).
type serverError struct {
	code     int
	sqlstate string
	msg      string
}

func (e *serverError) Error() string { return e.msg }

func parseErr(p []byte) *serverError {
	e := &serverError{}
	if len(p) >= 3 {
		e.code = int(binary.LittleEndian.Uint16(p[1:3]))
	}
	rest := p[min(3, len(p)):]
	if len(rest) > 0 && rest[0] == '#' && len(rest) >= 6 {
		e.sqlstate = string(rest[1:6])
		rest = rest[6:]
	}
	e.msg = string(rest)
	return e
}

// wire is one connection's packet layer.
type wire struct {
	nc        net.Conn
	br        *bufio.Reader
	seq       byte
	maxPacket int
	// readTO and sendTO bound each packet read and write (0: none).
	readTO, sendTO time.Duration
}

func newWire(nc net.Conn) *wire {
	return &wire{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}
}

// errTimeout tells a read timeout, after which lua-resty-mysql keeps the
// connection (another read may still get the reply), from other I/O errors.
func isTimeout(err error) bool { return cosocket.Error(err) == "timeout" }

// readPacket reads one packet's payload; its errors carry
// lua-resty-mysql's texts.
func (w *wire) readPacket() ([]byte, error) {
	var payload []byte
	for {
		var hdr [4]byte
		if w.readTO > 0 {
			_ = w.nc.SetReadDeadline(time.Now().Add(w.readTO))
		}
		if _, err := io.ReadFull(w.br, hdr[:]); err != nil {
			return nil, &ioError{"failed to receive packet header: ", err}
		}
		n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
		if n == 0 && payload == nil {
			return nil, errors.New("empty packet")
		}
		if len(payload)+n > w.maxPacket {
			return nil, fmt.Errorf("packet size too big: %d", len(payload)+n)
		}
		w.seq = hdr[3]
		start := len(payload)
		payload = append(payload, make([]byte, n)...)
		if w.readTO > 0 {
			_ = w.nc.SetReadDeadline(time.Now().Add(w.readTO))
		}
		if _, err := io.ReadFull(w.br, payload[start:]); err != nil {
			return nil, &ioError{"failed to read packet content: ", err}
		}
		if n < maxPayload {
			return payload, nil
		}
	}
}

// writePacket sends payload as one or more packets and returns the bytes
// written.
func (w *wire) writePacket(payload []byte) (int, error) {
	buf := make([]byte, 0, len(payload)+4+4*(len(payload)/maxPayload))
	for {
		n := min(len(payload), maxPayload)
		w.seq++
		buf = append(buf, byte(n), byte(n>>8), byte(n>>16), w.seq)
		buf = append(buf, payload[:n]...)
		payload = payload[n:]
		if n < maxPayload {
			break
		}
	}
	if w.sendTO > 0 {
		_ = w.nc.SetWriteDeadline(time.Now().Add(w.sendTO))
	}
	n, err := w.nc.Write(buf)
	if err != nil {
		return n, &ioError{"", err}
	}
	return n, nil
}

// ioError is a network error, shown with the cosocket's text.
type ioError struct {
	prefix string
	err    error
}

func (e *ioError) Error() string { return e.prefix + cosocket.Error(e.err) }
func (e *ioError) Unwrap() error { return e.err }

// readLenenc reads a length-encoded integer at p[i:]; null is true for
// the NULL marker (0xfb). ok is false when p is too short.
func readLenenc(p []byte, i int) (v uint64, next int, null, ok bool) {
	if i >= len(p) {
		return 0, i, false, false
	}
	switch b := p[i]; {
	case b < 0xfb:
		return uint64(b), i + 1, false, true
	case b == 0xfb:
		return 0, i + 1, true, true
	case b == 0xfc:
		if i+3 > len(p) {
			return 0, i, false, false
		}
		return uint64(binary.LittleEndian.Uint16(p[i+1:])), i + 3, false, true
	case b == 0xfd:
		if i+4 > len(p) {
			return 0, i, false, false
		}
		return uint64(p[i+1]) | uint64(p[i+2])<<8 | uint64(p[i+3])<<16, i + 4, false, true
	case b == 0xfe:
		if i+9 > len(p) {
			return 0, i, false, false
		}
		return binary.LittleEndian.Uint64(p[i+1:]), i + 9, false, true
	}
	return 0, i + 1, false, false
}

// readLenencString reads a length-encoded string (nil for NULL).
func readLenencString(p []byte, i int) (s []byte, next int, ok bool) {
	n, i, null, ok := readLenenc(p, i)
	if !ok || null {
		return nil, i, ok
	}
	if uint64(len(p)-i) < n {
		return nil, i, false
	}
	return p[i : i+int(n) : i+int(n)], i + int(n), true
}

func appendLenenc(b []byte, n uint64) []byte {
	switch {
	case n < 251:
		return append(b, byte(n))
	case n < 1<<16:
		return append(b, 0xfc, byte(n), byte(n>>8))
	case n < 1<<24:
		return append(b, 0xfd, byte(n), byte(n>>8), byte(n>>16))
	}
	return binary.LittleEndian.AppendUint64(append(b, 0xfe), n)
}

// connectParams are what a handshake needs.
type connectParams struct {
	user, password, database string
	charset                  byte
	maxPacket                int
	ssl, sslVerify           bool
	serverName               string // host, for TLS
	unix                     bool
}

// handshake is what the server's greeting told.
type handshake struct {
	serverVer string
	caps      uint32
	scramble  []byte
	plugin    string
}

// loginError is a failed login: the message and, when the server sent an
// ERR packet during authentication, its code and SQLSTATE (connect
// returns those as its third and fourth values).
type loginError struct {
	msg      string
	code     int
	sqlstate string
	withCode bool
}

func (e *loginError) Error() string { return e.msg }

func loginErr(err error) *loginError { return &loginError{msg: err.Error()} }

// login runs the connection phase on a new connection: the greeting, TLS
// when asked, the handshake response and the authentication exchange.
// On success it returns the server version. tlsWrap upgrades the wire's
// connection to TLS.
func login(w *wire, p connectParams) (string, *loginError) {
	hs, lerr := readGreeting(w)
	if lerr != nil {
		return "", lerr
	}
	flags := uint32(myClientFlags)
	if p.ssl {
		if hs.caps&clientSSL == 0 {
			return hs.serverVer, &loginError{msg: "ssl disabled on server"}
		}
		flags |= clientSSL
		req := binary.LittleEndian.AppendUint32(nil, flags)
		req = binary.LittleEndian.AppendUint32(req, uint32(p.maxPacket))
		req = append(req, p.charset)
		req = append(req, make([]byte, 23)...)
		if _, err := w.writePacket(req); err != nil {
			return hs.serverVer, &loginError{msg: "failed to send client authentication packet: " + err.Error()}
		}
		if err := startTLS(w, p); err != nil {
			return hs.serverVer, &loginError{msg: "failed to do ssl handshake: " + tlsError(err)}
		}
	}
	resp, err := authResponse(p, hs.plugin, hs.scramble, nil)
	if err != nil {
		return hs.serverVer, loginErr(err)
	}
	if len(resp) > 250 {
		flags |= clientPluginAuthLenenc
	}
	req := binary.LittleEndian.AppendUint32(nil, flags)
	req = binary.LittleEndian.AppendUint32(req, uint32(p.maxPacket))
	req = append(req, p.charset)
	req = append(req, make([]byte, 23)...)
	req = append(append(req, p.user...), 0)
	if flags&clientPluginAuthLenenc != 0 {
		req = appendLenenc(req, uint64(len(resp)))
	} else {
		req = append(req, byte(len(resp)))
	}
	req = append(req, resp...)
	req = append(append(req, p.database...), 0)
	req = append(append(req, hs.plugin...), 0)
	if _, err := w.writePacket(req); err != nil {
		return hs.serverVer, &loginError{msg: "failed to send client authentication packet: " + err.Error()}
	}
	return hs.serverVer, authenticate(w, p, hs.plugin, hs.scramble)
}

func readGreeting(w *wire) (*handshake, *loginError) {
	pkt, err := w.readPacket()
	if err != nil {
		return nil, loginErr(err)
	}
	if pkt[0] == 0xff {
		// Too many connections, host blocked...: lua-resty-mysql returns
		// the message alone here.
		return nil, &loginError{msg: parseErr(pkt).msg}
	}
	if pkt[0] < minProtocolVersion {
		return nil, &loginError{msg: fmt.Sprintf("unsupported protocol version %d, version %d or higher is required", pkt[0], minProtocolVersion)}
	}
	hs := &handshake{}
	i := 1
	end := indexNUL(pkt, i)
	if end < 0 {
		return nil, &loginError{msg: "bad handshake initialization packet: bad server version"}
	}
	hs.serverVer = string(pkt[i:end])
	i = end + 1 + 4 // thread id
	if i+8+1+2 > len(pkt) {
		return nil, &loginError{msg: "1st part of scramble not found"}
	}
	hs.scramble = append(hs.scramble, pkt[i:i+8]...)
	i += 9
	hs.caps = uint32(binary.LittleEndian.Uint16(pkt[i:]))
	i += 2
	if i+1+2+2+1+10 <= len(pkt) {
		i += 1 + 2 // charset, status
		hs.caps |= uint32(binary.LittleEndian.Uint16(pkt[i:])) << 16
		i += 2
		authLen := int(pkt[i])
		i += 1 + 10
		n := max(13, authLen-8)
		if i+n > len(pkt) {
			n = len(pkt) - i
		}
		part2 := pkt[i : i+n]
		if len(part2) > 0 && part2[len(part2)-1] == 0 {
			part2 = part2[:len(part2)-1]
		}
		hs.scramble = append(hs.scramble, part2...)
		i += n
	}
	hs.plugin = "mysql_native_password"
	if hs.caps&clientPluginAuth != 0 && i < len(pkt) {
		if end := indexNUL(pkt, i); end >= 0 {
			hs.plugin = string(pkt[i:end])
		} else {
			hs.plugin = string(pkt[i:])
		}
	}
	return hs, nil
}

func indexNUL(p []byte, from int) int {
	for i := from; i < len(p); i++ {
		if p[i] == 0 {
			return i
		}
	}
	return -1
}

func startTLS(w *wire, p connectParams) error {
	cfg := &tls.Config{ServerName: p.serverName, InsecureSkipVerify: !p.sslVerify} //nolint:gosec // ssl_verify defaults to false in lua-resty-mysql
	if p.sslVerify && p.serverName == "" {
		// a unix socket: the chain is checked, there is no name to match
		cfg.InsecureSkipVerify = true //nolint:gosec // verified below
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Intermediates: inter})
			return err
		}
	}
	tc := tls.Client(w.nc, cfg)
	if w.readTO > 0 {
		_ = tc.SetDeadline(time.Now().Add(w.readTO))
	}
	if err := tc.Handshake(); err != nil {
		return err
	}
	_ = tc.SetDeadline(time.Time{})
	w.nc = tc
	w.br = bufio.NewReaderSize(tc, 16<<10)
	return nil
}

// tlsError is the text OpenSSL gives for a failed handshake: a
// self-signed certificate is its error 18, other errors as cosockets say.
func tlsError(err error) string {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) && ua.Cert != nil && bytes.Equal(ua.Cert.RawIssuer, ua.Cert.RawSubject) &&
		ua.Cert.CheckSignature(ua.Cert.SignatureAlgorithm, ua.Cert.RawTBSCertificate, ua.Cert.Signature) == nil {
		return "18: self-signed certificate"
	}
	return cosocket.Error(err)
}

// authResponse computes the response of plugin to the server's scramble
// (pubKey: a server's RSA key for sha256_password).
func authResponse(p connectParams, plugin string, scramble, pubKey []byte) ([]byte, error) {
	pw := p.password
	switch plugin {
	case "mysql_native_password":
		if pw == "" {
			return nil, nil
		}
		return scrambleNative(pw, scramble), nil
	case "caching_sha2_password":
		if pw == "" {
			return nil, nil
		}
		return scrambleSHA256(pw, scramble), nil
	case "mysql_old_password":
		if pw == "" {
			return nil, nil
		}
		return append(scrambleOld(pw, scramble), 0), nil
	case "mysql_clear_password":
		return append([]byte(pw), 0), nil
	case "sha256_password":
		if p.unix || p.ssl || pw == "" {
			return append([]byte(pw), 0), nil
		}
		if pubKey != nil {
			return encryptPassword(pw, scramble, pubKey)
		}
		return []byte{1}, nil // asks for the server's public key
	case "client_ed25519":
		return signEd25519(pw, scramble), nil
	}
	return nil, errors.New("unknown plugin: " + plugin)
}

// scrambleNative is mysql_native_password's token:
// SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))).
func scrambleNative(pw string, scramble []byte) []byte {
	scramble = scramble[:min(20, len(scramble))]
	s1 := sha1.Sum([]byte(pw)) //nolint:gosec // the protocol's hash
	s2 := sha1.Sum(s1[:])      //nolint:gosec
	h := sha1.New()            //nolint:gosec
	h.Write(scramble)
	h.Write(s2[:])
	s3 := h.Sum(nil)
	for i := range s3 {
		s3[i] ^= s1[i]
	}
	return s3
}

// scrambleSHA256 is caching_sha2_password's token:
// SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble).
func scrambleSHA256(pw string, scramble []byte) []byte {
	m1 := sha256.Sum256([]byte(pw))
	m1h := sha256.Sum256(m1[:])
	h := sha256.New()
	h.Write(m1h[:])
	h.Write(scramble)
	m2 := h.Sum(nil)
	for i := range m2 {
		m2[i] ^= m1[i]
	}
	return m2
}

// oldHash is the pre-4.1 password hash (two 31-bit words).
func oldHash(s []byte) (uint32, uint32) {
	var nr, add, nr2 uint32 = 1345345333, 7, 0x12345671
	for _, c := range s {
		if c == ' ' || c == '\t' {
			continue
		}
		tmp := uint32(c)
		nr ^= (((nr & 63) + add) * tmp) + (nr << 8)
		nr2 += (nr2 << 8) ^ nr
		add += tmp
	}
	return nr & 0x7fffffff, nr2 & 0x7fffffff
}

// scrambleOld is mysql_old_password's 8-byte token.
func scrambleOld(pw string, scramble []byte) []byte {
	scramble = scramble[:min(8, len(scramble))]
	const maxVal = 0x3fffffff
	hp1, hp2 := oldHash([]byte(pw))
	hs1, hs2 := oldHash(scramble)
	seed1, seed2 := uint64((hp1^hs1)%maxVal), uint64((hp2^hs2)%maxVal)
	next := func() byte {
		seed1 = (seed1*3 + seed2) % maxVal
		seed2 = (seed1 + seed2 + 33) % maxVal
		return byte(seed1 * 31 / maxVal)
	}
	out := make([]byte, len(scramble))
	for i := range out {
		out[i] = next() + 64
	}
	extra := next()
	for i := range out {
		out[i] ^= extra
	}
	return out
}

// encryptPassword encrypts pw (NUL-terminated, XORed with the scramble)
// with the server's RSA public key (PEM), RSA-OAEP with SHA-1, for
// sha256_password and caching_sha2_password over plain TCP.
func encryptPassword(pw string, scramble, pubKey []byte) ([]byte, error) {
	block, _ := pem.Decode(pubKey)
	if block == nil {
		return nil, errors.New("new rsa err: bad public key")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("new rsa err: %w", err)
	}
	rk, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("new rsa err: not an RSA key")
	}
	plain := append([]byte(pw), 0)
	if len(scramble) > 0 {
		for i := range plain {
			plain[i] ^= scramble[i%len(scramble)]
		}
	}
	enc, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, rk, plain, nil) //nolint:gosec // the protocol's padding
	if err != nil {
		return nil, fmt.Errorf("encode password packet: %w", err)
	}
	return enc, nil
}

// ed25519NonceSize is the size of client_ed25519's scramble.
const ed25519NonceSize = 32

// signEd25519 is MariaDB's client_ed25519 response: an Ed25519 signature
// of the 32-byte scramble whose secret is SHA-512(password) used as the
// expanded key (no RFC 8032 seed step).
func signEd25519(pw string, scramble []byte) []byte {
	msg := scramble[:min(32, len(scramble))]
	h, a, A := ed25519Key(pw)
	rh := sha512.New()
	rh.Write(h[32:])
	rh.Write(msg)
	r, _ := edwards25519.NewScalar().SetUniformBytes(rh.Sum(nil))
	R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()
	kh := sha512.New()
	kh.Write(R)
	kh.Write(A)
	kh.Write(msg)
	k, _ := edwards25519.NewScalar().SetUniformBytes(kh.Sum(nil))
	s := edwards25519.NewScalar().MultiplyAdd(k, a, r)
	return append(R, s.Bytes()...)
}

// ed25519Key derives client_ed25519's key from a password: the hash, the
// clamped secret scalar and the public key (what the server stores).
func ed25519Key(pw string) (h [64]byte, a *edwards25519.Scalar, pub []byte) {
	h = sha512.Sum512([]byte(pw))
	a, _ = edwards25519.NewScalar().SetBytesWithClamping(h[:32]) // 32 bytes: no error
	return h, a, new(edwards25519.Point).ScalarBaseMult(a).Bytes()
}

// authenticate reads the server's answers to the handshake response until
// it accepts or refuses the login, answering plugin switches and the
// extra rounds of the SHA-256 plugins.
func authenticate(w *wire, p connectParams, plugin string, scramble []byte) *loginError {
	data, newPlugin, lerr := readAuthResult(w)
	if lerr != nil {
		return lerr
	}
	if data == nil && newPlugin == "" {
		return nil // OK
	}
	if newPlugin != "" {
		if data != nil {
			scramble = data
		}
		plugin = newPlugin
		resp, err := authResponse(p, plugin, scramble, nil)
		if err != nil {
			return loginErr(err)
		}
		if _, err := w.writePacket(resp); err != nil {
			return &loginError{msg: "failed to send client authentication packet: " + err.Error()}
		}
		data, newPlugin, lerr = readAuthResult(w)
		if lerr != nil {
			return lerr
		}
		if data == nil && newPlugin == "" {
			return nil
		}
		if newPlugin != "" {
			return &loginError{msg: "malformed packet"}
		}
	}
	switch plugin {
	case "caching_sha2_password":
		if len(data) == 0 {
			return nil
		}
		if len(data) == 1 {
			switch data[0] {
			case 3: // fast authentication succeeded
				return readOKResult(w)
			case 4: // full authentication
				if p.unix || p.ssl {
					if _, err := w.writePacket(append([]byte(p.password), 0)); err != nil {
						return &loginError{msg: "failed to send cleartext auth packet: " + err.Error()}
					}
					return readOKResult(w)
				}
				if _, err := w.writePacket([]byte{2}); err != nil {
					return &loginError{msg: "failed to send password request packet: " + err.Error()}
				}
				pkt, err := w.readPacket()
				if err != nil {
					return &loginError{msg: "failed to receive the result packet: " + err.Error()}
				}
				if lerr := sendEncrypted(w, p.password, scramble, pkt[1:]); lerr != nil {
					return lerr
				}
				return readOKResult(w)
			}
		}
		return &loginError{msg: "malformed packet"}
	case "sha256_password":
		if len(data) != 0 {
			if lerr := sendEncrypted(w, p.password, scramble, data); lerr != nil {
				return lerr
			}
			return readOKResult(w)
		}
	}
	return nil
}

func sendEncrypted(w *wire, pw string, scramble, key []byte) *loginError {
	enc, err := encryptPassword(pw, scramble, key)
	if err != nil {
		return loginErr(err)
	}
	if _, err := w.writePacket(enc); err != nil {
		return &loginError{msg: "failed to send encode password packet: " + err.Error()}
	}
	return nil
}

// readAuthResult reads one answer during authentication: OK (nil, ""),
// more data (data, ""), a plugin switch (data, plugin) or an error.
func readAuthResult(w *wire) (data []byte, plugin string, lerr *loginError) {
	pkt, err := w.readPacket()
	if err != nil {
		return nil, "", &loginError{msg: "failed to receive the result packet: " + err.Error()}
	}
	switch typ := packetType(pkt); typ {
	case respOK:
		return nil, "", nil
	case respAuthMoreData:
		return append([]byte{}, pkt[1:]...), "", nil
	case respEOF:
		if len(pkt) == 1 { // pre-4.1 servers asking for the old password
			return nil, "mysql_old_password", nil
		}
		end := indexNUL(pkt, 1)
		if end < 0 {
			return nil, "", &loginError{msg: "malformed packet"}
		}
		// The scramble of the native and SHA-256 plugins comes with a
		// NUL after its 20 bytes; MariaDB's client_ed25519 sends its
		// 32-byte nonce bare, and its last byte may be 0 (1 in 256).
		d := pkt[end+1:]
		if len(d) > 0 && d[len(d)-1] == 0 && len(d) != ed25519NonceSize {
			d = d[:len(d)-1]
		}
		return append([]byte{}, d...), string(pkt[1:end]), nil
	case respErr:
		e := parseErr(pkt)
		return nil, "", &loginError{msg: e.msg, code: e.code, sqlstate: e.sqlstate, withCode: true}
	default:
		return nil, "", &loginError{msg: "bad packet type: " + typ}
	}
}

func readOKResult(w *wire) *loginError {
	pkt, err := w.readPacket()
	if err != nil {
		return &loginError{msg: "failed to receive the result packet: " + err.Error()}
	}
	switch typ := packetType(pkt); typ {
	case respOK:
		return nil
	case respErr:
		e := parseErr(pkt)
		return &loginError{msg: e.msg, code: e.code, sqlstate: e.sqlstate, withCode: true}
	default:
		return &loginError{msg: "bad packet type: " + typ}
	}
}

// okPacket is an OK packet's content.
type okPacket struct {
	affectedRows, insertID uint64
	status, warnings       uint16
	message                []byte
	hasMessage             bool
}

func parseOK(p []byte) okPacket {
	var ok okPacket
	i := 1
	ok.affectedRows, i, _, _ = readLenenc(p, i)
	ok.insertID, i, _, _ = readLenenc(p, i)
	if i+2 <= len(p) {
		ok.status = binary.LittleEndian.Uint16(p[i:])
	}
	i += 2
	if i+2 <= len(p) {
		ok.warnings = binary.LittleEndian.Uint16(p[i:])
	}
	i += 2
	if i < len(p) {
		if msg, _, good := readLenencString(p, i); good && msg != nil {
			ok.message, ok.hasMessage = msg, true
		}
	}
	return ok
}

// column is a result set's column: its name and type code.
type column struct {
	name string
	typ  byte
}

func parseColumn(p []byte) (column, bool) {
	i := 0
	var name []byte
	for f := 0; f < 6; f++ { // catalog, schema, table, org_table, name, org_name
		s, next, ok := readLenencString(p, i)
		if !ok {
			return column{}, false
		}
		if f == 4 {
			name = s
		}
		i = next
	}
	i += 1 + 2 + 4 // length of the fixed fields, charset, column length
	if i >= len(p) {
		return column{}, false
	}
	return column{name: string(name), typ: p[i]}, true
}

// result is what read_result returns, before it becomes Lua values.
type result struct {
	// fail is set on errors: the message, and code/sqlstate for ERR
	// packets (code 0: none).
	fail     string
	code     int
	sqlstate string
	// fatal: the connection is unusable (an I/O error other than a read
	// timeout); keep: the command's replies are still coming (state 2).
	fatal, keep bool

	isOK bool
	ok   okPacket

	// status is the server status of the last OK or EOF packet read
	// (hasStatus false: none was).
	status    uint16
	hasStatus bool

	cols []column
	// rows hold the values (nil: NULL), slices of the row packets.
	rows [][][]byte
	more bool
}

func ioFail(r *result, err error) *result {
	r.fail = err.Error()
	r.keep = true
	var ie *ioError
	if errors.As(err, &ie) && !isTimeout(ie.err) {
		r.fatal = true
	}
	return r
}

// readResult reads one result of a query: an OK packet, an ERR packet or a
// result set, as lua-resty-mysql's read_result does.
func readResult(w *wire) *result {
	r := &result{}
	pkt, err := w.readPacket()
	if err != nil {
		return ioFail(r, err)
	}
	switch typ := packetType(pkt); typ {
	case respErr:
		e := parseErr(pkt)
		r.fail, r.code, r.sqlstate = e.msg, e.code, e.sqlstate
		return r
	case respOK:
		r.isOK = true
		r.ok = parseOK(pkt)
		r.status, r.hasStatus = r.ok.status, true
		r.more = r.ok.status&serverMoreResultsExists != 0
		r.keep = r.more
		return r
	case respLocalInfile:
		r.fail = "packet type " + typ + " not supported"
		return r
	}
	n, _, _, _ := readLenenc(pkt, 0)
	r.cols = make([]column, 0, min(n, 4096))
	for i := uint64(0); i < n; i++ {
		pkt, err := w.readPacket()
		if err != nil {
			return ioFail(r, err)
		}
		switch typ := packetType(pkt); typ {
		case respErr:
			e := parseErr(pkt)
			r.fail, r.code, r.sqlstate, r.keep = e.msg, e.code, e.sqlstate, true
			return r
		case respData:
		default:
			r.fail, r.keep = "bad field packet type: "+typ, true
			return r
		}
		col, ok := parseColumn(pkt)
		if !ok {
			r.fail, r.keep, r.fatal = "malformed packet", true, true
			return r
		}
		r.cols = append(r.cols, col)
	}
	pkt, err = w.readPacket()
	if err != nil {
		return ioFail(r, err)
	}
	if typ := packetType(pkt); typ != respEOF {
		r.fail, r.keep = "unexpected packet type "+typ+" while eof packet is expected", true
		return r
	}
	for {
		pkt, err := w.readPacket()
		if err != nil {
			return ioFail(r, err)
		}
		if pkt[0] == 0xfe && len(pkt) < 9 {
			var status uint16
			if len(pkt) >= 5 {
				status = binary.LittleEndian.Uint16(pkt[3:])
			}
			r.status, r.hasStatus = status, true
			r.more = status&serverMoreResultsExists != 0
			r.keep = r.more
			return r
		}
		if pkt[0] == 0xff {
			e := parseErr(pkt)
			r.fail, r.code, r.sqlstate = e.msg, e.code, e.sqlstate
			r.rows = nil
			return r
		}
		row := make([][]byte, len(r.cols))
		i := 0
		for c := range row {
			v, next, ok := readLenencString(pkt, i)
			if !ok {
				r.fail, r.keep, r.fatal = "malformed packet", true, true
				return r
			}
			row[c], i = v, next
		}
		r.rows = append(r.rows, row)
	}
}

// sendQuery sends COM_QUERY and returns the bytes sent.
func sendQuery(w *wire, q string) (int, error) {
	w.seq = 255 // the command's packets are numbered from 0
	buf := make([]byte, 0, 1+len(q))
	buf = append(buf, comQuery)
	buf = append(buf, q...)
	return w.writePacket(buf)
}

// quit sends COM_QUIT and closes the connection, bounded by a short
// deadline; it is run on a goroutine of its own.
func quit(nc net.Conn) {
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write([]byte{1, 0, 0, 0, comQuit})
	_ = cosocket.Close(nc)
}

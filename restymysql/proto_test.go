package restymysql

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha1" //nolint:gosec // the protocol's hash
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestEd25519Key checks client_ed25519's key derivation against the
// public keys lua-resty-mysql's test setup gives MariaDB
// (.travis/initializedb.sh), and that the signature verifies.
func TestEd25519Key(t *testing.T) {
	for pw, want := range map[string]string{
		"ed25519_pass": "STIwVk/F6qiXJuOr8AgPSWVxmiN3rUjEX5DfzGAJ32A",
		"":             "4LH+dBF+G5W2CKTyId8xR3SyDqZoQjUNUVNxx8aWbG4",
	} {
		_, _, pub := ed25519Key(pw)
		if got := base64.RawStdEncoding.EncodeToString(pub); got != want {
			t.Errorf("key of %q: %s, want %s", pw, got, want)
		}
		msg := bytes.Repeat([]byte{7}, 32)
		if !ed25519.Verify(pub, msg, signEd25519(pw, msg)) {
			t.Errorf("signature of %q does not verify", pw)
		}
	}
}

// TestEd25519Vector is lua-resty-mysql t/ed25519.t TEST 2 (sign() known
// vector): the signature of 32 bytes 0x42 with "password" starts with
// 6f25ecb9d36d417d.
func TestEd25519Vector(t *testing.T) {
	sig := signEd25519("password", bytes.Repeat([]byte{0x42}, 32))
	if got := fmt.Sprintf("%x", sig[:8]); got != "6f25ecb9d36d417d" || len(sig) != 64 {
		t.Errorf("prefix %s (len %d), want 6f25ecb9d36d417d", got, len(sig))
	}
}

// TestScrambles checks the tokens as a server checks them.
func TestScrambles(t *testing.T) {
	scramble := []byte("abcdefghijklmnopqrst")
	pw := "secret"
	// mysql_native_password: the server keeps SHA1(SHA1(pw)) and checks
	// SHA1(token XOR SHA1(scramble + stored)) == stored.
	s1 := sha1.Sum([]byte(pw))
	stored := sha1.Sum(s1[:])
	h := sha1.New()
	h.Write(scramble)
	h.Write(stored[:])
	x := h.Sum(nil)
	tok := scrambleNative(pw, scramble)
	for i := range x {
		x[i] ^= tok[i]
	}
	if sha1.Sum(x) != stored {
		t.Error("mysql_native_password token does not check")
	}
	// caching_sha2_password: stored SHA256(SHA256(pw)).
	m1 := sha256.Sum256([]byte(pw))
	st2 := sha256.Sum256(m1[:])
	h2 := sha256.New()
	h2.Write(st2[:])
	h2.Write(scramble)
	y := h2.Sum(nil)
	tok = scrambleSHA256(pw, scramble)
	for i := range y {
		y[i] ^= tok[i]
	}
	if sha256.Sum256(y) != st2 {
		t.Error("caching_sha2_password token does not check")
	}
	if tok, _ := authResponse(connectParams{}, "mysql_native_password", scramble, nil); tok != nil {
		t.Errorf("empty password: token %x", tok)
	}
	if _, err := authResponse(connectParams{}, "dialog", scramble, nil); err == nil || err.Error() != "unknown plugin: dialog" {
		t.Errorf("unknown plugin: %v", err)
	}
	if len(scrambleOld("pw", scramble)) != 8 {
		t.Error("mysql_old_password token is not 8 bytes")
	}
}

func TestPackets(t *testing.T) {
	ok := parseOK([]byte{0, 0xfc, 0x10, 0x27, 0xfe, 1, 0, 0, 0, 1, 0, 0, 0, 0x0a, 0, 2, 0, 3, 'a', 'b', 'c'})
	if ok.affectedRows != 10000 || ok.insertID != 1<<32+1 || ok.status != 10 || ok.warnings != 2 || string(ok.message) != "abc" {
		t.Errorf("OK packet: %+v", ok)
	}
	if ok := parseOK([]byte{0, 0, 0, 2, 0, 0, 0}); ok.hasMessage {
		t.Errorf("OK packet without message: %+v", ok)
	}
	e := parseErr(append([]byte{0xff, 0x7a, 0x04, '#', '4', '2', 'S', '0', '2'}, "Table 'x' doesn't exist"...))
	if e.code != 1146 || e.sqlstate != "42S02" || e.msg != "Table 'x' doesn't exist" {
		t.Errorf("ERR packet: %+v", e)
	}
	if e := parseErr(append([]byte{0xff, 0x10, 0x04}, "Too many connections"...)); e.code != 1040 || e.sqlstate != "" || e.msg != "Too many connections" {
		t.Errorf("ERR packet without SQLSTATE: %+v", e)
	}
	col := []byte{3, 'd', 'e', 'f', 0, 0, 0, 4, 'n', 'a', 'm', 'e', 0, 0x0c, 0x21, 0, 0, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0}
	if c, ok := parseColumn(col); !ok || c.name != "name" || c.typ != 0xfd {
		t.Errorf("column: %+v %v", c, ok)
	}
	for _, n := range []uint64{0, 250, 251, 65535, 65536, 1<<24 - 1, 1 << 24, 1 << 40} {
		b := appendLenenc(nil, n)
		if v, next, null, ok := readLenenc(b, 0); !ok || null || v != n || next != len(b) {
			t.Errorf("lenenc %d: %d %d %v %v", n, v, next, null, ok)
		}
	}
}

// TestReadResult reads a result set, its "again" and a too big packet
// from a scripted server.
func TestReadResult(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	w := newWire(client)
	w.maxPacket = 64
	col := func(name string, typ byte) []byte {
		b := []byte{3, 'd', 'e', 'f', 0, 0, 0, byte(len(name))}
		b = append(b, name...)
		return append(b, 0, 0x0c, 0x21, 0, 0, 0, 0, 0, typ, 0, 0, 0, 0, 0)
	}
	packets := [][]byte{
		{2}, col("a", 3), col("b", 0xfd), {0xfe, 0, 0, 2, 0},
		{1, '7', 0xfb}, {0, 1, 'x'}, {0xfe, 0, 0, 0x0a, 0},
		{0, 1, 0, 2, 0, 0, 0},
		bytes.Repeat([]byte{1}, 65),
	}
	go func() {
		for i, p := range packets {
			hdr := []byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), byte(i + 1)}
			_, _ = server.Write(append(hdr, p...))
		}
	}()
	r := readResult(w)
	if r.fail != "" || len(r.cols) != 2 || len(r.rows) != 2 || !r.more || !r.keep {
		t.Fatalf("result set: %+v", r)
	}
	if string(r.rows[0][0]) != "7" || r.rows[0][1] != nil || len(r.rows[1][0]) != 0 || string(r.rows[1][1]) != "x" {
		t.Errorf("rows: %q", r.rows)
	}
	r = readResult(w)
	if !r.isOK || r.ok.affectedRows != 1 || r.more {
		t.Errorf("OK: %+v", r)
	}
	r = readResult(w)
	if r.fail != "packet size too big: 65" {
		t.Errorf("too big: %+v", r)
	}
	// the rest of that packet stays unread, as in lua-resty-mysql: the
	// object is in state 2 and can only be closed. A read timeout keeps
	// the connection.
	c2, s2 := net.Pipe()
	defer c2.Close()
	defer s2.Close()
	w = newWire(c2)
	w.maxPacket, w.readTO = 64, 10*time.Millisecond
	if r := readResult(w); r.fail != "failed to receive packet header: timeout" || r.fatal || !r.keep {
		t.Errorf("timeout: %+v", r)
	}
}

// TestPoolBacklog checks the queue of a pool with a backlog: connects
// beyond pool_size wait, beyond backlog fail, and a connection kept
// alive or closed goes to the first waiter.
func TestPoolBacklog(t *testing.T) {
	ps := newPools()
	defer ps.Close()
	ctx := context.Background()
	key := myPoolKey{name: "p"}
	conn := func(p *myPool) *myConn {
		a, b := net.Pipe()
		t.Cleanup(func() { b.Close() })
		return &myConn{w: newWire(a), raw: a, pools: ps, pool: p, server: "s"}
	}
	var conns []*myConn
	for i := 0; i < 2; i++ {
		c, p, err := ps.acquire(ctx, key, 2, 1, "s", time.Second)
		if c != nil || err != nil {
			t.Fatalf("acquire %d: %v %v", i, c, err)
		}
		conns = append(conns, conn(p))
	}
	got := make(chan error, 1)
	var reused *myConn
	go func() {
		c, _, err := ps.acquire(ctx, key, 2, 1, "s", 5*time.Second)
		reused = c
		got <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ps.mu.Lock()
		n := len(ps.waiters)
		ps.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no waiter")
		}
		time.Sleep(time.Millisecond)
	}
	if _, _, err := ps.acquire(ctx, key, 2, 1, "s", time.Second); err == nil || err.Error() != "too many waiting connect operations" {
		t.Fatalf("beyond backlog: %v", err)
	}
	ps.put(conns[0], 0, 0)
	if err := <-got; err != nil || reused != conns[0] || reused.reused != 1 {
		t.Fatalf("waiter: %v %v", reused, err)
	}
	if _, _, err := ps.acquire(ctx, key, 2, 1, "s", 20*time.Millisecond); err == nil || err.Error() != "timeout" {
		t.Fatalf("queued connect: %v", err)
	}
	conns[1].close(false)
	if c, _, err := ps.acquire(ctx, key, 2, 1, "s", time.Second); c != nil || err != nil {
		t.Fatalf("after a close: %v %v", c, err)
	}
}

// An auth switch to client_ed25519 carries MariaDB's 32-byte nonce with
// no NUL after it: a nonce whose last byte is 0 is kept whole (it was cut,
// and one login in 256 was refused); the native plugin's 20 bytes and NUL
// lose the NUL.
func TestAuthSwitchScramble(t *testing.T) {
	for _, tc := range []struct {
		plugin string
		data   []byte
		want   int
	}{
		{"client_ed25519", append(bytes.Repeat([]byte{7}, 31), 0), 32},
		{"client_ed25519", bytes.Repeat([]byte{7}, 32), 32},
		{"mysql_native_password", append(bytes.Repeat([]byte{7}, 20), 0), 20},
	} {
		a, b := net.Pipe()
		go func() {
			pkt := append(append([]byte{0xfe}, tc.plugin...), 0)
			pkt = append(pkt, tc.data...)
			hdr := []byte{byte(len(pkt)), byte(len(pkt) >> 8), byte(len(pkt) >> 16), 2}
			b.Write(append(hdr, pkt...))
			b.Close()
		}()
		w := newWire(a)
		w.maxPacket = 1 << 20
		data, plugin, lerr := readAuthResult(w)
		a.Close()
		if lerr != nil || plugin != tc.plugin || len(data) != tc.want {
			t.Errorf("%s: plugin %q, %d bytes, err %v; want %d bytes", tc.plugin, plugin, len(data), lerr, tc.want)
		}
	}
}

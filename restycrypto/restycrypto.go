// Package restycrypto provides the Lua module resty.crypto: the few
// cryptographic primitives gateway plugins need and that would be slow or
// unsafe in Lua, in Go's standard library:
//
//	crypto.equal(a, b)                  constant-time string comparison
//	crypto.hmac(alg, key, msg)          raw HMAC; alg md5, sha1, sha224,
//	                                    sha256, sha384 or sha512
//	crypto.aes_gcm_encrypt(key, pt [, aad])
//	                                    AES-GCM (key of 16, 24 or 32
//	                                    bytes): nonce(12) .. ciphertext .. tag(16)
//	crypto.aes_gcm_decrypt(key, data [, aad])
//	                                    the plaintext, or nil and an error
//	crypto.uuid()                       a random (version 4) UUID
//
// Errors in arguments (a bad key length, an unknown algorithm) raise Lua
// errors; a message that fails authentication is a nil, err return.
package restycrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"
	"io"

	"github.com/google/uuid"
	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

func init() {
	luaplugin.RegisterModule("resty.crypto", open)
}

var hashes = map[string]func() hash.Hash{
	"md5":    md5.New,
	"sha1":   sha1.New,
	"sha224": sha256.New224,
	"sha256": sha256.New,
	"sha384": sha512.New384,
	"sha512": sha512.New,
}

func open(_ *luaplugin.VM, L *lua.LState) lua.LValue {
	mod := L.CreateTable(0, 6)
	macs := &macCache{m: make(map[macKey]hash.Hash)}
	mod.RawSetString("_VERSION", lua.LString("1.0"))
	mod.RawSetString("equal", L.NewFunction(equal))
	mod.RawSetString("hmac", L.NewFunction(macs.hmac))
	mod.RawSetString("aes_gcm_encrypt", L.NewFunction(gcmEncrypt))
	mod.RawSetString("aes_gcm_decrypt", L.NewFunction(gcmDecrypt))
	mod.RawSetString("uuid", L.NewFunction(newUUID))
	return mod
}

// equal(a, b): whether a and b are the same bytes, in time that depends
// only on their lengths.
func equal(L *lua.LState) int {
	a, b := L.CheckString(1), L.CheckString(2)
	L.Push(lua.LBool(subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1))
	return 1
}

// macCache keeps the HMAC states of one Lua state by algorithm and key,
// reset and reused: a plugin hashes with the same few keys on every
// request (key-auth's salt, csrf's secret), and building an HMAC state
// (two hashes, the padded keys) costs more than hashing a short message.
// It is used by one Lua state only, under its lock.
type macCache struct {
	m map[macKey]hash.Hash
}

type macKey struct{ alg, key string }

// maxCachedMACs bounds a state's cache (cleared past it).
const maxCachedMACs = 64

func (c *macCache) hmac(L *lua.LState) int {
	alg := L.CheckString(1)
	newHash, ok := hashes[alg]
	if !ok {
		L.ArgError(1, "unknown hash algorithm "+alg)
	}
	k := macKey{alg, L.CheckString(2)}
	msg := L.CheckString(3)
	m, ok := c.m[k]
	if ok {
		m.Reset()
	} else {
		if len(c.m) >= maxCachedMACs {
			clear(c.m)
		}
		m = hmac.New(newHash, []byte(k.key))
		c.m[k] = m
	}
	io.WriteString(m, msg)
	var buf [sha512.Size]byte
	L.Push(lua.LString(m.Sum(buf[:0])))
	return 1
}

func gcm(L *lua.LState) cipher.AEAD {
	key := L.CheckString(1)
	switch len(key) {
	case 16, 24, 32:
	default:
		L.ArgError(1, "an AES key must be 16, 24 or 32 bytes long")
	}
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		L.ArgError(1, err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		L.ArgError(1, err.Error())
	}
	return aead
}

func gcmEncrypt(L *lua.LState) int {
	aead := gcm(L)
	pt := L.CheckString(2)
	aad := L.OptString(3, "")
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(pt)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		L.RaiseError("resty.crypto: random nonce: %v", err)
	}
	out = aead.Seal(out, out, []byte(pt), []byte(aad))
	L.Push(lua.LString(out))
	return 1
}

func gcmDecrypt(L *lua.LState) int {
	aead := gcm(L)
	data := L.CheckString(2)
	aad := L.OptString(3, "")
	ns := aead.NonceSize()
	if len(data) < ns+aead.Overhead() {
		return luaplugin.PushFail(L, "ciphertext too short")
	}
	pt, err := aead.Open(nil, []byte(data[:ns]), []byte(data[ns:]), []byte(aad))
	if err != nil {
		return luaplugin.PushFail(L, "authentication failed")
	}
	L.Push(lua.LString(pt))
	return 1
}

func newUUID(L *lua.LState) int {
	L.Push(lua.LString(uuid.NewString()))
	return 1
}

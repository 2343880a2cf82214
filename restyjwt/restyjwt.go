package restyjwt

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

func init() {
	luaplugin.RegisterModule("resty.jwt", open)
}

const (
	// maxKeys bounds the parsed PEM keys a state keeps (cleared past it).
	maxKeys = 256
	// maxToken bounds the length of a token (a larger one is refused
	// before any decoding).
	maxToken = 64 << 10
	// maxDepth bounds the nesting of claims converted to Lua.
	maxDepth = 32
	// maxLeeway bounds the clock skew allowed (one day).
	maxLeeway = 86400
)

// verifierClass names verifier objects in Lua errors.
const verifierClass = "resty.jwt verifier"

// algorithms maps the accepted algorithms to the family of their key.
var algorithms = map[string]string{
	"HS256": "hmac", "HS384": "hmac", "HS512": "hmac",
	"RS256": "rsa", "RS384": "rsa", "RS512": "rsa",
	"PS256": "rsa", "PS384": "rsa", "PS512": "rsa",
	"ES256": "ecdsa", "ES384": "ecdsa", "ES512": "ecdsa",
	"EdDSA": "ed25519",
}

// keyCache is a state's parsed PEM keys.
type keyCache map[[2]string]any

// publicKey returns the parsed key of family from pem, cached.
func (c keyCache) publicKey(family, pem string) (any, error) {
	ck := [2]string{family, pem}
	if k, ok := c[ck]; ok {
		return k, nil
	}
	var (
		k   any
		err error
	)
	switch family {
	case "rsa":
		k, err = jwt.ParseRSAPublicKeyFromPEM([]byte(pem))
	case "ecdsa":
		k, err = jwt.ParseECPublicKeyFromPEM([]byte(pem))
	case "ed25519":
		k, err = jwt.ParseEdPublicKeyFromPEM([]byte(pem))
	default:
		err = fmt.Errorf("no public key for family %s", family)
	}
	if err != nil {
		return nil, err
	}
	if len(c) >= maxKeys {
		clear(c)
	}
	c[ck] = k
	return k, nil
}

// verifier checks tokens of one algorithm and key with fixed options.
type verifier struct {
	alg    string
	key    any
	parser *jwt.Parser
}

func (v *verifier) keyFunc(*jwt.Token) (any, error) { return v.key, nil }

// verify returns the token's claims when it is valid.
func (v *verifier) verify(token string) (jwt.MapClaims, error) {
	if len(token) > maxToken {
		return nil, errors.New("token too long")
	}
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.keyFunc); err != nil {
		return nil, err
	}
	return claims, nil
}

// newVerifier builds a verifier from the options table opts.
func newVerifier(L *lua.LState, keys keyCache, opts *lua.LTable) (*verifier, error) {
	alg, ok := opts.RawGetString("alg").(lua.LString)
	if !ok {
		return nil, errors.New("opts.alg must be a string")
	}
	family, ok := algorithms[string(alg)]
	if !ok {
		return nil, fmt.Errorf("unsupported algorithm %q", string(alg))
	}
	v := &verifier{alg: string(alg)}
	if family == "hmac" {
		s, ok := opts.RawGetString("secret").(lua.LString)
		if !ok || s == "" {
			return nil, fmt.Errorf("opts.secret (a non-empty string) is required for %s", alg)
		}
		v.key = []byte(s)
	} else {
		pem, ok := opts.RawGetString("public_key").(lua.LString)
		if !ok || pem == "" {
			return nil, fmt.Errorf("opts.public_key (a PEM string) is required for %s", alg)
		}
		k, err := keys.publicKey(family, string(pem))
		if err != nil {
			return nil, fmt.Errorf("opts.public_key for %s: %v", alg, err)
		}
		v.key = k
	}
	popts := []jwt.ParserOption{jwt.WithValidMethods([]string{v.alg})}
	switch lw := opts.RawGetString("leeway").(type) {
	case lua.LNumber:
		f := float64(lw)
		if math.IsNaN(f) || f < 0 || f > maxLeeway {
			return nil, fmt.Errorf("opts.leeway must be between 0 and %d seconds", maxLeeway)
		}
		popts = append(popts, jwt.WithLeeway(time.Duration(f*float64(time.Second))))
	case *lua.LNilType:
	default:
		return nil, errors.New("opts.leeway must be a number")
	}
	switch iss := opts.RawGetString("issuer").(type) {
	case lua.LString:
		popts = append(popts, jwt.WithIssuer(string(iss)))
	case *lua.LNilType:
	default:
		return nil, errors.New("opts.issuer must be a string")
	}
	switch aud := opts.RawGetString("audience").(type) {
	case lua.LString:
		popts = append(popts, jwt.WithAudience(string(aud)))
	case *lua.LTable:
		var list []string
		for i := 1; i <= aud.Len(); i++ {
			s, ok := aud.RawGetInt(i).(lua.LString)
			if !ok {
				return nil, errors.New("opts.audience must be a string or a list of strings")
			}
			list = append(list, string(s))
		}
		if len(list) > 0 {
			popts = append(popts, jwt.WithAudience(list...))
		}
	case *lua.LNilType:
	default:
		return nil, errors.New("opts.audience must be a string or a list of strings")
	}
	if lua.LVAsBool(opts.RawGetString("require_exp")) {
		popts = append(popts, jwt.WithExpirationRequired())
	}
	v.parser = jwt.NewParser(popts...)
	return v, nil
}

func open(_ *luaplugin.VM, L *lua.LState) lua.LValue {
	keys := keyCache{}
	mt := L.CreateTable(0, 2)
	methods := L.CreateTable(0, 1)
	methods.RawSetString("verify", L.NewFunction(func(L *lua.LState) int {
		v := luaplugin.CheckObject[verifier](L, verifierClass, "verify")
		return pushResult(L, v, L.CheckString(2))
	}))
	mt.RawSetString("__index", methods)
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		v := luaplugin.CheckObject[verifier](L, verifierClass, "__tostring")
		L.Push(lua.LString(verifierClass + " " + v.alg))
		return 1
	}))

	mod := L.CreateTable(0, 4)
	mod.RawSetString("_VERSION", lua.LString("1.0"))
	// parse(token): header, claims, NOT verified; nil, err when malformed.
	mod.RawSetString("parse", L.NewFunction(func(L *lua.LState) int {
		token := L.CheckString(1)
		if len(token) > maxToken {
			return luaplugin.PushFail(L, "token too long")
		}
		claims := jwt.MapClaims{}
		t, _, err := jwt.NewParser().ParseUnverified(token, claims)
		if err != nil {
			return luaplugin.PushFail(L, err.Error())
		}
		h, err := toLua(L, t.Header, 0)
		if err != nil {
			return luaplugin.PushFail(L, err.Error())
		}
		c, err := toLua(L, map[string]any(claims), 0)
		if err != nil {
			return luaplugin.PushFail(L, err.Error())
		}
		L.Push(h)
		L.Push(c)
		return 2
	}))
	// verify(token, opts): claims, or nil, err. Bad opts raise an error.
	mod.RawSetString("verify", L.NewFunction(func(L *lua.LState) int {
		token := L.CheckString(1)
		v, err := newVerifier(L, keys, L.CheckTable(2))
		if err != nil {
			L.RaiseError("resty.jwt.verify: %v", err)
		}
		return pushResult(L, v, token)
	}))
	// verifier(opts): a prepared verifier, or nil, err.
	mod.RawSetString("verifier", L.NewFunction(func(L *lua.LState) int {
		v, err := newVerifier(L, keys, L.CheckTable(1))
		if err != nil {
			return luaplugin.PushFail(L, err.Error())
		}
		return luaplugin.PushObject(L, v, mt)
	}))
	return mod
}

// pushResult verifies token with v and returns claims or nil, err to Lua.
func pushResult(L *lua.LState, v *verifier, token string) int {
	claims, err := v.verify(token)
	if err != nil {
		return luaplugin.PushFail(L, errorText(err))
	}
	c, err := toLua(L, map[string]any(claims), 0)
	if err != nil {
		return luaplugin.PushFail(L, err.Error())
	}
	L.Push(c)
	return 1
}

// errorText is golang-jwt's message without its generic prefixes, which
// say nothing the cause does not.
func errorText(err error) string {
	s := err.Error()
	for _, p := range []string{"token has invalid claims: ", "token signature is invalid: ", "token is unverifiable: "} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest
		}
	}
	return s
}

// toLua converts a JSON-decoded value to Lua: objects and arrays become
// tables, null becomes ngx.null.
func toLua(L *lua.LState, v any, depth int) (lua.LValue, error) {
	if depth > maxDepth {
		return nil, errors.New("claims nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		return luaplugin.Null, nil
	case bool:
		return lua.LBool(x), nil
	case float64:
		return lua.LNumber(x), nil
	case string:
		return lua.LString(x), nil
	case []any:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			lv, err := toLua(L, e, depth+1)
			if err != nil {
				return nil, err
			}
			t.Append(lv)
		}
		return t, nil
	case map[string]any:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			lv, err := toLua(L, e, depth+1)
			if err != nil {
				return nil, err
			}
			t.RawSetString(k, lv)
		}
		return t, nil
	}
	return lua.LString(fmt.Sprint(v)), nil
}

// Package restyjwt provides the Lua module resty.jwt: JSON Web Token
// verification in Go (github.com/golang-jwt/jwt/v5), for the jwt-auth
// plugin and for scripts.
//
//	local jwt = require "resty.jwt"
//	local header, claims = jwt.parse(token)   -- NOT verified: to pick a key
//	local claims, err = jwt.verify(token, {
//	    alg = "RS256",           -- the only algorithm accepted (required)
//	    public_key = pem,        -- RS*, PS*, ES*, EdDSA: a PEM public key
//	    -- secret = "raw bytes", -- HS256, HS384, HS512
//	    leeway = 30,             -- seconds of clock skew for exp and nbf
//	    issuer = "https://idp",  -- the iss claim must equal it
//	    audience = "api",        -- aud must contain it (or one of a list)
//	    require_exp = true,      -- a token without exp is refused
//	})
//	local v = assert(jwt.verifier(opts))  -- prepared once (key parsed)
//	local claims, err = v:verify(token)
//
// Only the algorithm the caller names is accepted: a token whose header
// says "none", or names another algorithm (an HS256 token against an RS256
// key: algorithm confusion), is refused. PEM keys are parsed once per Lua
// state and kept in a bounded cache keyed by the algorithm family and the
// PEM text. A bad key or option is a nil, err return from verifier and a
// Lua error from verify; a token that fails is always nil, err.
package restyjwt

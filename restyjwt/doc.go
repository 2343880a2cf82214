// Package restyjwt provides the Lua module resty.jwt: JWT verification for jwt-auth (golang-jwt).
package restyjwt

import _ "github.com/golang-jwt/jwt/v5"

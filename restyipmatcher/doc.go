// Package restyipmatcher provides the Lua module resty.ipmatcher: CIDR matching for ip-restriction.
package restyipmatcher

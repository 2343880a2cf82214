// Package restyipmatcher provides the Lua module resty.ipmatcher: CIDR
// matching for ip-restriction, with the API of api7/lua-resty-ipmatcher,
// backed by net/netip:
//
//	local ipmatcher = require "resty.ipmatcher"
//	local m, err = ipmatcher.new({"10.0.0.0/8", "192.168.1.1", "2001:db8::/32"})
//	local ok, err = m:match(ngx.var.client_ip)  -- true/false; nil, err for a bad IP
//
// new takes a list of IPv4 and IPv6 addresses and CIDR prefixes (a prefix
// with host bits set, 10.1.2.3/8, means its network, 10.0.0.0/8); it
// returns nil and an error naming the first bad entry ("invalid IP address
// or CIDR: …"). match takes one address; an IPv4-mapped IPv6 address
// (::ffff:10.1.2.3) matches as its IPv4 address, a zone (fe80::1%eth0) is
// ignored, an empty or malformed address is nil, err.
//
// # Complexity
//
// The matcher keeps, per address family, one hash set of prefixes per
// distinct prefix length. match masks the address to each length the list
// uses and looks the result up: O(L) with L the number of distinct prefix
// lengths (at most 33 for IPv4, 129 for IPv6, usually a handful), whatever
// the number of entries. new is O(n). A matcher is immutable and may be
// kept in a module-level variable or a plugin's conf (built once in init).
package restyipmatcher

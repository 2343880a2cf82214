// Package proxypass is a lean HTTP/1.1 client transport for a reverse
// proxy (nginx's proxy_pass), used by the resty handler.
//
// # Design
//
// An exchange runs entirely on the goroutine that calls Transport.Do and
// then the Exchange's methods: the request is written, the response head
// read and the body streamed on that goroutine, from pooled upstream
// connections. There is no goroutine per connection and no hand-off
// between goroutines (net/http.Transport has a read and a write loop per
// connection and channels between them), which makes an exchange cost
// about half as much.
//
//   - Connections are pooled per Target (address, TLS, server name): a
//     LIFO of idle connections, at most Options.MaxIdlePerTarget, none
//     kept longer than Options.IdleTimeout (checked when one is taken, and
//     by one reaper timer per Transport while some are idle). A reused
//     connection idle for 200 ms or more, or one that is to carry a
//     request body, is probed first: on Linux a non-blocking
//     recv(MSG_PEEK) on its socket (elsewhere a read with a 1µs
//     deadline); received data, EOF or an error discard it. A request that
//     fails on a reused connection before any response byte, with no byte
//     of its body read, is sent again once, on a new connection, inside Do.
//   - Timeouts are connection deadlines, set per operation: dial and TLS
//     handshake within ConnectTimeout; SendTimeout before each write of
//     the head and of every body piece; ReadTimeout once per response head
//     and before each read from the network of the body (not per small
//     read from the buffer).
//   - The end of the request's context (the client went away) aborts the
//     exchange, even when blocked in a read or a write: context.AfterFunc
//     sets a deadline in the past on the connection, and the error is
//     KindCanceled; such a connection is never reused. A request with a
//     body, or a head over 4 KiB, is watched from the start; a small one
//     with no body (one write that cannot block) only once its response
//     head is later than 50 ms or its body must be waited for: until then
//     the read deadline is that short one, and when it passes the context
//     is checked, then watched. Most requests never register with their
//     context, which costs five allocations.
//   - The head is parsed from the connection's read buffer: the common
//     field names are interned, the names and values of a head share one
//     string and the values one []string, written into the caller's map.
//     The request is written through a pooled bufio.Writer (a small request
//     goes out in one write), bodies both ways through pooled 32 KiB
//     buffers (reads of a whole buffer bypass the read buffer). A proxied
//     GET costs three allocations in the transport.
//   - Response framing follows RFC 9112: no body for HEAD, 1xx, 204, 304;
//     Transfer-Encoding chunked is the only coding supported (as in
//     net/http); a response with both it and Content-Length is refused
//     (KindBadResponse, as nginx does); several Content-Length values must be
//     equal; without either, the body runs until the connection closes
//     (not reused). Malformed heads (status line, field lines, obs-fold,
//     lengths, a head over MaxHeaderBytes, chunk framing) are KindBadResponse
//     and their connection is closed.
//   - A connection goes back to the pool only in a known state: the
//     whole request written, the body read to its end (or, at Close, its
//     rest already buffered), nothing more received, keep-alive
//     (HTTP/1.1 without `Connection: close`, HTTP/1.0 with keep-alive), and
//     the context hook not fired.
//
// # Known limits
//
//   - The whole request body is written before the response is read; an
//     upstream that answers early (413...) and closes or stops reading is
//     handled: when writing fails, a response already received is read
//     and returned (the connection is not reused). Full-duplex exchanges
//     (a response streamed while the request body still flows) are not
//     supported.
//   - Expect is not sent: the body follows the head at once (the client's
//     100-continue is answered by the server that received it).
//   - Only HTTP/1.1 (to HTTP/1.0 and 1.1 upstreams); no HTTP/2, no
//     proxies, no CONNECT tunnels; Transfer-Encoding other than chunked is
//     refused (KindBadResponse); gzip is passed through, never decoded.
//   - A request whose method, URI, Host, field names or values could inject
//     a field (CR, LF, NUL, or a name that is not a token) is refused with
//     ErrInvalidRequest before anything is sent.
//   - After Hijack (101 Switching Protocols), no deadline applies: the
//     caller owns the connection and its timeouts.
//   - Request trailers are sent only with a chunked body (ContentLength
//     -1), after Body's EOF.
//   - A TLS connection is closed without close_notify (the TCP connection
//     is closed directly, so that closing never blocks).
//   - The liveness probe takes any byte received on an idle connection for
//     a sign of trouble (a TLS record arriving then, e.g. a late session
//     ticket, discards the connection). Without a raw socket (a DialContext
//     returning a wrapped net.Conn, or off Linux) the probe is a read with
//     a 1µs deadline, which may miss a close: the retry on a new connection
//     covers it.
//   - Informational responses are all given to on1xx, 100 Continue
//     included (the upstream's, though Expect is not sent).
//   - Only one retry, on a new connection, for a request that failed on a
//     reused one; the choice of another server is the caller's.
package proxypass

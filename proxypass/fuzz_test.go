package proxypass

import (
	"bytes"
	"net/http"
	"testing"
)

// FuzzHeadParsing feeds arbitrary bytes to the head and chunk parsers:
// they must not panic, and accepted heads must hold only valid fields.
func FuzzHeadParsing(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"))
	f.Add([]byte("HTTP/1.0 404\nA:b\n\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nX: \x00\r\n\r\n"))
	f.Add([]byte("5;a=b\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseChunkSize(b)
		end := headEnd(b, 0)
		if end < 0 {
			return
		}
		head := b[:end]
		nl := bytes.IndexByte(head, '\n')
		if _, _, ok := parseStatusLine(head[:nl]); !ok {
			return
		}
		h := http.Header{}
		if err := parseFields(head[nl+1:], h); err != nil {
			return
		}
		for k, vs := range h {
			if !isToken(k) {
				t.Fatalf("name %q", k)
			}
			for _, v := range vs {
				if bytes.ContainsAny([]byte(v), "\r\n\x00") {
					t.Fatalf("value %q", v)
				}
			}
		}
		isChunked(h["Transfer-Encoding"])
		if cl := h["Content-Length"]; cl != nil {
			parseContentLength(cl)
		}
		stripHopByHop(h, false)
	})
}

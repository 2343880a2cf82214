package integration

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBodyFilterStreaming: a body_filter keeps a streamed response
// streaming. The backend writes each chunk, flushes, and writes the next
// one only once the client has received the previous one through the
// gateway (or after a 3s timeout, which then fails the test).
func TestBodyFilterStreaming(t *testing.T) {
	const chunks = 3
	acks := make(chan int, chunks)
	var written atomic.Int32
	be := newBackend(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for i := 1; i <= chunks; i++ {
			if i > 1 {
				select {
				case <-acks:
				case <-time.After(3 * time.Second):
				case <-r.Context().Done():
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			fmt.Fprintf(w, "chunk-%d;", i)
			written.Store(int32(i))
			w.(http.Flusher).Flush()
		}
	})
	g := newGateway(t)
	g.load(cfg{global: "shared_dict seen 1m", backend: be.addr, site: proxied(
		lua("header_filter", `ngx.header["X-Filtered"] = "yes"`),
		lua("body_filter", `ngx.arg[1] = string.upper(ngx.arg[1])`),
		markLog)})

	resp, err := client.Get(gwURL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Filtered") != "yes" {
		t.Fatalf("status %d, X-Filtered %q", resp.StatusCode, resp.Header.Get("X-Filtered"))
	}
	var got strings.Builder
	buf := make([]byte, 64)
	for i := 1; i <= chunks; i++ {
		want := fmt.Sprintf("CHUNK-%d;", i)
		for !strings.HasSuffix(got.String(), want) {
			n, err := resp.Body.Read(buf)
			got.Write(buf[:n])
			if err != nil && !(err == io.EOF && strings.HasSuffix(got.String(), want)) {
				t.Fatalf("reading chunk %d: %v (got %q)", i, err, got.String())
			}
		}
		if w := written.Load(); int(w) != i {
			t.Errorf("chunk %d reached the client only after the backend wrote chunk %d: the body is buffered", i, w)
		}
		acks <- i
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || len(rest) != 0 {
		t.Errorf("after the last chunk: %q, %v", rest, err)
	}
	if got.String() != "CHUNK-1;CHUNK-2;CHUNK-3;" {
		t.Errorf("body %q", got.String())
	}
	waitDict(t, "seen", "status:/stream", "200")
}

// TestContentStreaming: ngx.flush in content sends what was printed so far
// (through body_filter) while the handler goes on: the handler waits for
// the client to acknowledge the first part through a second request.
func TestContentStreaming(t *testing.T) {
	g := newGateway(t)
	g.load(cfg{global: "shared_dict gate 1m", site: resty(
		lua("content", `local d = ngx.shared.gate
if ngx.var.uri == "/ack" then
	d:set("ack", "yes")
	return ngx.say("acked")
end
ngx.say("part one")
ngx.flush(true)
for i = 1, 300 do
	if d:get("ack") then break end
	ngx.sleep(0.01)
end
ngx.say("part two, ack=", tostring(d:get("ack")))`),
		lua("body_filter", `ngx.arg[1] = string.upper(ngx.arg[1])`))})

	resp, err := client.Get(gwURL + "/content-stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "PART ONE\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	get(t, "/ack").expect(t, 200, "ACKED\n")
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "PART TWO, ACK=YES\n" {
		t.Errorf("rest %q, %v", rest, err)
	}
}

// TestWebsocketThroughResty: a websocket upgrade passes through a resty
// handler that has header_filter, body_filter and log phases, and frames
// flow both ways.
func TestWebsocketThroughResty(t *testing.T) {
	be := newBackend(t, false, wsEchoBackend)
	g := newGateway(t)
	g.load(cfg{global: "shared_dict ws 1m", backend: be.addr, site: proxied(
		lua("header_filter", `ngx.header["X-Gateway"] = "caddy-resty"`),
		lua("body_filter", `ngx.arg[1] = string.upper(ngx.arg[1])`),
		lua("log", `ngx.shared.ws:set("status", ngx.status)`))})

	conn, err := net.DialTimeout("tcp", gwAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	key := make([]byte, 16)
	rand.Read(key)
	wsKey := base64.StdEncoding.EncodeToString(key)
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", wsKey)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d %q, want 101", resp.StatusCode, body)
	}
	if got, want := resp.Header.Get("Sec-Websocket-Accept"), wsAccept(wsKey); got != want {
		t.Errorf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
	if got := resp.Header.Get("X-Gateway"); got != "caddy-resty" {
		t.Errorf("header_filter did not run on the 101: X-Gateway %q", got)
	}
	for _, msg := range []string{"hello websocket", "second frame"} {
		if err := wsWriteText(conn, msg, true); err != nil {
			t.Fatal(err)
		}
		got, err := wsReadText(br)
		if err != nil {
			t.Fatalf("reading echo: %v", err)
		}
		if got != "echo: "+msg {
			t.Errorf("echo %q, want %q (frames must pass unfiltered)", got, "echo: "+msg)
		}
	}
	conn.Close()
	// The log phase runs once the tunnel closed.
	waitDict(t, "ws", "status", "101")
}

// wsAccept computes Sec-WebSocket-Accept for a key (RFC 6455).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsHandshake completes a websocket handshake on the hijacked connection
// of w, with deadline d; ok is false when the request was refused or the
// connection failed.
func wsHandshake(w http.ResponseWriter, r *http.Request, d time.Duration) (conn net.Conn, brw *bufio.ReadWriter, ok bool) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") ||
		!strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") {
		http.Error(w, "websocket only", http.StatusBadRequest)
		return nil, nil, false
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, false
	}
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	if brw.Flush() != nil {
		conn.Close()
		return nil, nil, false
	}
	conn.SetDeadline(time.Now().Add(d))
	return conn, brw, true
}

// wsEchoBackend answers a websocket handshake and echoes text frames with
// an "echo: " prefix until the client goes away.
func wsEchoBackend(w http.ResponseWriter, r *http.Request) {
	conn, brw, ok := wsHandshake(w, r, 15*time.Second)
	if !ok {
		return
	}
	defer conn.Close()
	for {
		msg, err := wsReadText(brw.Reader)
		if err != nil {
			return
		}
		if wsWriteText(conn, "echo: "+msg, false) != nil {
			return
		}
	}
}

// wsWriteText writes one text frame, masked as a client must.
func wsWriteText(w io.Writer, msg string, mask bool) error {
	if len(msg) > 125 {
		return errors.New("frame too long for this test")
	}
	frame := []byte{0x81, byte(len(msg))}
	payload := []byte(msg)
	if mask {
		frame[1] |= 0x80
		var key [4]byte
		rand.Read(key[:])
		frame = append(frame, key[:]...)
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	_, err := w.Write(append(frame, payload...))
	return err
}

// wsReadText reads one text frame (short payloads only).
func wsReadText(r *bufio.Reader) (string, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", err
	}
	if hdr[0]&0x0f != 1 {
		return "", fmt.Errorf("opcode %d, want a text frame", hdr[0]&0x0f)
	}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return "", err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		return "", errors.New("frame too long for this test")
	}
	var key [4]byte
	masked := hdr[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return "", err
		}
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return "", err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return string(payload), nil
}

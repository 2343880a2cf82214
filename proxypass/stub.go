package proxypass

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

type Options struct {
	ConnectTimeout, SendTimeout, ReadTimeout time.Duration
	MaxIdlePerTarget                         int
	IdleTimeout                              time.Duration
	MaxHeaderBytes                           int
	TLS                                      *tls.Config
	DialContext                              func(ctx context.Context, network, addr string) (net.Conn, error)
}
type Transport struct{}

func New(o Options) *Transport  { return nil }
func (t *Transport) Close() error { return nil }

type Target struct {
	Addr       string
	TLS        bool
	ServerName string
}
type Field struct{ Name, Value string }
type Request struct {
	Method, URI, Host string
	Header            http.Header
	Set               []Field
	Upgrade           string
	Body              io.Reader
	ContentLength     int64
	Trailer           http.Header
}
type Response struct {
	Status        int
	Header        http.Header
	ContentLength int64
	Trailer       http.Header
}

func (t *Transport) Do(ctx context.Context, tg Target, req *Request, into http.Header, on1xx func(code int, h http.Header) error) (*Exchange, error) {
	return nil, nil
}

type Exchange struct{}

func (x *Exchange) Response() *Response                              { return nil }
func (x *Exchange) Reused() bool                                     { return false }
func (x *Exchange) ConnectTime() time.Duration                       { return 0 }
func (x *Exchange) CopyBody(w io.Writer, flush func() error) (int64, error) { return 0, nil }
func (x *Exchange) Hijack() (net.Conn, *bufio.Reader)                { return nil, nil }
func (x *Exchange) Close()                                           {}

type Kind int

const (
	KindConnect Kind = iota
	KindConnectTimeout
	KindSend
	KindSendTimeout
	KindReadTimeout
	KindReset
	KindBadResponse
	KindClientBody
	KindCanceled
)

type Error struct {
	Kind     Kind
	Addr     string
	BodySent bool
	Err      error
}

func (e *Error) Error() string        { return "" }
func (e *Error) Timeout() bool        { return false }
func (e *Error) BeforeResponse() bool { return false }

var ErrClientWrite = errors.New("x")

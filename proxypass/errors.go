package proxypass

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
)

// Kind classifies a transport failure the way nginx's
// proxy_next_upstream does (error, timeout, invalid_header), plus the
// failures that are not the upstream's doing (the client's body, the
// client going away).
type Kind int

const (
	// KindConnect: dialing or the TLS handshake failed (nginx "error").
	KindConnect Kind = iota
	// KindConnectTimeout: dialing and the TLS handshake took longer than
	// Options.ConnectTimeout.
	KindConnectTimeout
	// KindSend: writing the request failed.
	KindSend
	// KindSendTimeout: a write to the upstream stalled longer than
	// Options.SendTimeout.
	KindSendTimeout
	// KindReadTimeout: the upstream sent nothing for Options.ReadTimeout,
	// while the response head was awaited or between body reads.
	KindReadTimeout
	// KindReset: the upstream closed or reset the connection, before the
	// response head (nginx "error") or in the middle of the body (the
	// response is cut short).
	KindReset
	// KindBadResponse: the response is malformed: status line, field,
	// Content-Length, Transfer-Encoding, head over Options.MaxHeaderBytes,
	// chunk framing (nginx "invalid_header").
	KindBadResponse
	// KindClientBody: reading the request body from the client failed
	// (the client's fault, not the upstream's).
	KindClientBody
	// KindCanceled: the request's context ended (the client went away),
	// or forwarding an informational response to the client failed.
	KindCanceled
)

var kindNames = [...]string{
	KindConnect:        "connect",
	KindConnectTimeout: "connect timeout",
	KindSend:           "send",
	KindSendTimeout:    "send timeout",
	KindReadTimeout:    "read timeout",
	KindReset:          "connection reset",
	KindBadResponse:    "bad response",
	KindClientBody:     "client body",
	KindCanceled:       "canceled",
}

// String returns a short lower-case name of the kind.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Error is a failure of an exchange with an upstream: every error Do and
// CopyBody return for the upstream's or the client's side is an *Error
// (requests refused before anything is sent are ErrInvalidRequest).
type Error struct {
	// Kind is the class of the failure.
	Kind Kind
	// Addr is the upstream's address (Target.Addr).
	Addr string
	// BodySent is set when at least one byte of the request body was read
	// from Request.Body (and so possibly sent): the request cannot be
	// sent again.
	BodySent bool
	// Err is the underlying error.
	Err error

	// gotResponse: a byte of the response was read before the failure.
	gotResponse bool
}

// Error implements error.
func (e *Error) Error() string {
	s := "proxypass: " + e.Kind.String()
	if e.Addr != "" {
		s += " (" + e.Addr + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the failure is a timeout (connect, send or read).
func (e *Error) Timeout() bool {
	switch e.Kind {
	case KindConnectTimeout, KindSendTimeout, KindReadTimeout:
		return true
	}
	return false
}

// BeforeResponse reports whether no byte of the response had been read
// when the failure happened (the upstream said nothing).
func (e *Error) BeforeResponse() bool { return !e.gotResponse }

// ErrClientWrite is wrapped by the errors CopyBody returns when writing
// to (or flushing) the client failed, and by the error Do returns when
// the on1xx callback failed.
var ErrClientWrite = errors.New("proxypass: writing to the client failed")

// ErrClosed is wrapped by the errors of Do once the Transport is closed.
var ErrClosed = errors.New("proxypass: transport closed")

// ErrInvalidRequest is wrapped by the error Do returns, before anything
// is sent, for a request that cannot be written safely: a method, URI,
// Host, field name or field value with a CR, LF, NUL or other forbidden
// byte (header injection), or a field name that is not a token.
var ErrInvalidRequest = errors.New("proxypass: invalid request")

// clientWriteError wraps an error of the client's writer.
type clientWriteError struct{ err error }

func (e *clientWriteError) Error() string {
	return "proxypass: writing to the client: " + e.err.Error()
}
func (e *clientWriteError) Unwrap() error        { return e.err }
func (e *clientWriteError) Is(target error) bool { return target == ErrClientWrite }

// badResponse is the error of a malformed response.
type badResponse string

func (e badResponse) Error() string { return string(e) }

// isTimeout reports whether err is a deadline's.
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// eofToUnexpected turns io.EOF into io.ErrUnexpectedEOF: the connection
// ended where more was due.
func eofToUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

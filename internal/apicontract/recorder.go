package apicontract

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// Exchange is one request a server answered, and its answer.
type Exchange struct {
	Request  Request
	Response Response
}

// Request is a recorded request.
type Request struct {
	Method string
	// URL is the request URL as the server saw it (path and query; the
	// scheme and host are filled from the request's Host when known).
	URL    *url.URL
	Header http.Header
	Body   []byte
}

// Response is a recorded response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Recorder is an http.Handler that serves through another handler and
// records every exchange. It is safe for concurrent use.
type Recorder struct {
	next http.Handler

	mu        sync.Mutex
	exchanges []Exchange
}

// NewRecorder returns a Recorder serving through h.
func NewRecorder(h http.Handler) *Recorder {
	return &Recorder{next: h}
}

// ServeHTTP serves r through the wrapped handler and records the exchange.
func (rec *Recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var reqBody []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "apicontract: reading request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		_ = r.Body.Close()
		reqBody = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	u := *r.URL
	if u.Host == "" {
		u.Host = r.Host
	}
	if u.Scheme == "" {
		u.Scheme = "http"
		if r.TLS != nil {
			u.Scheme = "https"
		}
	}
	req := Request{Method: r.Method, URL: &u, Header: r.Header.Clone(), Body: reqBody}

	cw := &captureWriter{ResponseWriter: w}
	rec.next.ServeHTTP(cw, r)
	if !cw.wroteHeader {
		cw.WriteHeader(http.StatusOK)
	}

	rec.mu.Lock()
	rec.exchanges = append(rec.exchanges, Exchange{
		Request:  req,
		Response: Response{Status: cw.status, Header: cw.header, Body: cw.body.Bytes()},
	})
	rec.mu.Unlock()
}

// Exchanges returns a copy of the exchanges recorded so far, in the order
// their responses finished.
func (rec *Recorder) Exchanges() []Exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := make([]Exchange, len(rec.exchanges))
	copy(out, rec.exchanges)
	return out
}

// Reset forgets the exchanges recorded so far.
func (rec *Recorder) Reset() {
	rec.mu.Lock()
	rec.exchanges = nil
	rec.mu.Unlock()
}

// captureWriter passes a response through and keeps a copy of it.
type captureWriter struct {
	http.ResponseWriter
	wroteHeader bool
	status      int
	header      http.Header
	body        bytes.Buffer
}

func (cw *captureWriter) WriteHeader(status int) {
	if cw.wroteHeader {
		return
	}
	cw.wroteHeader = true
	cw.status = status
	cw.header = cw.ResponseWriter.Header().Clone()
	cw.ResponseWriter.WriteHeader(status)
}

func (cw *captureWriter) Write(p []byte) (int, error) {
	if !cw.wroteHeader {
		cw.WriteHeader(http.StatusOK)
	}
	cw.body.Write(p)
	return cw.ResponseWriter.Write(p)
}

// Flush lets streaming handlers flush through the recorder.
func (cw *captureWriter) Flush() {
	if f, ok := cw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (cw *captureWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }

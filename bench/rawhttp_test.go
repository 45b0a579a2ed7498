package bench_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loopml/loopml/bench"
)

func TestRawClient(t *testing.T) {
	var got atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("POST /length", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(r.Header.Get("Content-Type") + " " + string(b))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"predictions":[1.5]}`))
	})
	mux.HandleFunc("POST /chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			_, _ = w.Write([]byte(strings.Repeat("x", 5000)))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("POST /close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("busy"))
	})
	mux.HandleFunc("POST /empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		path   string
		status int
	}{{"/length", 200}, {"/chunked", 200}, {"/close", 503}, {"/empty", 204}, {"/missing", 404}} {
		c, err := bench.NewRawClient(srv.URL+tc.path, "application/json", []byte(`{"a": 1}`))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 { // the same connection, or a new one after a close
			status, err := c.Do(ctx)
			if err != nil || status != tc.status {
				t.Fatalf("%s #%d: status %d, err %v; want %d", tc.path, i, status, err, tc.status)
			}
		}
		c.Close()
	}
	if g := got.Load(); g != `application/json {"a": 1}` {
		t.Fatalf("server saw %q", g)
	}
	if _, err := bench.NewRawClient("https://127.0.0.1:1/x", "text/csv", nil); err == nil {
		t.Fatal("https accepted")
	}
}

// TestRawClientErrors checks that a server that closes the connection
// mid-response or answers garbage is an error, and that the client
// recovers on the next request.
func TestRawClientErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	answers := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", // closed before the end of the body
		"garbage\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
	}
	go func() {
		for _, a := range answers {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = conn.Read(buf)
			_, _ = conn.Write([]byte(a))
			conn.Close()
		}
	}()
	c, err := bench.NewRawClient("http://"+ln.Addr().String()+"/p", "application/json", []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 3 {
		if status, err := c.Do(ctx); err == nil {
			t.Fatalf("answer %d: status %d and no error", i, status)
		}
	}
	if status, err := c.Do(ctx); err != nil || status != 201 {
		t.Fatalf("after errors: status %d, err %v", status, err)
	}
}

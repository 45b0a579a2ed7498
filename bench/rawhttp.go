package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// RawClient sends one prebuilt HTTP/1.1 request over one keep-alive TCP
// connection and reads the response, at a fraction of net/http's CPU cost
// per request. A load generator shares the cores of the machine with the
// server it measures (loopback benchmarks on a small machine), so the
// cheaper its client, the more of the machine the server gets and the less
// of the latency measured is the generator's own; wrk is cheap for the same
// reason. It understands what a server may answer to a POST: a body
// framed by Content-Length, chunked, or ended by the closing of the
// connection, and "Connection: close"; it redials after any error. Plain
// http only. A RawClient is not safe for concurrent use: give each worker
// its own.
type RawClient struct {
	addr string
	req  []byte
	conn net.Conn
	br   *bufio.Reader
	line []byte
}

// NewRawClient returns a client that POSTs body to rawURL (http only) with
// the given Content-Type. It does not connect until the first Do.
func NewRawClient(rawURL, contentType string, body []byte) (*RawClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("raw client: %s: only http URLs", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: loopml-bench\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		u.RequestURI(), u.Host, contentType, len(body))
	b.Write(body)
	return &RawClient{addr: addr, req: b.Bytes()}, nil
}

// Do sends the request and reads the whole response; it returns the
// response's status code. ctx's deadline, if any, bounds the exchange.
func (c *RawClient) Do(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if c.conn == nil {
		d := net.Dialer{Timeout: rawDialTimeout}
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.br.Reset(conn)
		}
	}
	dl, _ := ctx.Deadline()
	_ = c.conn.SetDeadline(dl) // zero: none
	status, keep, err := c.exchange()
	if err != nil || !keep {
		c.Close()
	}
	return status, err
}

// Close closes the connection; the next Do dials again.
func (c *RawClient) Close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

// errMalformed is a response this client cannot read.
var errMalformed = errors.New("raw client: malformed response")

// exchange writes the request and reads one response; keep is false when
// the connection cannot be used again.
func (c *RawClient) exchange() (status int, keep bool, err error) {
	if _, err := c.conn.Write(c.req); err != nil {
		return 0, false, err
	}
	line, err := c.readLine()
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	keep = line[7] == '1'
	length, chunked := int64(-1), false
	for {
		h, err := c.readLine()
		if err != nil {
			return status, false, err
		}
		if len(h) == 0 {
			break
		}
		colon := bytes.IndexByte(h, ':')
		if colon < 0 {
			return status, false, fmt.Errorf("%w: header %q", errMalformed, h)
		}
		name, value := h[:colon], bytes.TrimSpace(h[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return status, false, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				keep = true
			}
		}
	}
	switch {
	case status == 204 || status == 304 || status/100 == 1:
		return status, keep, nil
	case chunked:
		return status, keep, c.discardChunks()
	case length >= 0:
		_, err := c.br.Discard(int(length))
		return status, keep, err
	default: // the body ends when the server closes the connection
		_, err := io.Copy(io.Discard, c.br)
		return status, false, err
	}
}

// discardChunks reads a chunked body and its trailer.
func (c *RawClient) discardChunks() error {
	for {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if n == 0 {
			for {
				t, err := c.readLine()
				if err != nil || len(t) == 0 {
					return err
				}
			}
		}
		if _, err := c.br.Discard(int(n)); err != nil {
			return err
		}
		if crlf, err := c.readLine(); err != nil || len(crlf) != 0 {
			return fmt.Errorf("%w: chunk not followed by CRLF", errMalformed)
		}
	}
}

// readLine reads one line without its CRLF (or LF); the slice is valid
// until the next read.
func (c *RawClient) readLine() ([]byte, error) {
	c.line = c.line[:0]
	for {
		frag, err := c.br.ReadSlice('\n')
		c.line = append(c.line, frag...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(c.line) > 1<<20 {
			return nil, fmt.Errorf("%w: line longer than 1 MiB", errMalformed)
		}
	}
	return bytes.TrimRight(c.line, "\r\n"), nil
}

// rawDialTimeout bounds a dial when the context has no deadline.
const rawDialTimeout = 5 * time.Second

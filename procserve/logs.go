package procserve

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// tailLines is how many of the child's last output lines error messages
// quote.
const tailLines = 5

// maxLine bounds one logged line; longer ones are cut into pieces.
const maxLine = 16 << 10

// lineLog turns the child's stdout and stderr into log records, one per
// line, and remembers the last lines for error messages.
type lineLog struct {
	log   *slog.Logger
	label string

	mu   sync.Mutex
	tail []string
	ws   []*lineWriter
}

func newLineLog(log *slog.Logger, label string) *lineLog {
	return &lineLog{log: log, label: label}
}

// writer returns the io.Writer of one stream.
func (l *lineLog) writer(stream string) io.Writer {
	w := &lineWriter{l: l, stream: stream}
	l.mu.Lock()
	l.ws = append(l.ws, w)
	l.mu.Unlock()
	return w
}

func (l *lineLog) emit(stream string, line []byte) {
	s := strings.TrimRight(string(line), "\r")
	l.log.Info("model process output", "model", l.label, "stream", stream, "line", s)
	l.mu.Lock()
	if len(l.tail) == tailLines {
		copy(l.tail, l.tail[1:])
		l.tail = l.tail[:tailLines-1]
	}
	l.tail = append(l.tail, s)
	l.mu.Unlock()
}

// flush emits the unfinished last lines once the process has exited.
func (l *lineLog) flush() {
	l.mu.Lock()
	ws := l.ws
	l.mu.Unlock()
	for _, w := range ws {
		w.mu.Lock()
		if len(w.buf) > 0 {
			l.emit(w.stream, w.buf)
			w.buf = nil
		}
		w.mu.Unlock()
	}
}

// suffix is "; last output: a | b" for error messages, or "".
func (l *lineLog) suffix() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.tail) == 0 {
		return ""
	}
	s := strings.Join(l.tail, " | ")
	if len(s) > 1000 {
		s = "..." + s[len(s)-1000:]
	}
	return "; last output: " + s
}

type lineWriter struct {
	l      *lineLog
	stream string
	mu     sync.Mutex
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) >= maxLine {
				w.l.emit(w.stream, w.buf)
				w.buf = w.buf[:0]
			}
			break
		}
		if len(w.buf) > 0 {
			w.buf = append(w.buf, p[:i]...)
			w.l.emit(w.stream, w.buf)
			w.buf = w.buf[:0]
		} else {
			w.l.emit(w.stream, p[:i])
		}
		p = p[i+1:]
	}
	return n, nil
}

package procserve

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/loopml/loopml"
)

// The format keys of MLflow scoring requests.
const (
	keySplit     = "dataframe_split"
	keyRecords   = "dataframe_records"
	keyInstances = "instances"
	keyInputs    = "inputs"
)

// maxInflightFactor bounds merged requests in flight at
// maxInflightFactor × Batch.Concurrency: past it requests wait for a slot
// even when their max_wait has passed.
const maxInflightFactor = 2

// rowsRequest is a scoring request that can be merged: its rows and the
// shape they share with every request it may merge with.
type rowsRequest struct {
	format  string            // keySplit, keyRecords, keyInstances or keyInputs
	key     string            // requests merge only with equal keys
	columns json.RawMessage   // dataframe_split's "columns", nil when absent
	rows    []json.RawMessage // one JSON value per row
}

// parseRows reads a JSON scoring body as mergeable rows. It returns false
// for everything it does not merge: other content types, "params", keys
// besides the one format key, dataframe_split with "index", lists that
// are empty or mix shapes, columnar "inputs" objects, invalid JSON.
func parseRows(ctype string, body []byte) (*rowsRequest, bool) {
	if mt, _, err := mime.ParseMediaType(ctype); err != nil || mt != "application/json" {
		return nil, false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || len(top) != 1 {
		return nil, false
	}
	rr := &rowsRequest{}
	var raw json.RawMessage
	for k, v := range top {
		rr.format, raw = k, v
	}
	switch rr.format {
	case keySplit:
		var split map[string]json.RawMessage
		if json.Unmarshal(raw, &split) != nil {
			return nil, false
		}
		for k := range split {
			if k != "columns" && k != "data" {
				return nil, false
			}
		}
		if c, ok := split["columns"]; ok {
			var cols []json.RawMessage
			if json.Unmarshal(c, &cols) != nil {
				return nil, false
			}
			rr.columns = compact(c)
		}
		if json.Unmarshal(split["data"], &rr.rows) != nil || len(rr.rows) == 0 {
			return nil, false
		}
		width := -1
		for _, row := range rr.rows {
			var cells []json.RawMessage
			if json.Unmarshal(row, &cells) != nil || width >= 0 && len(cells) != width {
				return nil, false
			}
			width = len(cells)
		}
		rr.key = keySplit + "\x00" + string(rr.columns) + "\x00" + strconv.Itoa(width)
	case keyRecords, keyInstances, keyInputs:
		if json.Unmarshal(raw, &rr.rows) != nil || len(rr.rows) == 0 {
			return nil, false
		}
		shape := ""
		for i, row := range rr.rows {
			s, ok := rowShape(row)
			if !ok || i > 0 && s != shape || rr.format == keyRecords && (s == "" || s[0] != '{') {
				return nil, false
			}
			shape = s
		}
		rr.key = rr.format + "\x00" + shape
	default:
		return nil, false
	}
	return rr, true
}

// rowShape describes a row so that rows of one shape form a valid table:
// an object by its keys in order, a list by its length and its first
// element's kind, a scalar by its kind.
func rowShape(row json.RawMessage) (string, bool) {
	row = bytes.TrimSpace(row)
	if len(row) == 0 {
		return "", false
	}
	switch row[0] {
	case '{':
		dec := json.NewDecoder(bytes.NewReader(row))
		if _, err := dec.Token(); err != nil {
			return "", false
		}
		var b bytes.Buffer
		b.WriteByte('{')
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return "", false
			}
			ks, _ := k.(string)
			b.WriteString(strconv.Quote(ks))
			b.WriteByte(',')
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return "", false
			}
		}
		return b.String(), true
	case '[':
		var cells []json.RawMessage
		if json.Unmarshal(row, &cells) != nil {
			return "", false
		}
		s := "[" + strconv.Itoa(len(cells))
		if len(cells) > 0 {
			inner, ok := rowShape(cells[0])
			if !ok {
				return "", false
			}
			s += ":" + inner
		}
		return s, true
	case '"':
		return "s", true
	case 't', 'f':
		return "b", true
	case 'n':
		return "n", true
	default:
		return "0", true
	}
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// mergeRows builds one scoring body from requests of one key.
func mergeRows(items []*pending) []byte {
	first := items[0].rr
	var b bytes.Buffer
	b.WriteString(`{"`)
	b.WriteString(first.format)
	b.WriteString(`":`)
	if first.format == keySplit {
		b.WriteByte('{')
		if first.columns != nil {
			b.WriteString(`"columns":`)
			b.Write(first.columns)
			b.WriteByte(',')
		}
		b.WriteString(`"data":`)
	}
	b.WriteByte('[')
	n := 0
	for _, it := range items {
		for _, row := range it.rr.rows {
			if n > 0 {
				b.WriteByte(',')
			}
			b.Write(row)
			n++
		}
	}
	b.WriteByte(']')
	if first.format == keySplit {
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes()
}

// splitPredictions cuts a merged answer {"predictions": [...]} into one
// body per request; false when the answer is not a list of one entry per
// row.
func splitPredictions(body []byte, items []*pending) ([][]byte, bool) {
	var top struct {
		Predictions []json.RawMessage `json:"predictions"`
	}
	if json.Unmarshal(body, &top) != nil {
		return nil, false
	}
	total := 0
	for _, it := range items {
		total += len(it.rr.rows)
	}
	if len(top.Predictions) != total {
		return nil, false
	}
	out := make([][]byte, len(items))
	at := 0
	for i, it := range items {
		var b bytes.Buffer
		b.WriteString(`{"predictions":[`)
		for j, p := range top.Predictions[at : at+len(it.rr.rows)] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(p)
		}
		b.WriteString("]}\n")
		at += len(it.rr.rows)
		out[i] = b.Bytes()
	}
	return out, true
}

// pending is one request waiting in the batcher.
type pending struct {
	rr    *rowsRequest
	ctype string
	body  []byte
	enq   time.Time
	done  chan outcome // buffered: the batch never blocks on a caller
}

// outcome is what a request gets from its batch.
type outcome struct {
	reply *reply
	err   error
	alone bool // the merged batch failed: send the request by itself
}

// batcher merges concurrent scoring requests (see the package doc).
type batcher struct {
	rt          *Runtime
	maxRows     int
	maxWait     time.Duration
	concurrency int

	mu       sync.Mutex
	queue    []*pending
	rows     int // rows in queue
	inflight int
	timer    *time.Timer
	timerAt  time.Time // when timer fires; zero when not armed
}

func newBatcher(rt *Runtime, cfg *Batch) *batcher {
	b := &batcher{rt: rt, maxRows: cfg.MaxRows, maxWait: cfg.MaxWait, concurrency: cfg.Concurrency}
	if b.maxRows == 0 {
		b.maxRows = DefaultMaxRows
	}
	if b.maxWait == 0 {
		b.maxWait = DefaultMaxWait
	}
	if b.concurrency == 0 {
		b.concurrency = 1
	}
	b.timer = time.AfterFunc(time.Hour, b.fire)
	b.timer.Stop()
	return b
}

// serve answers one POST /invocations.
func (b *batcher) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, loopml.Errorf(loopml.ETOOLARGE, "request body is larger than %d bytes", mbe.Limit))
		} else {
			writeError(w, loopml.WrapError(loopml.EINVALID, err, "read request body"))
		}
		return
	}
	ctype := r.Header.Get("Content-Type")
	rr, ok := parseRows(ctype, body)
	if !ok || b.rt.cur.Load() == nil {
		rep, err := b.rt.post(r.Context(), ctype, body)
		writeReply(w, rep, err)
		return
	}
	p := &pending{rr: rr, ctype: ctype, body: body, enq: time.Now(), done: make(chan outcome, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	b.rows += len(rr.rows)
	batch := b.take()
	var others [][]*pending
	if batch != nil && (len(batch) != 1 || batch[0] != p) {
		others, batch = append(others, batch), nil
	}
	for next := b.take(); next != nil; next = b.take() {
		others = append(others, next)
	}
	b.arm()
	b.mu.Unlock()
	for _, o := range others {
		go b.send(o)
	}
	if batch != nil {
		b.send(batch) // idle: p alone, at once, on this goroutine
	}
	select {
	case o := <-p.done:
		if o.alone {
			o.reply, o.err = b.rt.post(r.Context(), ctype, body)
		}
		writeReply(w, o.reply, o.err)
	case <-r.Context().Done():
	}
}

// take removes the next batch from the queue when one is due: at once
// while fewer than concurrency batches are in flight, else when max_rows
// rows wait or the oldest request has waited max_wait. The caller holds mu
// and sends the batch.
func (b *batcher) take() []*pending {
	if len(b.queue) == 0 || b.inflight >= maxInflightFactor*b.concurrency {
		return nil
	}
	if b.inflight >= b.concurrency && b.rows < b.maxRows && time.Since(b.queue[0].enq) < b.maxWait {
		return nil
	}
	key := b.queue[0].rr.key
	var batch []*pending
	rows := 0
	keep := b.queue[:0]
	for _, p := range b.queue {
		n := len(p.rr.rows)
		if p.rr.key == key && (rows == 0 || rows+n <= b.maxRows) {
			batch = append(batch, p)
			rows += n
		} else {
			keep = append(keep, p)
		}
	}
	clear(b.queue[len(keep):])
	b.queue = keep
	b.rows -= rows
	b.inflight++
	return batch
}

// arm sets the timer for the oldest queued request's max_wait. The
// caller holds mu.
func (b *batcher) arm() {
	if len(b.queue) == 0 || b.inflight >= maxInflightFactor*b.concurrency {
		return
	}
	at := b.queue[0].enq.Add(b.maxWait)
	if !b.timerAt.IsZero() && !b.timerAt.After(at) {
		return
	}
	b.timerAt = at
	b.timer.Reset(max(time.Until(at), 0))
}

// fire sends what max_wait made due.
func (b *batcher) fire() {
	b.mu.Lock()
	b.timerAt = time.Time{}
	var batches [][]*pending
	for next := b.take(); next != nil; next = b.take() {
		batches = append(batches, next)
	}
	b.arm()
	b.mu.Unlock()
	for _, batch := range batches {
		go b.send(batch)
	}
}

// send posts one batch, hands every request its outcome, then starts what
// became due.
func (b *batcher) send(batch []*pending) {
	ctx := b.rt.ctx
	if len(batch) == 1 {
		p := batch[0]
		rep, err := b.rt.post(ctx, p.ctype, p.body)
		p.done <- outcome{reply: rep, err: err}
	} else {
		rep, err := b.rt.post(ctx, "application/json", mergeRows(batch))
		switch {
		case err != nil:
			for _, p := range batch {
				p.done <- outcome{err: err}
			}
		case rep.status != http.StatusOK:
			for _, p := range batch {
				p.done <- outcome{alone: true}
			}
		default:
			parts, ok := splitPredictions(rep.body, batch)
			for i, p := range batch {
				if ok {
					p.done <- outcome{reply: &reply{status: http.StatusOK, ctype: "application/json", body: parts[i]}}
				} else {
					p.done <- outcome{alone: true}
				}
			}
		}
	}
	b.mu.Lock()
	b.inflight--
	var batches [][]*pending
	for next := b.take(); next != nil; next = b.take() {
		batches = append(batches, next)
	}
	b.arm()
	b.mu.Unlock()
	for _, next := range batches {
		go b.send(next)
	}
}

// writeReply writes a child's answer or the error of a request it did not
// answer.
func writeReply(w http.ResponseWriter, rep *reply, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	if rep.ctype != "" {
		w.Header().Set("Content-Type", rep.ctype)
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

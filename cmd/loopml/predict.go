package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

// predictOptions are the flags of `loopml predict`.
type predictOptions struct {
	endpoint  string
	input     string
	output    string
	url       string
	batchSize int
	parallel  int
	retries   int
	timeout   time.Duration
}

func newPredictCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o predictOptions
	cmd := &cobra.Command{
		Use:   "predict --endpoint NAME --input rows.csv|rows.jsonl --output out.jsonl",
		Short: "Batch inference: score a CSV or JSON-lines file through a serving endpoint",
		Long: `Score every row of a CSV file (with a header) or a JSON-lines file (one
JSON object per line) through a serving endpoint of a running server
(loopml server --endpoints, or loopml serve), in batches sent in parallel
to POST /endpoints/NAME/invocations.

Each output line is {"row": N, "prediction": ...} (N counts data rows from
0) or {"row": N, "error": "..."} when the server refused the row's batch
as bad input. Output lines are appended as batches finish, so their order
is not the input order.

Resumable: re-running with the same --output skips the rows already in it
(a partial last line, from an interrupted run, is discarded first).
Network errors and 5xx answers are retried; when they persist the command
fails and a re-run continues where it stopped.`,
		Example: `  loopml predict --endpoint recs --input ratings.csv --output scores.jsonl
  loopml predict --endpoint recs --input rows.jsonl --output out.jsonl --url http://10.0.0.5:5000 --parallel 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.url == "" {
				o.url, _ = getenv(trackingURIEnv)
			}
			if o.url == "" {
				o.url = "http://127.0.0.1:5000"
			}
			st, err := runPredict(cmd.Context(), o, http.DefaultTransport)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d rows predicted, %d refused, %d already in %s (%d requests, %s)\n",
				st.predicted, st.refused, st.skipped, o.output, st.requests, st.elapsed.Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.endpoint, "endpoint", "", "serving endpoint name (required)")
	f.StringVar(&o.input, "input", "", "input file: .csv (header row) or .jsonl/.ndjson (one JSON object per line) (required)")
	f.StringVar(&o.output, "output", "", "output JSON-lines file; rows already in it are skipped (required)")
	f.StringVar(&o.url, "url", "", "base URL of the server that serves the endpoint (default $"+trackingURIEnv+", else http://127.0.0.1:5000)")
	f.IntVar(&o.batchSize, "batch-size", 256, "rows per request")
	f.IntVar(&o.parallel, "parallel", 2, "requests in flight")
	f.IntVar(&o.retries, "retries", 3, "retries of a batch after a network error or a 5xx/429 answer")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "timeout of one request")
	return cmd
}

// predictStats is what runPredict did.
type predictStats struct {
	predicted, refused, skipped int64
	requests                    int64
	elapsed                     time.Duration
}

// predictBatch is a batch of input rows: their indexes and the request
// body.
type predictBatch struct {
	rows        []int64
	body        []byte
	contentType string
	bad         map[int64]string // rows refused locally (not sent)
}

func (o predictOptions) validate() error {
	switch {
	case o.endpoint == "":
		return loopml.Errorf(loopml.EINVALID, "endpoint is required (--endpoint NAME)")
	case o.input == "":
		return loopml.Errorf(loopml.EINVALID, "input is required (--input rows.csv or rows.jsonl)")
	case o.output == "":
		return loopml.Errorf(loopml.EINVALID, "output is required (--output out.jsonl)")
	case o.batchSize <= 0 || o.batchSize > 100_000:
		return loopml.Errorf(loopml.EINVALID, "batch-size must be between 1 and 100000, got %d", o.batchSize)
	case o.parallel <= 0 || o.parallel > 256:
		return loopml.Errorf(loopml.EINVALID, "parallel must be between 1 and 256, got %d", o.parallel)
	case o.retries < 0:
		return loopml.Errorf(loopml.EINVALID, "retries must not be negative")
	case o.timeout <= 0:
		return loopml.Errorf(loopml.EINVALID, "timeout must be positive")
	}
	if u, err := url.Parse(o.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return loopml.Errorf(loopml.EINVALID, "url %q must be an http:// or https:// URL", o.url)
	}
	if filepath.Clean(o.input) == filepath.Clean(o.output) {
		return loopml.Errorf(loopml.EINVALID, "output must not be the input file")
	}
	return nil
}

// runPredict scores o.input into o.output.
func runPredict(ctx context.Context, o predictOptions, transport http.RoundTripper) (predictStats, error) {
	start := time.Now()
	var st predictStats
	if err := o.validate(); err != nil {
		return st, err
	}
	kind := ""
	switch strings.ToLower(filepath.Ext(o.input)) {
	case ".csv":
		kind = "csv"
	case ".jsonl", ".ndjson", ".json":
		kind = "jsonl"
	default:
		return st, loopml.Errorf(loopml.EINVALID, "input %q: the file name must end in .csv or .jsonl", o.input)
	}
	in, err := os.Open(o.input)
	if err != nil {
		return st, loopml.Errorf(loopml.EINVALID, "input: %v", err)
	}
	defer in.Close()
	done, err := resumeOutput(o.output)
	if err != nil {
		return st, err
	}
	out, err := os.OpenFile(o.output, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return st, loopml.Errorf(loopml.EINVALID, "output: %v", err)
	}
	defer out.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *predictBatch, o.parallel)
	var readErr error
	go func() {
		defer close(batches)
		if kind == "csv" {
			readErr = readCSVBatches(ctx, in, o.batchSize, done, &st.skipped, batches)
		} else {
			readErr = readJSONLBatches(ctx, in, o.batchSize, done, &st.skipped, batches)
		}
	}()

	client := &http.Client{Transport: transport, Timeout: o.timeout}
	target := strings.TrimRight(o.url, "/") + "/endpoints/" + url.PathEscape(o.endpoint) + "/invocations"
	var (
		mu       sync.Mutex // guards out, st and firstErr
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	for range o.parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for b := range batches {
				buf.Reset()
				var preds []json.RawMessage
				refusal := ""
				if len(b.rows) > 0 {
					var n int64
					var serr error
					preds, refusal, n, serr = sendBatch(ctx, client, target, b, o.retries)
					mu.Lock()
					st.requests += n
					mu.Unlock()
					if serr != nil {
						fail(serr)
						return
					}
				}
				for i, row := range b.rows {
					if refusal != "" {
						writeLine(&buf, row, "error", refusal)
					} else {
						writeLine(&buf, row, "prediction", preds[i])
					}
				}
				for row, msg := range b.bad {
					writeLine(&buf, row, "error", msg)
				}
				mu.Lock()
				_, werr := out.Write(buf.Bytes())
				if refusal != "" {
					st.refused += int64(len(b.rows))
				} else {
					st.predicted += int64(len(b.rows))
				}
				st.refused += int64(len(b.bad))
				mu.Unlock()
				if werr != nil {
					fail(loopml.Errorf(loopml.EINVALID, "output: %v", werr))
					return
				}
			}
		}()
	}
	wg.Wait()
	for range batches { // unblock the reader after a failure
	}
	st.elapsed = time.Since(start)
	if firstErr != nil {
		return st, firstErr
	}
	if readErr != nil {
		return st, readErr
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	return st, out.Sync()
}

// writeLine appends {"row": row, key: value}\n to buf.
func writeLine(buf *bytes.Buffer, row int64, key string, value any) {
	b, err := json.Marshal(map[string]any{"row": row, key: value})
	if err != nil {
		b, _ = json.Marshal(map[string]any{"row": row, "error": "prediction is not JSON: " + err.Error()})
	}
	buf.Write(b)
	buf.WriteByte('\n')
}

// resumeOutput reads the row indexes already in the output file and cuts a
// partial last line (an interrupted write) off it.
func resumeOutput(path string) (map[int64]bool, error) {
	done := map[int64]bool{}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return done, nil
	}
	if err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "output: %v", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var good int64 // bytes up to the end of the last complete line
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var v struct {
				Row *int64 `json:"row"`
			}
			if json.Unmarshal(line, &v) != nil || v.Row == nil {
				return nil, loopml.Errorf(loopml.EINVALID, "output %s: line at byte %d is not a loopml predict line: refusing to append to it", path, good)
			}
			done[*v.Row] = true
			good += int64(len(line))
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, loopml.Errorf(loopml.EINVALID, "output: %v", err)
		}
	}
	if err := f.Truncate(good); err != nil {
		return nil, loopml.Errorf(loopml.EINVALID, "output: discard the partial last line: %v", err)
	}
	return done, nil
}

// readCSVBatches reads a CSV file with a header and sends batches of the
// rows not in done as text/csv bodies.
func readCSVBatches(ctx context.Context, r io.Reader, size int, done map[int64]bool, skipped *int64, out chan<- *predictBatch) error {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<20))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return loopml.Errorf(loopml.EINVALID, "input: read the CSV header: %v", err)
	}
	header = append([]string(nil), header...)
	cr.FieldsPerRecord = len(header)
	var (
		b   *predictBatch
		buf bytes.Buffer
		cw  *csv.Writer
	)
	flush := func() bool {
		if b == nil {
			return true
		}
		cw.Flush()
		b.body = append([]byte(nil), buf.Bytes()...)
		select {
		case out <- b:
		case <-ctx.Done():
			return false
		}
		b = nil
		return true
	}
	for row := int64(0); ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return loopml.Errorf(loopml.EINVALID, "input: CSV row %d: %v", row, err)
		}
		if done[row] {
			*skipped++
			continue
		}
		if b == nil {
			b = &predictBatch{contentType: "text/csv"}
			buf.Reset()
			cw = csv.NewWriter(&buf)
			_ = cw.Write(header)
		}
		_ = cw.Write(rec)
		b.rows = append(b.rows, row)
		if len(b.rows) >= size && !flush() {
			return nil
		}
	}
	flush()
	return nil
}

// readJSONLBatches reads one JSON object per line and sends batches of the
// rows not in done as {"dataframe_records": [...]}. A line that is not a
// JSON object is answered locally with an error line. Blank lines are not
// rows.
func readJSONLBatches(ctx context.Context, r io.Reader, size int, done map[int64]bool, skipped *int64, out chan<- *predictBatch) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var b *predictBatch
	var buf bytes.Buffer
	flush := func() bool {
		if b == nil {
			return true
		}
		if len(b.rows) > 0 {
			buf.WriteString("]}")
			b.body = append([]byte(nil), buf.Bytes()...)
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return false
		}
		b = nil
		return true
	}
	row := int64(-1)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		row++
		if done[row] {
			*skipped++
			continue
		}
		if b == nil {
			b = &predictBatch{contentType: "application/json", bad: map[int64]string{}}
			buf.Reset()
			buf.WriteString(`{"dataframe_records": [`)
		}
		if line[0] != '{' || !json.Valid(line) {
			b.bad[row] = "input line is not a JSON object"
		} else {
			if len(b.rows) > 0 {
				buf.WriteByte(',')
			}
			buf.Write(line)
			b.rows = append(b.rows, row)
		}
		if len(b.rows)+len(b.bad) >= size && !flush() {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return loopml.Errorf(loopml.EINVALID, "input: line %d: %v", row+2, err)
	}
	flush()
	return nil
}

// sendBatch posts a batch and returns one prediction per row, or the
// server's message when it refused the batch as bad input (4xx). Network
// errors, 429 and 5xx are retried with backoff; n counts the requests.
func sendBatch(ctx context.Context, client *http.Client, target string, b *predictBatch, retries int) (preds []json.RawMessage, refusal string, n int64, err error) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, "", n, ctx.Err()
			case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
			}
		}
		n++
		var status int
		var body []byte
		req, rerr := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b.body))
		if rerr != nil {
			return nil, "", n, loopml.Errorf(loopml.EINVALID, "url: %v", rerr)
		}
		req.Header.Set("Content-Type", b.contentType)
		resp, err := client.Do(req)
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<30))
			resp.Body.Close()
			status = resp.StatusCode
		}
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, "", n, ctx.Err()
		case err == nil && status == http.StatusOK:
			var res struct {
				Predictions []json.RawMessage `json:"predictions"`
			}
			if err := json.Unmarshal(body, &res); err != nil || len(res.Predictions) != len(b.rows) {
				return nil, "", n, loopml.Errorf(loopml.EINVALID, "endpoint answered %d predictions for %d rows (rows %d..%d): %.200s",
					len(res.Predictions), len(b.rows), b.rows[0], b.rows[len(b.rows)-1], body)
			}
			return res.Predictions, "", n, nil
		case err == nil && status == http.StatusNotFound:
			return nil, "", n, loopml.Errorf(loopml.ENOTFOUND, "endpoint: %s", serverMessage(body, status))
		case err == nil && status >= 400 && status < 500 && status != http.StatusTooManyRequests:
			return nil, serverMessage(body, status), n, nil
		}
		if attempt >= retries {
			if err != nil {
				return nil, "", n, loopml.Errorf(loopml.EUNAVAILABLE, "rows %d..%d: %v (after %d attempts; re-run to resume)", b.rows[0], b.rows[len(b.rows)-1], err, attempt+1)
			}
			return nil, "", n, loopml.Errorf(loopml.EUNAVAILABLE, "rows %d..%d: server answered %d: %s (after %d attempts; re-run to resume)",
				b.rows[0], b.rows[len(b.rows)-1], status, serverMessage(body, status), attempt+1)
		}
	}
}

// serverMessage is the message of an error body ({"message"} or
// {"error"}), else the body's start.
func serverMessage(body []byte, status int) string {
	var e struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Message != "" {
			return e.Message
		}
		if e.Error != "" {
			return e.Error
		}
	}
	if s := strings.TrimSpace(string(body)); s != "" {
		return fmt.Sprintf("%.200s", s)
	}
	return http.StatusText(status)
}

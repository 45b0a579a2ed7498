package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/bench"
	"github.com/spf13/cobra"
)

// servingBenchOptions are the flags of `loopml bench serving`.
type servingBenchOptions struct {
	url         string
	path        string
	body        string
	bodyFile    string
	contentType string
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	connections int
	output      string
	client      string
}

// servingBenchResult is what one measured phase observed.
type servingBenchResult struct {
	Mode       string  `json:"mode"` // "rate" (open loop) or "closed"
	Target     string  `json:"target"`
	Rate       float64 `json:"rate,omitempty"` // requested requests/s (open loop)
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Throughput float64 `json:"throughput"` // completed requests/s
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
}

func (r servingBenchResult) String() string {
	rate := ""
	if r.Mode == "rate" {
		rate = fmt.Sprintf(" at %.0f req/s requested", r.Rate)
	}
	s := fmt.Sprintf("%s %s%s: %d requests, %.0f req/s, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms, %d errors",
		r.Mode, r.Target, rate, r.Requests, r.Throughput, r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs, r.Errors)
	if r.FirstError != "" {
		s += " (first: " + r.FirstError + ")"
	}
	return s
}

func newBenchServingCommand() *cobra.Command {
	var o servingBenchOptions
	cmd := &cobra.Command{
		Use:   "serving",
		Short: "Load-test a serving endpoint at a constant request rate (open loop) or at full speed",
		Long: `Load-test a model-serving route over loopback (loopml serve, loopml server
--endpoints, or any server answering POST with JSON).

With --rate R (open loop) requests are sent on a fixed schedule, R per
second, whatever the answers: latency is measured from each request's
scheduled time, so a stalled server shows up in the percentiles instead of
slowing the generator down (no coordinated omission). This is how the p99
at 80% of peak throughput is measured. With --rate 0 (closed loop),
--connections clients send back to back: the peak throughput.

"loopml bench baseline" serves the bare net/http handler that the serving
figures are compared with; scripts/bench-serving.sh runs the whole set.`,
		Example: `  loopml bench serving --url http://127.0.0.1:5001 --path /invocations \
      --body '{"dataframe_split": {"columns": ["user_id", "item_id"], "data": [[1, 31]]}}' --rate 20000
  loopml bench serving --url http://127.0.0.1:5001 --path /endpoints/recs/recommend --body '{"user_id": 1, "k": 10}' --connections 16`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := runServingBench(cmd.Context(), o)
			if err != nil {
				return err
			}
			if o.output == "json" {
				b, _ := json.Marshal(r)
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), r.String())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "http://127.0.0.1:5001", "base URL of the server (loopback only)")
	f.StringVar(&o.path, "path", "/invocations", "route to POST to")
	f.StringVar(&o.body, "body", `{"dataframe_split": {"columns": ["user_id", "item_id"], "data": [[1, 31]]}}`, "request body")
	f.StringVar(&o.bodyFile, "body-file", "", "read the request body from this file instead of --body")
	f.StringVar(&o.contentType, "content-type", "application/json", "Content-Type of the requests")
	f.Float64Var(&o.rate, "rate", 0, "requests per second on a fixed schedule (open loop); 0 sends back to back with --connections clients")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "length of the measured phase")
	f.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured phase before it (same load)")
	f.IntVar(&o.connections, "connections", 16, "clients (closed loop) or the bound on requests in flight (open loop: beyond it a request waits and its wait counts in its latency)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	f.StringVar(&o.client, "client", "raw", "HTTP client: raw (one prebuilt request per connection, a few µs of CPU per request, like wrk; http only) or go (net/http's client, several times the CPU)")
	return cmd
}

func newBenchBaselineCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "baseline",
		Short: "Serve a bare net/http handler returning a fixed JSON body (the serving benchmarks' baseline)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return loopml.Errorf(loopml.EINVALID, "addr %s: %v", addr, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "baseline listening on http://%s\n", ln.Addr())
			body := []byte(`{"predictions": [3.5]}` + "\n")
			hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(body)
			})}
			go func() {
				<-cmd.Context().Done()
				_ = hs.Close()
			}()
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:5099", "address to listen on")
	return cmd
}

// runServingBench runs the warm-up and the measured phase.
func runServingBench(ctx context.Context, o servingBenchOptions) (servingBenchResult, error) {
	res := servingBenchResult{Target: o.url + o.path, Rate: o.rate, Mode: "closed"}
	if o.rate > 0 {
		res.Mode = "rate"
	}
	switch {
	case o.rate < 0 || o.rate > 1e6:
		return res, loopml.Errorf(loopml.EINVALID, "rate must be between 0 and 1000000, got %v", o.rate)
	case o.duration <= 0 || o.warmup < 0:
		return res, loopml.Errorf(loopml.EINVALID, "duration must be positive and warmup not negative")
	case o.connections <= 0 || o.connections > 10_000:
		return res, loopml.Errorf(loopml.EINVALID, "connections must be between 1 and 10000, got %d", o.connections)
	case o.output != "text" && o.output != "json":
		return res, loopml.Errorf(loopml.EINVALID, "output %q must be text or json", o.output)
	}
	if err := bench.CheckLoopback(o.url); err != nil {
		return res, err
	}
	body := []byte(o.body)
	if o.bodyFile != "" {
		b, err := os.ReadFile(o.bodyFile)
		if err != nil {
			return res, loopml.Errorf(loopml.EINVALID, "body-file: %v", err)
		}
		body = b
	}
	target := o.url + o.path
	// newSender returns one worker's send function: its own connection
	// with the raw client, the shared pool with net/http's.
	var newSender func() (send func(context.Context) error, done func(), err error)
	switch o.client {
	case "raw":
		newSender = func() (func(context.Context) error, func(), error) {
			c, err := bench.NewRawClient(target, o.contentType, body)
			if err != nil {
				return nil, nil, loopml.Errorf(loopml.EINVALID, "client raw: %v (use --client go for https)", err)
			}
			return func(ctx context.Context) error {
				status, err := c.Do(ctx)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("status %d", status)
				}
				return err
			}, c.Close, nil
		}
	case "go":
		client := bench.NewHTTPClient(o.connections)
		send := func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", o.contentType)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
		newSender = func() (func(context.Context) error, func(), error) { return send, func() {}, nil }
	default:
		return res, loopml.Errorf(loopml.EINVALID, "client %q must be raw or go", o.client)
	}
	send, done, err := newSender()
	if err != nil {
		return res, err
	}
	defer done()
	if err := send(ctx); err != nil {
		return res, loopml.Errorf(loopml.EUNAVAILABLE, "POST %s: %v", target, err)
	}
	if o.warmup > 0 {
		if _, err := loadPhase(ctx, o, newSender, o.warmup); err != nil {
			return res, err
		}
	}
	m, err := loadPhase(ctx, o, newSender, o.duration)
	if err != nil {
		return res, err
	}
	lat := m.lat
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := min(len(lat)-1, max(0, int(p*float64(len(lat))+0.5)-1))
		return float64(lat[i]) / 1e6
	}
	res.Requests, res.Errors, res.FirstError = int64(len(lat))+m.errs, m.errs, m.firstErr
	res.Throughput = float64(len(lat)) / m.elapsed.Seconds()
	res.P50Ms, res.P90Ms, res.P99Ms, res.MaxMs = q(0.5), q(0.9), q(0.99), q(1)
	return res, nil
}

// loadMeasurement is what one phase observed: latencies (ns) of the
// successful requests.
type loadMeasurement struct {
	lat      []int64
	errs     int64
	firstErr string
	elapsed  time.Duration
}

// loadPhase runs the open loop (o.rate > 0) or the closed loop for d.
func loadPhase(ctx context.Context, o servingBenchOptions, newSender func() (func(context.Context) error, func(), error), d time.Duration) (loadMeasurement, error) {
	var (
		mu      sync.Mutex
		m       loadMeasurement
		errOnce sync.Once
		errs    atomic.Int64
		wg      sync.WaitGroup
	)
	record := func(lat []int64) {
		mu.Lock()
		m.lat = append(m.lat, lat...)
		mu.Unlock()
	}
	fail := func(err error) {
		errs.Add(1)
		errOnce.Do(func() { m.firstErr = err.Error() })
	}
	start := time.Now()
	end := start.Add(d)
	reqCtx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	senders := make([]func(context.Context) error, o.connections)
	for i := range senders {
		send, done, err := newSender()
		if err != nil {
			return m, err
		}
		defer done()
		senders[i] = send
	}
	if o.rate <= 0 {
		for _, send := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lat []int64
				for ctx.Err() == nil && time.Now().Before(end) {
					t0 := time.Now()
					if err := send(reqCtx); err != nil {
						fail(err)
						continue
					}
					lat = append(lat, int64(time.Since(t0)))
				}
				record(lat)
			}()
		}
	} else {
		// Open loop: a scheduler releases request i at start + i/rate into
		// a queue served by o.connections workers; latency counts from
		// the scheduled time.
		interval := time.Duration(float64(time.Second) / o.rate)
		due := make(chan time.Time, 1<<16)
		for _, send := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lat []int64
				for t := range due {
					if err := send(reqCtx); err != nil {
						fail(err)
						continue
					}
					lat = append(lat, int64(time.Since(t)))
				}
				record(lat)
			}()
		}
		next := start
	schedule:
		for next.Before(end) {
			now := time.Now()
			for !next.After(now) && next.Before(end) {
				select {
				case due <- next:
				case <-ctx.Done():
					break schedule
				}
				next = next.Add(interval)
			}
			if w := time.Until(next); w > 0 {
				time.Sleep(w)
			}
		}
		close(due)
	}
	wg.Wait()
	m.elapsed = time.Since(start)
	m.errs = errs.Load()
	if err := ctx.Err(); err != nil {
		return m, err
	}
	return m, nil
}

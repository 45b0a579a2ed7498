// Package webhook delivers registry events to webhooks: HMAC-signed JSON
// POSTs with retries, exponential backoff and a delivery log, from any
// number of server replicas sharing one database. It also offers an
// in-process subscription to the same event log (Dispatcher.Subscribe).
//
// # Delivery
//
// Registry writes append to the registry event log in their own
// transaction and return; the Dispatcher turns new events into deliveries
// (one per matching active webhook) in the background, so an API call
// never waits for a webhook. The queue lives in the database
// (loopml.WebhookService): a shared cursor over the event log and a unique
// (webhook, event) pair make enqueueing exactly-once across replicas, and
// leases make each attempt belong to one dispatcher; a crashed replica's
// claims are picked up by another when their lease expires.
//
// Delivery is at least once. In the normal case each event reaches each
// webhook once; a dispatcher that dies after the receiver answered but
// before recording the answer causes a second delivery with the same
// X-Loopml-Delivery id, which receivers use as an idempotency key.
//
// # Wire format
//
// Each attempt is a POST with Content-Type application/json, a body that
// is a Payload, and the headers
//
//	X-Loopml-Event:     the event type, e.g. alias_set
//	X-Loopml-Delivery:  the delivery id (idempotency key)
//	X-Loopml-Attempt:   1, 2, ...
//	X-Loopml-Timestamp: signing time, Unix seconds
//	X-Loopml-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// Receivers check both with Verify. A 2xx answer is success; a timeout, a
// connection error, 408, 429 or 5xx is retried after Backoff(attempt)
// (or the Retry-After of a 429/503, if longer) until MaxAttempts; any
// other answer (4xx, 3xx: redirects are not followed) fails the delivery
// at once. Every attempt is recorded in the delivery log.
package webhook

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/loopml/loopml"
)

// Store is the delivery queue the Dispatcher works on (the queue methods of
// loopml.WebhookService).
type Store interface {
	EnqueueWebhookDeliveries(ctx context.Context, max int) (int, error)
	ClaimWebhookDeliveries(ctx context.Context, owner string, max int, lease time.Duration) ([]loopml.WebhookTask, error)
	RecordWebhookAttempt(ctx context.Context, r loopml.WebhookAttemptResult) error
}

// EventSource reads the registry event log (loopml.ModelRegistry has this
// method).
type EventSource interface {
	RegistryEvents(ctx context.Context, q loopml.RegistryEventQuery) ([]loopml.RegistryEvent, error)
}

// Payload is the JSON body of a delivery: the registry event and which
// delivery attempt carries it. Every field is always present.
type Payload struct {
	ID          int64  `json:"id"`   // registry event id
	Type        string `json:"type"` // loopml.Event* constant
	Time        int64  `json:"time"` // event time, epoch ms
	Workspace   string `json:"workspace"`
	Principal   string `json:"principal"`
	Model       string `json:"model"`
	Version     string `json:"version"`
	Alias       string `json:"alias"`
	FromVersion string `json:"from_version"`
	ToVersion   string `json:"to_version"`
	FromStage   string `json:"from_stage"`
	ToStage     string `json:"to_stage"`
	Reason      string `json:"reason"`
	// Endpoint is the serving endpoint of an endpoint or rollout event
	// (loopml.EndpointEventTypes), "" otherwise.
	Endpoint string `json:"endpoint"`
	// Detail is the JSON detail of an endpoint or rollout event (targets
	// and weights, and the metrics a rollout decision was based on) as a
	// JSON value; null for other events.
	Detail     json.RawMessage `json:"detail"`
	WebhookID  string          `json:"webhook_id"`
	DeliveryID int64           `json:"delivery_id"`
	Attempt    int             `json:"attempt"`
}

// NewPayload returns the payload of a task.
func NewPayload(t loopml.WebhookTask) Payload {
	e := t.Event
	return Payload{
		ID: e.ID, Type: e.Type, Time: e.Time, Workspace: e.Workspace, Principal: e.Principal,
		Model: e.Model, Version: e.Version, Alias: e.Alias, FromVersion: e.FromVersion, ToVersion: e.ToVersion,
		FromStage: e.FromStage, ToStage: e.ToStage, Reason: e.Reason, Endpoint: e.Endpoint, Detail: detailJSON(e.Detail),
		WebhookID: t.Webhook.ID, DeliveryID: t.Delivery.ID, Attempt: t.Attempt,
	}
}

// detailJSON is an event's detail as a JSON value: nil (null) when empty,
// and a JSON string when it is not valid JSON, so that a payload always
// marshals.
func detailJSON(s string) json.RawMessage {
	switch {
	case s == "":
		return nil
	case json.Valid([]byte(s)):
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// Defaults of the Dispatcher's zero-valued fields.
const (
	DefaultPollInterval = time.Second
	DefaultMaxAttempts  = 8
	DefaultTimeout      = 10 * time.Second
	DefaultConcurrency  = 4
	DefaultBatchSize    = 500
	// MaxBackoff caps DefaultBackoff and Retry-After.
	MaxBackoff = time.Hour
)

// DefaultBackoff waits 2s·2^(attempt-1), capped at MaxBackoff, with
// "equal jitter": a uniformly random duration in [d/2, d), so that retries
// of many deliveries spread out. attempt is the number of the attempt that
// just failed, from 1.
func DefaultBackoff(attempt int) time.Duration {
	d := MaxBackoff
	if attempt < 22 {
		d = min(MaxBackoff, 2*time.Second<<max(attempt-1, 0))
	}
	return d/2 + rand.N(d/2)
}

// Dispatcher delivers registry events to webhooks. The zero value of every
// field but Store is a valid configuration; Events is needed only by
// Subscribe. Several Dispatchers (in one process or in several replicas) may
// share a database. Do not change fields while Run is running.
type Dispatcher struct {
	Store  Store
	Events EventSource
	// Client sends the requests; nil means a client that does not follow
	// redirects. Each request is bounded by Timeout regardless.
	Client *http.Client
	// Logger receives delivery outcomes and errors; nil discards them.
	Logger *slog.Logger
	// PollInterval is how often the event log and the queue are polled
	// when idle (0 = DefaultPollInterval).
	PollInterval time.Duration
	// MaxAttempts is the number of attempts before a delivery fails
	// (0 = DefaultMaxAttempts).
	MaxAttempts int
	// Backoff returns the wait after failed attempt n (from 1) before the
	// next; nil = DefaultBackoff.
	Backoff func(attempt int) time.Duration
	// Timeout bounds each request, response included (0 = DefaultTimeout).
	Timeout time.Duration
	// Lease is how long a claimed delivery belongs to this dispatcher
	// before another may take it over (0 = Timeout + 30s). It must exceed
	// Timeout.
	Lease time.Duration
	// Concurrency is the number of deliveries in flight (0 =
	// DefaultConcurrency).
	Concurrency int
	// BatchSize is the number of events enqueued per transaction (0 =
	// DefaultBatchSize).
	BatchSize int
	// Owner identifies this dispatcher in leases and the delivery log;
	// "" = host name, process id and a random suffix.
	Owner string
	// Now is the clock of the signature timestamps; nil = time.Now.
	Now func() time.Time
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

func (d *Dispatcher) pollInterval() time.Duration {
	return cmpOr(d.PollInterval, DefaultPollInterval)
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// run is the resolved configuration of one Run.
type run struct {
	d           *Dispatcher
	store       Store
	log         *slog.Logger
	client      *http.Client
	owner       string
	poll        time.Duration
	maxAttempts int
	backoff     func(int) time.Duration
	timeout     time.Duration
	lease       time.Duration
	concurrency int
	batch       int
	now         func() time.Time
}

// Run enqueues and delivers until ctx is done, then waits for the attempts
// in flight (each bounded by Timeout) to finish and be recorded, and
// returns nil. Store errors are logged and retried at the next poll. It
// returns an error only for an invalid configuration.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.Store == nil {
		return loopml.Errorf(loopml.EINVALID, "webhook dispatcher: Store is required")
	}
	r := &run{
		d: d, store: d.Store, log: d.logger(), client: d.Client, owner: d.Owner,
		poll: d.pollInterval(), maxAttempts: cmpOr(d.MaxAttempts, DefaultMaxAttempts), backoff: d.Backoff,
		timeout: cmpOr(d.Timeout, DefaultTimeout), concurrency: cmpOr(d.Concurrency, DefaultConcurrency),
		batch: cmpOr(d.BatchSize, DefaultBatchSize), now: d.Now,
	}
	r.lease = cmpOr(d.Lease, r.timeout+30*time.Second)
	if r.lease <= r.timeout {
		return loopml.Errorf(loopml.EINVALID, "webhook dispatcher: Lease (%s) must exceed Timeout (%s)", r.lease, r.timeout)
	}
	if r.client == nil {
		r.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if r.backoff == nil {
		r.backoff = DefaultBackoff
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.owner == "" {
		r.owner = defaultOwner()
	}
	r.log = r.log.With("owner", r.owner)
	r.log.Info("webhook dispatcher started", "poll", r.poll, "max_attempts", r.maxAttempts, "concurrency", r.concurrency)

	var wg sync.WaitGroup
	slots := make(chan struct{}, r.concurrency) // one token per attempt in flight
	freed := make(chan struct{}, 1)
	for {
		r.enqueue(ctx)
		full := false
		if free := r.concurrency - len(slots); free > 0 && ctx.Err() == nil {
			tasks, err := r.store.ClaimWebhookDeliveries(ctx, r.owner, free, r.lease)
			if err != nil && ctx.Err() == nil {
				r.log.Warn("claim webhook deliveries", "err", err)
			}
			for _, t := range tasks {
				slots <- struct{}{}
				wg.Go(func() {
					r.attempt(ctx, t)
					<-slots
					select {
					case freed <- struct{}{}:
					default:
					}
				})
			}
			full = len(tasks) == free
		} else {
			full = true
		}
		timer := time.NewTimer(r.poll)
		wake := freed
		if !full {
			wake = nil // nothing claimable: wait for the next poll
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			wg.Wait()
			r.log.Info("webhook dispatcher stopped")
			return nil
		case <-timer.C:
		case <-wake:
			timer.Stop()
		}
	}
}

// enqueue turns all new events into deliveries.
func (r *run) enqueue(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := r.store.EnqueueWebhookDeliveries(ctx, r.batch)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("enqueue webhook deliveries", "err", err)
			}
			return
		}
		if n < r.batch {
			return
		}
	}
}

// attempt makes one attempt of a claimed delivery and records it. It
// outlives ctx (bounded by the timeouts) so that shutdown does not leave
// sent-but-unrecorded deliveries behind.
func (r *run) attempt(ctx context.Context, t loopml.WebhookTask) {
	ctx = context.WithoutCancel(ctx)
	res := loopml.WebhookAttemptResult{DeliveryID: t.Delivery.ID, Owner: r.owner, Attempt: t.Attempt}
	start := time.Now()
	code, retryAfter, err := r.send(ctx, t)
	res.Duration, res.ResponseCode = time.Since(start), max(code, 0)
	log := r.log.With("webhook", t.Webhook.ID, "delivery", t.Delivery.ID, "event", t.Event.ID, "attempt", t.Attempt)
	switch {
	case err == nil:
		res.Status = loopml.DeliverySucceeded
	case retryable(code) && t.Attempt < r.maxAttempts:
		res.Status = loopml.DeliveryPending
		res.RetryIn = max(r.backoff(t.Attempt), min(retryAfter, MaxBackoff))
		res.Error = err.Error()
	case retryable(code):
		res.Status = loopml.DeliveryFailed
		res.Error = fmt.Sprintf("%v (gave up after %d attempts)", err, t.Attempt)
	default:
		res.Status = loopml.DeliveryFailed
		res.Error = err.Error()
	}
	if res.Status == loopml.DeliverySucceeded {
		log.Debug("webhook delivered", "code", code, "duration", res.Duration)
	} else {
		log.Info("webhook delivery attempt failed", "code", code, "err", res.Error, "status", res.Status, "retry_in", res.RetryIn)
	}
	rctx, cancel := context.WithTimeout(ctx, r.timeout+10*time.Second)
	defer cancel()
	if err := r.store.RecordWebhookAttempt(rctx, res); err != nil {
		switch loopml.ErrorCode(err) {
		case loopml.ECONFLICT, loopml.ENOTFOUND:
			// Lease lost to another dispatcher, or the webhook was deleted.
			log.Info("webhook attempt not recorded", "err", err)
		default:
			log.Error("record webhook attempt", "err", err)
		}
	}
}

// retryable reports whether an attempt that ended with status code (0 when
// no response arrived, -1 when no request could be made) is worth retrying.
func retryable(code int) bool {
	return code == 0 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// send POSTs the payload; err is nil only for a 2xx answer. retryAfter is
// the Retry-After of a 429 or 503 answer, 0 if none.
func (r *run) send(ctx context.Context, t loopml.WebhookTask) (code int, retryAfter time.Duration, err error) {
	body, err := json.Marshal(NewPayload(t))
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.Webhook.URL, bytes.NewReader(body))
	if err != nil {
		return -1, 0, fmt.Errorf("build request: %w", err) // not retryable: the URL is wrong
	}
	ts := r.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "loopml-webhook/"+loopml.Version)
	req.Header.Set(HeaderEvent, t.Event.Type)
	req.Header.Set(HeaderDelivery, strconv.FormatInt(t.Delivery.ID, 10))
	req.Header.Set(HeaderAttempt, strconv.Itoa(t.Attempt))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(t.Webhook.Secret, ts, body))
	resp, err := r.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, 0, fmt.Errorf("timed out after %s", r.timeout)
		}
		return 0, 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // draining for connection reuse only
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			retryAfter = time.Duration(s) * time.Second
		}
	}
	msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if len(bytes.TrimSpace(snippet)) > 0 {
		msg += ": " + string(bytes.TrimSpace(snippet))
	}
	return resp.StatusCode, retryAfter, errors.New(msg)
}

func defaultOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	crand.Read(b) //nolint:errcheck // never fails
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

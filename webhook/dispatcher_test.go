package webhook_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/sqlstore"
	"github.com/loopml/loopml/webhook"
)

const pgEnv = "LOOPML_TEST_POSTGRES_DSN"

var ctx = context.Background()

// backends opens a store per backend: "sqlite" always, "postgres" when
// LOOPML_TEST_POSTGRES_DSN is set. dsn can be opened again for a second
// replica.
type backend struct {
	name string
	dsn  func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "loopml.db") }},
	{"postgres", pgSchemaDSN},
}

func forEachBackend(t *testing.T, fn func(t *testing.T, dsn string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.dsn(t)) })
	}
}

func pgSchemaDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv(pgEnv)
	if base == "" {
		t.Skip("set " + pgEnv + " to run the dispatcher on PostgreSQL")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func open(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// request is one request a receiver got.
type request struct {
	at     time.Time
	header http.Header
	body   []byte
	p      webhook.Payload
}

// receiver is an httptest server that answers with respond(n) to its n-th
// request (from 1) and records every request.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []request
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := request{at: time.Now(), header: r.Header.Clone(), body: body}
		if err := json.Unmarshal(body, &req.p); err != nil {
			t.Errorf("receiver: body %q is not a payload: %v", body, err)
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, req)
		n := len(rc.reqs)
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(n, w, r)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

func status(codes ...int) func(n int, w http.ResponseWriter, r *http.Request) {
	return func(n int, w http.ResponseWriter, r *http.Request) {
		code := codes[len(codes)-1]
		if n <= len(codes) {
			code = codes[n-1]
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "answer %d", n)
	}
}

// start runs d until the test ends (or stop is called) and fails the test
// if Run returns an error.
func start(t *testing.T, d *webhook.Dispatcher) (stop func()) {
	t.Helper()
	if d.PollInterval == 0 {
		d.PollInterval = 10 * time.Millisecond
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after its context was cancelled")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func createHook(t *testing.T, s loopml.WebhookService, w loopml.Webhook) *loopml.Webhook {
	t.Helper()
	w.Active = true
	if err := s.CreateWebhook(ctx, &w); err != nil {
		t.Fatal(err)
	}
	return &w
}

func deliveries(t *testing.T, s loopml.WebhookService, id string) []*loopml.WebhookDelivery {
	t.Helper()
	ds, err := s.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: id, MaxResults: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// finished reports whether the webhook has n deliveries, none pending.
func finished(t *testing.T, s loopml.WebhookService, id string, n int) func() bool {
	return func() bool {
		ds := deliveries(t, s, id)
		if len(ds) != n {
			return false
		}
		for _, d := range ds {
			if d.Status == loopml.DeliveryPending {
				return false
			}
		}
		return true
	}
}

func attempts(t *testing.T, s loopml.WebhookService, deliveryID int64) []loopml.WebhookAttempt {
	t.Helper()
	as, err := s.WebhookAttempts(ctx, deliveryID)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func createModel(t *testing.T, s loopml.ModelRegistry, name string) {
	t.Helper()
	if err := s.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: name}); err != nil {
		t.Fatal(err)
	}
}

func fixedBackoff(d time.Duration) func(int) time.Duration {
	return func(int) time.Duration { return d }
}

func TestDeliverSigned(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		rc := newReceiver(t, status(http.StatusNoContent))
		h := createHook(t, db, loopml.Webhook{Name: "ci", URL: rc.srv.URL + "/hook", Secret: "topsecret"})
		start(t, &webhook.Dispatcher{Store: db})

		who := loopml.NewContextWithPrincipal(ctx, "alice")
		if err := db.CreateRegisteredModel(who, &loopml.RegisteredModel{Name: "m"}); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateModelVersion(who, &loopml.ModelVersion{Name: "m", Source: "s3://b/m"}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetAlias(who, "m", "champion", "1"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "three deliveries", finished(t, db, h.ID, 3))
		reqs := rc.requests()
		if len(reqs) != 3 {
			t.Fatalf("receiver got %d requests, want 3", len(reqs))
		}
		ds := deliveries(t, db, h.ID)
		for i, r := range reqs {
			if err := webhook.Verify("topsecret", r.header, r.body, 0); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if err := webhook.Verify("other", r.header, r.body, 0); err == nil {
				t.Fatalf("request %d verifies with another secret", i)
			}
			if r.header.Get(webhook.HeaderEvent) != r.p.Type || r.header.Get(webhook.HeaderDelivery) != strconv.FormatInt(r.p.DeliveryID, 10) ||
				r.header.Get(webhook.HeaderAttempt) != "1" || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("request %d headers %v do not match payload %+v", i, r.header, r.p)
			}
			if r.p.WebhookID != h.ID || r.p.Attempt != 1 || r.p.Workspace != loopml.DefaultWorkspace || r.p.Principal != "alice" || r.p.Model != "m" || r.p.Time == 0 {
				t.Fatalf("payload %+v", r.p)
			}
		}
		var alias webhook.Payload
		for _, r := range reqs {
			if r.p.Type == loopml.EventAliasSet {
				alias = r.p
			}
		}
		if alias.Alias != "champion" || alias.ToVersion != "1" || alias.FromVersion != "" {
			t.Fatalf("alias payload %+v", alias)
		}
		// Every documented key is present.
		var raw map[string]any
		if err := json.Unmarshal(reqs[0].body, &raw); err != nil {
			t.Fatal(err)
		}
		for _, k := range strings.Fields("id type time workspace principal model version alias from_version to_version from_stage to_stage reason endpoint detail webhook_id delivery_id attempt") {
			if _, ok := raw[k]; !ok {
				t.Fatalf("payload lacks %q: %s", k, reqs[0].body)
			}
		}
		for _, d := range ds {
			if d.Status != loopml.DeliverySucceeded || d.Attempt != 1 || d.ResponseCode != http.StatusNoContent {
				t.Fatalf("delivery %+v", d)
			}
			if as := attempts(t, db, d.ID); len(as) != 1 || as[0].ResponseCode != http.StatusNoContent || as[0].Error != "" || as[0].Owner == "" {
				t.Fatalf("attempts of delivery %d: %+v", d.ID, as)
			}
		}
	})
}

// TestEndpointEventPayload checks that endpoint events carry the endpoint
// name and the event's JSON detail, and other events an empty endpoint and
// a null detail.
func TestEndpointEventPayload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		rc := newReceiver(t, status(http.StatusOK))
		h := createHook(t, db, loopml.Webhook{Name: "ep", URL: rc.srv.URL, Model: "m",
			Events: []string{loopml.EventModelCreated, loopml.EventEndpointCreated}})
		start(t, &webhook.Dispatcher{Store: db})
		createModel(t, db, "m")
		e := &loopml.Endpoint{Name: "recs", Targets: []loopml.EndpointTarget{{Model: "models:/m@champion", Weight: 3}}}
		if err := db.CreateEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "two deliveries", finished(t, db, h.ID, 2))
		byType := map[string]request{}
		for _, r := range rc.requests() {
			byType[r.p.Type] = r
		}
		ep, ok := byType[loopml.EventEndpointCreated]
		if !ok {
			t.Fatalf("no %s delivery among %d requests", loopml.EventEndpointCreated, len(rc.requests()))
		}
		if ep.p.Endpoint != "recs" || ep.p.Model != "m" {
			t.Fatalf("endpoint payload: endpoint %q model %q, want recs m", ep.p.Endpoint, ep.p.Model)
		}
		var detail struct {
			Targets []loopml.EndpointTarget `json:"targets"`
		}
		if err := json.Unmarshal(ep.p.Detail, &detail); err != nil {
			t.Fatalf("detail %s: %v", ep.p.Detail, err)
		}
		if want := e.Targets; !slices.Equal(detail.Targets, want) {
			t.Fatalf("detail targets %+v, want %+v", detail.Targets, want)
		}
		// On the wire the detail is a JSON object, not a string.
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(ep.body, &raw); err != nil {
			t.Fatal(err)
		}
		if d := string(raw["detail"]); !strings.HasPrefix(d, "{") {
			t.Fatalf("wire detail %s, want a JSON object", d)
		}
		mc := byType[loopml.EventModelCreated]
		if err := json.Unmarshal(mc.body, &raw); err != nil {
			t.Fatal(err)
		}
		if mc.p.Endpoint != "" || string(raw["detail"]) != "null" || string(raw["endpoint"]) != `""` {
			t.Fatalf("model_created payload has endpoint/detail: %s", mc.body)
		}
	})
}

func TestRetryThenSucceed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		rc := newReceiver(t, status(500, 502, 200))
		h := createHook(t, db, loopml.Webhook{Name: "h", URL: rc.srv.URL})
		const backoff = 150 * time.Millisecond
		start(t, &webhook.Dispatcher{Store: db, Backoff: fixedBackoff(backoff)})
		createModel(t, db, "m")
		waitFor(t, "the delivery to finish", finished(t, db, h.ID, 1))

		reqs := rc.requests()
		if len(reqs) != 3 {
			t.Fatalf("receiver got %d requests, want 3", len(reqs))
		}
		for i, r := range reqs {
			if r.p.Attempt != i+1 || r.header.Get(webhook.HeaderAttempt) != strconv.Itoa(i+1) {
				t.Fatalf("request %d is attempt %d", i, r.p.Attempt)
			}
			if r.p.DeliveryID != reqs[0].p.DeliveryID {
				t.Fatal("retries changed the delivery id")
			}
			if i > 0 {
				if gap := r.at.Sub(reqs[i-1].at); gap < backoff {
					t.Fatalf("attempt %d came %s after the previous one, want at least the backoff %s", i+1, gap, backoff)
				}
			}
		}
		d := deliveries(t, db, h.ID)[0]
		if d.Status != loopml.DeliverySucceeded || d.Attempt != 3 || d.ResponseCode != 200 || d.Error != "" {
			t.Fatalf("delivery %+v", d)
		}
		as := attempts(t, db, d.ID)
		if len(as) != 3 || as[0].ResponseCode != 500 || as[1].ResponseCode != 502 || as[2].ResponseCode != 200 {
			t.Fatalf("attempts %+v", as)
		}
		if !strings.Contains(as[0].Error, "HTTP 500") || !strings.Contains(as[0].Error, "answer 1") {
			t.Fatalf("attempt 1 error %q, want the status and the response text", as[0].Error)
		}
	})
}

func TestTimeoutRetriedAndNeverBlocksTheAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		release := make(chan struct{})
		rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				select { // hang until the dispatcher gives up
				case <-r.Context().Done():
				case <-release:
				}
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		defer close(release)
		h := createHook(t, db, loopml.Webhook{Name: "h", URL: rc.srv.URL})
		start(t, &webhook.Dispatcher{Store: db, Timeout: time.Second, Backoff: fixedBackoff(10 * time.Millisecond)})
		createModel(t, db, "m")
		waitFor(t, "the first request", func() bool { return len(rc.requests()) == 1 })
		// The receiver hangs; registry writes go on regardless.
		t0 := time.Now()
		createModel(t, db, "m2")
		if d := time.Since(t0); d > 500*time.Millisecond {
			t.Fatalf("a registry write took %s while a webhook hung", d)
		}
		waitFor(t, "both deliveries", finished(t, db, h.ID, 2))
		for _, d := range deliveries(t, db, h.ID) {
			if d.Status != loopml.DeliverySucceeded {
				t.Fatalf("delivery %+v", d)
			}
			as := attempts(t, db, d.ID)
			if d.EventType == loopml.EventModelCreated && len(as) == 2 {
				if as[0].ResponseCode != 0 || !strings.Contains(as[0].Error, "timed out") || as[1].ResponseCode != 200 {
					t.Fatalf("attempts %+v, want a timeout then 200", as)
				}
			}
		}
		retried := 0
		for _, d := range deliveries(t, db, h.ID) {
			if d.Attempt == 2 {
				retried++
			}
		}
		if retried != 1 {
			t.Fatalf("%d deliveries were retried, want 1", retried)
		}
	})
}

func TestClientErrorNotRetried(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		rc := newReceiver(t, status(http.StatusBadRequest, http.StatusOK))
		h := createHook(t, db, loopml.Webhook{Name: "h", URL: rc.srv.URL})
		start(t, &webhook.Dispatcher{Store: db, Backoff: fixedBackoff(time.Millisecond)})
		createModel(t, db, "m")
		waitFor(t, "the delivery to finish", finished(t, db, h.ID, 1))
		time.Sleep(100 * time.Millisecond) // a retry would come within this
		if n := len(rc.requests()); n != 1 {
			t.Fatalf("receiver got %d requests, want 1", n)
		}
		d := deliveries(t, db, h.ID)[0]
		if d.Status != loopml.DeliveryFailed || d.Attempt != 1 || d.ResponseCode != 400 || !strings.Contains(d.Error, "HTTP 400") {
			t.Fatalf("delivery %+v", d)
		}
	})
}

func TestMaxAttempts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		rc := newReceiver(t, status(http.StatusServiceUnavailable))
		h := createHook(t, db, loopml.Webhook{Name: "h", URL: rc.srv.URL})
		start(t, &webhook.Dispatcher{Store: db, MaxAttempts: 3, Backoff: fixedBackoff(5 * time.Millisecond)})
		createModel(t, db, "m")
		waitFor(t, "the delivery to fail", finished(t, db, h.ID, 1))
		time.Sleep(50 * time.Millisecond)
		if n := len(rc.requests()); n != 3 {
			t.Fatalf("receiver got %d requests, want 3", n)
		}
		d := deliveries(t, db, h.ID)[0]
		if d.Status != loopml.DeliveryFailed || d.Attempt != 3 || d.ResponseCode != 503 || !strings.Contains(d.Error, "gave up after 3 attempts") {
			t.Fatalf("delivery %+v", d)
		}
		if as := attempts(t, db, d.ID); len(as) != 3 {
			t.Fatalf("%d attempts recorded, want 3", len(as))
		}
	})
}

func TestRetryAfter(t *testing.T) {
	db := open(t, backends[0].dsn(t))
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h := createHook(t, db, loopml.Webhook{Name: "h", URL: rc.srv.URL})
	start(t, &webhook.Dispatcher{Store: db, Backoff: fixedBackoff(time.Millisecond)})
	createModel(t, db, "m")
	waitFor(t, "the delivery to finish", finished(t, db, h.ID, 1))
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 900*time.Millisecond {
		t.Fatalf("retried %s after a 429 with Retry-After: 1", gap)
	}
}

func TestFilters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		rc := newReceiver(t, status(200))
		all := createHook(t, db, loopml.Webhook{Name: "all", URL: rc.srv.URL + "/all"})
		aliases := createHook(t, db, loopml.Webhook{Name: "aliases", URL: rc.srv.URL + "/aliases", Events: []string{loopml.EventAliasSet}})
		m2 := createHook(t, db, loopml.Webhook{Name: "m2", URL: rc.srv.URL + "/m2", Model: "m2"})
		both := createHook(t, db, loopml.Webhook{Name: "both", URL: rc.srv.URL + "/both", Model: "m2", Events: []string{loopml.EventVersionCreated, loopml.EventStageTransition}})
		start(t, &webhook.Dispatcher{Store: db})
		for _, m := range []string{"m1", "m2"} {
			createModel(t, db, m)
			if err := db.CreateModelVersion(ctx, &loopml.ModelVersion{Name: m, Source: "s3://b/" + m}); err != nil {
				t.Fatal(err)
			}
			if err := db.SetAlias(ctx, m, "champion", "1"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.TransitionModelVersionStage(ctx, "m2", "1", loopml.StageProduction, false); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			h    *loopml.Webhook
			want []string
		}{
			{all, []string{"m1 model_created", "m1 version_created", "m1 alias_set", "m2 model_created", "m2 version_created", "m2 alias_set", "m2 stage_transition"}},
			{aliases, []string{"m1 alias_set", "m2 alias_set"}},
			{m2, []string{"m2 model_created", "m2 version_created", "m2 alias_set", "m2 stage_transition"}},
			{both, []string{"m2 version_created", "m2 stage_transition"}},
		} {
			waitFor(t, c.h.Name+" deliveries", finished(t, db, c.h.ID, len(c.want)))
			// Deliveries run in parallel: order by event id.
			var ps []webhook.Payload
			for _, r := range rc.requests() {
				if r.p.WebhookID == c.h.ID {
					ps = append(ps, r.p)
				}
			}
			slices.SortFunc(ps, func(a, b webhook.Payload) int { return cmp.Compare(a.ID, b.ID) })
			var got []string
			for _, p := range ps {
				got = append(got, p.Model+" "+p.Type)
			}
			if strings.Join(got, ", ") != strings.Join(c.want, ", ") {
				t.Fatalf("webhook %s got %v, want %v (in event order)", c.h.Name, got, c.want)
			}
		}
	})
}

// TestTwoDispatchers runs two dispatchers, each with its own connection to
// the database (two replicas), while events are recorded, and checks that
// each event reached each webhook exactly once.
func TestTwoDispatchers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		db1 := open(t, dsn)
		db2 := open(t, dsn)
		rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Millisecond) // let the replicas overlap
			w.WriteHeader(http.StatusOK)
		})
		const hooks, models = 3, 15
		var ids []string
		for i := range hooks {
			ids = append(ids, createHook(t, db1, loopml.Webhook{Name: fmt.Sprintf("h%d", i), URL: rc.srv.URL}).ID)
		}
		start(t, &webhook.Dispatcher{Store: db1, Owner: "replica-1", PollInterval: 3 * time.Millisecond, Concurrency: 2})
		start(t, &webhook.Dispatcher{Store: db2, Owner: "replica-2", PollInterval: 3 * time.Millisecond, Concurrency: 2})
		for i := range models {
			db := db1
			if i%2 == 1 {
				db = db2
			}
			createModel(t, db, fmt.Sprintf("m%d", i))
		}
		for _, id := range ids {
			waitFor(t, "all deliveries", finished(t, db1, id, models))
		}
		time.Sleep(50 * time.Millisecond)
		seen := map[string]int{}
		owners := map[string]int{}
		for _, r := range rc.requests() {
			seen[fmt.Sprintf("%s/%d", r.p.WebhookID, r.p.ID)]++
		}
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("event %s delivered %d times", k, n)
			}
		}
		if len(seen) != hooks*models {
			t.Fatalf("%d (webhook, event) pairs delivered, want %d", len(seen), hooks*models)
		}
		for _, id := range ids {
			for _, d := range deliveries(t, db1, id) {
				as := attempts(t, db1, d.ID)
				if len(as) != 1 {
					t.Fatalf("delivery %d has %d attempts", d.ID, len(as))
				}
				owners[as[0].Owner]++
			}
		}
		t.Logf("attempts per replica: %v", owners)
	})
}

// TestRestartResumes stops a dispatcher, records events while none runs,
// and starts another on a new connection: it delivers exactly the new
// events, and takes over a delivery claimed by a replica that crashed.
func TestRestartResumes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		rc := newReceiver(t, status(200))
		h := createHook(t, db, loopml.Webhook{Name: "h", URL: rc.srv.URL})
		stop := start(t, &webhook.Dispatcher{Store: db})
		createModel(t, db, "a")
		createModel(t, db, "b")
		waitFor(t, "the first deliveries", finished(t, db, h.ID, 2))
		stop()

		createModel(t, db, "c")
		createModel(t, db, "d")
		// A replica claims the delivery of "c" and crashes.
		if n, err := db.EnqueueWebhookDeliveries(ctx, 1); err != nil || n != 1 {
			t.Fatalf("enqueue: %d, %v", n, err)
		}
		claimed, err := db.ClaimWebhookDeliveries(ctx, "crashed", 10, 300*time.Millisecond)
		if err != nil || len(claimed) != 1 || claimed[0].Event.Model != "c" {
			t.Fatalf("claim = %v, %v", claimed, err)
		}
		crashedAt := time.Now()

		db2 := open(t, dsn)
		start(t, &webhook.Dispatcher{Store: db2})
		waitFor(t, "all deliveries", finished(t, db2, h.ID, 4))
		var got []string
		var cAt time.Time
		for _, r := range rc.requests() {
			got = append(got, r.p.Model)
			if r.p.Model == "c" {
				cAt = r.at
			}
		}
		if len(got) == 4 {
			// a and b in parallel; d at once and c when the crashed
			// lease expires, in that order unless the machine is so
			// loaded that the new dispatcher starts after the expiry
			// (the lease check below is what matters).
			slices.Sort(got[:2])
			slices.Sort(got[2:])
		}
		if strings.Join(got, ",") != "a,b,c,d" {
			t.Fatalf("delivered models %v, want a and b, then c and d (each once)", got)
		}
		if cAt.Sub(crashedAt) < 250*time.Millisecond {
			t.Fatalf("the crashed replica's delivery was taken over after %s, before its lease expired", cAt.Sub(crashedAt))
		}
		for _, d := range deliveries(t, db2, h.ID) {
			if d.Status != loopml.DeliverySucceeded || d.Attempt != 1 {
				t.Fatalf("delivery %+v", d)
			}
		}
	})
}

func TestSubscribe(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		d := &webhook.Dispatcher{Events: db, PollInterval: 5 * time.Millisecond}
		createModel(t, db, "m1")
		if err := db.CreateModelVersion(ctx, &loopml.ModelVersion{Name: "m1", Source: "s3://b/m1"}); err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		ch := d.Subscribe(sctx, webhook.Filter{Types: []string{loopml.EventVersionCreated, loopml.EventAliasSet}})
		next := func() loopml.RegistryEvent {
			t.Helper()
			select {
			case e, ok := <-ch:
				if !ok {
					t.Fatal("subscription closed")
				}
				return e
			case <-time.After(5 * time.Second):
				t.Fatal("no event within 5s")
			}
			return loopml.RegistryEvent{}
		}
		if e := next(); e.Type != loopml.EventVersionCreated || e.Model != "m1" {
			t.Fatalf("first event %+v, want m1's version_created (model_created is filtered out)", e)
		}
		// Live events.
		if err := db.SetAlias(ctx, "m1", "champion", "1"); err != nil {
			t.Fatal(err)
		}
		last := next()
		if last.Type != loopml.EventAliasSet || last.Alias != "champion" {
			t.Fatalf("live event %+v", last)
		}
		cancel()
		waitFor(t, "the channel to close", func() bool {
			_, ok := <-ch
			return !ok
		})

		// A restarted subscriber resumes after the last id it saw.
		createModel(t, db, "m2")
		if err := db.CreateModelVersion(ctx, &loopml.ModelVersion{Name: "m2", Source: "s3://b/m2"}); err != nil {
			t.Fatal(err)
		}
		sctx, cancel = context.WithCancel(ctx)
		defer cancel()
		ch = d.Subscribe(sctx, webhook.Filter{AfterID: last.ID, Model: "m2"})
		if e := next(); e.Type != loopml.EventModelCreated || e.Model != "m2" || e.ID <= last.ID {
			t.Fatalf("resumed with %+v", e)
		}
		if e := next(); e.Type != loopml.EventVersionCreated || e.Model != "m2" {
			t.Fatalf("then %+v", e)
		}
	})
}

func TestRunConfig(t *testing.T) {
	if err := (&webhook.Dispatcher{}).Run(ctx); loopml.ErrorCode(err) != loopml.EINVALID {
		t.Fatalf("Run without a Store = %v, want EINVALID", err)
	}
	db := open(t, backends[0].dsn(t))
	err := (&webhook.Dispatcher{Store: db, Timeout: time.Minute, Lease: time.Second}).Run(ctx)
	if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "Lease") {
		t.Fatalf("Run with Lease < Timeout = %v, want EINVALID naming Lease", err)
	}
}

package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/sqlstore"
	"github.com/loopml/loopml/webhook"
)

// newWebhookEnv is newEnvDSN with the metadata store also serving the
// registry and the webhooks.
func newWebhookEnv(t *testing.T, dsn string) *env {
	t.Helper()
	return newEnvDSN(t, dsn, func(c *httpapi.Config) {
		c.Registry = c.Experiments.(loopml.ModelRegistry)
		c.Webhooks = c.Experiments.(loopml.WebhookService)
	})
}

// webhookTests run against SQLite and, when configured, PostgreSQL.
var webhookTests = []struct {
	name string
	fn   func(t *testing.T, e *env)
}{
	{"CreateEndpoint", testWebhookCreateEndpoint},
	{"ReadEndpoints", testWebhookReadEndpoints},
	{"UpdateEndpoint", testWebhookUpdateEndpoint},
	{"DeleteEndpoint", testWebhookDeleteEndpoint},
	{"DeliveryEndpoints", testWebhookDeliveryEndpoints},
	{"ClientRoundTrip", testWebhookClientRoundTrip},
}

func TestWebhooksSQLite(t *testing.T) {
	for _, tc := range webhookTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newWebhookEnv(t, "")) })
	}
}

func TestWebhooksPostgres(t *testing.T) {
	for _, tc := range webhookTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newWebhookEnv(t, postgresDSN(t))) })
	}
}

// lm sends a request to one of loopml's own endpoints.
func (e *env) lm(method, path, body string) response {
	e.t.Helper()
	return e.do(method, "/api/2.0/loopml/"+path, body)
}

var webhookTimePattern = regexp.MustCompile(`"(creation_timestamp|last_updated_timestamp|time|next_attempt_at|duration_ms)": ?\d+`)

// webhookGolden is golden with webhook clocks normalised too (webhook ids
// are 32 hex digits, which golden already replaces).
func webhookGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	golden(t, name, webhookTimePattern.ReplaceAll(body, []byte(`"$1":0`)))
}

// createWebhook creates a webhook over HTTP and returns its id and secret.
func (e *env) createWebhook(body string) (id, secret string) {
	e.t.Helper()
	m := e.lm("POST", "webhooks/create", body).ok(e.t)
	id, _ = dig(m, "webhook", "id").(string)
	secret, _ = dig(m, "webhook", "secret").(string)
	if id == "" || secret == "" {
		e.t.Fatalf("create webhook: no id or secret in %v", m)
	}
	return id, secret
}

// noSecret asserts that a response carries no secret member and not the
// given secret values anywhere.
func noSecret(t *testing.T, r response, secrets ...string) {
	t.Helper()
	if strings.Contains(string(r.body), `"secret"`) {
		t.Errorf("response has a secret member: %s", r.body)
	}
	for _, s := range secrets {
		if strings.Contains(string(r.body), s) {
			t.Errorf("response contains the secret %q: %s", s, r.body)
		}
	}
}

var hexSecret = regexp.MustCompile(`^[0-9a-f]{64}$`)

func testWebhookCreateEndpoint(t *testing.T, e *env) {
	r := e.lm("POST", "webhooks/create", `{"name":"deploy","url":"https://ci.example/hook","secret":"s3cret","events":["stage_transition","alias_set","alias_set"],"model":"churn"}`)
	webhookGolden(t, "webhook_create", r.body)
	m := r.ok(t)
	if got := dig(m, "webhook", "active"); got != true {
		t.Errorf("active = %v, want true by default", got)
	}

	// A generated secret, an inactive webhook, no filters; the mirror path.
	r = e.do("POST", "/ajax-api/2.0/loopml/webhooks/create", `{"name":"all","url":"http://127.0.0.1:9/x","active":false}`)
	m = r.ok(t)
	if s, _ := dig(m, "webhook", "secret").(string); !hexSecret.MatchString(s) {
		t.Errorf("generated secret %q is not 64 hex digits", s)
	}
	if dig(m, "webhook", "active") != false || len(dig(m, "webhook", "events").([]any)) != 0 {
		t.Errorf("webhook = %v, want inactive with no event filter", m)
	}

	tests := []struct {
		name, body string
		status     int
		code, msg  string
	}{
		{"missing name", `{"url":"https://x.example/"}`, 400, "INVALID_PARAMETER_VALUE", "'name'"},
		{"missing url", `{"name":"n"}`, 400, "INVALID_PARAMETER_VALUE", "'url'"},
		{"bad scheme", `{"name":"n","url":"ftp://x.example/"}`, 400, "INVALID_PARAMETER_VALUE", "'url'"},
		{"relative url", `{"name":"n","url":"/hook"}`, 400, "INVALID_PARAMETER_VALUE", "'url'"},
		{"credentials", `{"name":"n","url":"https://u:p@x.example/"}`, 400, "INVALID_PARAMETER_VALUE", "'url'"},
		{"unknown event", `{"name":"n","url":"https://x.example/","events":["alias_set","model_exploded"]}`, 400, "INVALID_PARAMETER_VALUE", "'events'"},
		{"events not a list", `{"name":"n","url":"https://x.example/","events":"alias_set"}`, 400, "INVALID_PARAMETER_VALUE", "'events'"},
		{"active not a bool", `{"name":"n","url":"https://x.example/","active":"maybe"}`, 400, "INVALID_PARAMETER_VALUE", "'active'"},
		{"long secret", `{"name":"n","url":"https://x.example/","secret":"` + strings.Repeat("s", loopml.MaxWebhookSecretLen+1) + `"}`, 400, "INVALID_PARAMETER_VALUE", "'secret'"},
		{"duplicate name", `{"name":"deploy","url":"https://x.example/"}`, 400, "RESOURCE_ALREADY_EXISTS", "deploy"},
		{"malformed", `{"name":`, 400, "INVALID_PARAMETER_VALUE", "Malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.lm("POST", "webhooks/create", tt.body).isError(t, tt.status, tt.code, tt.msg)
		})
	}
	if n := len(e.lm("GET", "webhooks/list", "").ok(t)["webhooks"].([]any)); n != 2 {
		t.Errorf("%d webhooks after the failed creates, want 2", n)
	}
}

func testWebhookReadEndpoints(t *testing.T, e *env) {
	id, secret := e.createWebhook(`{"name":"b-deploy","url":"https://ci.example/hook","secret":"s3cret-b","events":["alias_set"],"model":"churn"}`)
	_, secret2 := e.createWebhook(`{"name":"a-audit","url":"http://audit.example/in"}`)

	r := e.lm("GET", "webhooks/list", "")
	noSecret(t, r, secret, secret2)
	webhookGolden(t, "webhook_list", r.body)
	m := r.ok(t)
	if dig(m, "webhooks", 0, "name") != "a-audit" || dig(m, "webhooks", 1, "name") != "b-deploy" {
		t.Errorf("list is not ordered by name: %s", r.body)
	}

	r = e.lm("GET", "webhooks/get?id="+id, "")
	noSecret(t, r, secret)
	webhookGolden(t, "webhook_get", r.body)
	noSecret(t, e.do("GET", "/ajax-api/2.0/loopml/webhooks/get?id="+id, ""), secret)

	e.lm("GET", "webhooks/get", "").isError(t, 400, "INVALID_PARAMETER_VALUE", "'id'")
	e.lm("GET", "webhooks/get?id=nope", "").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", "nope")
}

func testWebhookUpdateEndpoint(t *testing.T, e *env) {
	id, secret := e.createWebhook(`{"name":"deploy","url":"https://ci.example/hook","events":["alias_set"],"model":"churn"}`)
	e.createWebhook(`{"name":"other","url":"https://ci.example/other"}`)

	// A partial update changes only what it names and returns no secret.
	r := e.lm("PATCH", "webhooks/update", `{"id":"`+id+`","url":"https://ci.example/v2","active":false,"name":null}`)
	noSecret(t, r, secret)
	m := r.ok(t)
	if dig(m, "webhook", "url") != "https://ci.example/v2" || dig(m, "webhook", "active") != false ||
		dig(m, "webhook", "name") != "deploy" || dig(m, "webhook", "model") != "churn" || dig(m, "webhook", "events", 0) != "alias_set" {
		t.Errorf("after a partial update: %s", r.body)
	}

	// Empty events and model clear the filters.
	m = e.lm("PATCH", "webhooks/update", `{"id":"`+id+`","events":[],"model":""}`).ok(t)
	if len(dig(m, "webhook", "events").([]any)) != 0 || dig(m, "webhook", "model") != nil {
		t.Errorf("filters not cleared: %v", m)
	}

	// secret "" rotates: the new secret is returned this once.
	m = e.lm("PATCH", "webhooks/update", `{"id":"`+id+`","secret":""}`).ok(t)
	rotated, _ := dig(m, "webhook", "secret").(string)
	if !hexSecret.MatchString(rotated) || rotated == secret {
		t.Errorf("rotated secret %q (old %q)", rotated, secret)
	}
	noSecret(t, e.lm("GET", "webhooks/get?id="+id, ""), rotated)
	m = e.lm("PATCH", "webhooks/update", `{"id":"`+id+`","secret":"chosen"}`).ok(t)
	if dig(m, "webhook", "secret") != "chosen" {
		t.Errorf("set secret: %v", m)
	}

	tests := []struct {
		name, body string
		status     int
		code, msg  string
	}{
		{"missing id", `{"url":"https://x.example/"}`, 400, "INVALID_PARAMETER_VALUE", "'id'"},
		{"unknown id", `{"id":"nope","url":"https://x.example/"}`, 404, "RESOURCE_DOES_NOT_EXIST", "nope"},
		{"empty url", `{"id":"` + id + `","url":""}`, 400, "INVALID_PARAMETER_VALUE", "'url'"},
		{"bad scheme", `{"id":"` + id + `","url":"file:///etc/passwd"}`, 400, "INVALID_PARAMETER_VALUE", "'url'"},
		{"empty name", `{"id":"` + id + `","name":" "}`, 400, "INVALID_PARAMETER_VALUE", "'name'"},
		{"unknown event", `{"id":"` + id + `","events":["nope"]}`, 400, "INVALID_PARAMETER_VALUE", "'events'"},
		{"name taken", `{"id":"` + id + `","name":"other"}`, 400, "RESOURCE_ALREADY_EXISTS", "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.lm("PATCH", "webhooks/update", tt.body).isError(t, tt.status, tt.code, tt.msg)
		})
	}
	// Failed updates changed nothing.
	m = e.lm("GET", "webhooks/get?id="+id, "").ok(t)
	if dig(m, "webhook", "url") != "https://ci.example/v2" || dig(m, "webhook", "name") != "deploy" {
		t.Errorf("after failed updates: %v", m)
	}
}

func testWebhookDeleteEndpoint(t *testing.T, e *env) {
	a, _ := e.createWebhook(`{"name":"a","url":"https://x.example/a"}`)
	b, _ := e.createWebhook(`{"name":"b","url":"https://x.example/b"}`)
	if r := e.lm("DELETE", "webhooks/delete", `{"id":"`+a+`"}`); r.status != 200 || string(r.body) != "{}" {
		t.Errorf("delete by body: %d %s", r.status, r.body)
	}
	e.lm("DELETE", "webhooks/delete?id="+b, "").ok(t)
	e.lm("DELETE", "webhooks/delete", `{"id":"`+a+`"}`).isError(t, 404, "RESOURCE_DOES_NOT_EXIST", a)
	e.lm("GET", "webhooks/get?id="+b, "").isError(t, 404, "RESOURCE_DOES_NOT_EXIST", b)
	e.lm("DELETE", "webhooks/delete", "").isError(t, 400, "INVALID_PARAMETER_VALUE", "'id'")
	if n := len(e.lm("GET", "webhooks/list", "").ok(t)["webhooks"].([]any)); n != 0 {
		t.Errorf("%d webhooks left", n)
	}
}

// seedDeliveries creates a webhook on alias_set events of churn, moves
// champion three times and turns the events into deliveries with the
// queue methods, recording on the oldest a failed attempt (503) and then a
// success. It returns the webhook id and the delivery ids, newest first.
func seedDeliveries(t *testing.T, e *env) (string, []int64) {
	t.Helper()
	ctx := context.Background()
	id, _ := e.createWebhook(`{"name":"deploy","url":"https://ci.example/hook","secret":"s","events":["alias_set"],"model":"churn"}`)
	e.createModel("churn")
	v := e.createVersion("churn", "mlflow-artifacts:/0/abc/artifacts/model")
	for range 3 {
		e.post("registered-models/alias", `{"name":"churn","alias":"champion","version":"`+v+`"}`).ok(t)
	}
	if _, err := e.db.EnqueueWebhookDeliveries(ctx, 100); err != nil {
		t.Fatal(err)
	}
	// Claim all three (the two newer stay leased), then work on the oldest.
	tasks, err := e.db.ClaimWebhookDeliveries(ctx, "test", 10, time.Minute)
	if err != nil || len(tasks) != 3 {
		t.Fatalf("claim: %v, %d tasks", err, len(tasks))
	}
	first := tasks[0].Delivery.ID
	for _, task := range tasks {
		first = min(first, task.Delivery.ID)
	}
	for attempt, res := range []loopml.WebhookAttemptResult{
		{Status: loopml.DeliveryPending, ResponseCode: 503, Error: "HTTP 503"},
		{Status: loopml.DeliverySucceeded, ResponseCode: 204},
	} {
		if attempt > 0 {
			tasks, err = e.db.ClaimWebhookDeliveries(ctx, "test", 10, time.Minute)
			if err != nil || len(tasks) != 1 || tasks[0].Delivery.ID != first {
				t.Fatalf("re-claim: %v, %v", err, tasks)
			}
		}
		res.DeliveryID, res.Owner, res.Attempt, res.Duration = first, "test", attempt+1, 5*time.Millisecond
		if err := e.db.RecordWebhookAttempt(ctx, res); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := e.db.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: id})
	if err != nil || len(ds) != 3 {
		t.Fatalf("deliveries: %v, %d", err, len(ds))
	}
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	if ids[2] != first {
		t.Fatalf("oldest delivery %d, claimed %d", ids[2], first)
	}
	return id, ids
}

func testWebhookDeliveryEndpoints(t *testing.T, e *env) {
	id, ids := seedDeliveries(t, e)
	r := e.lm("GET", "webhooks/deliveries?webhook_id="+id, "")
	webhookGolden(t, "webhook_deliveries", r.body)
	if m := r.ok(t); m["next_before_id"] != nil {
		t.Errorf("a short page has next_before_id: %s", r.body)
	}

	// Pages follow next_before_id.
	m := e.lm("GET", "webhooks/deliveries?webhook_id="+id+"&max_results=2", "").ok(t)
	if n := len(m["deliveries"].([]any)); n != 2 || m["next_before_id"] != float64(ids[1]) {
		t.Fatalf("first page: %v", m)
	}
	m = e.lm("GET", "webhooks/deliveries?webhook_id="+id+"&max_results=2&before_id="+strconv.FormatInt(ids[1], 10), "").ok(t)
	if n := len(m["deliveries"].([]any)); n != 1 || dig(m, "deliveries", 0, "id") != float64(ids[2]) || m["next_before_id"] != nil {
		t.Fatalf("second page: %v", m)
	}
	m = e.lm("GET", "webhooks/deliveries?webhook_id="+id+"&status=succeeded", "").ok(t)
	if n := len(m["deliveries"].([]any)); n != 1 || dig(m, "deliveries", 0, "attempts") != float64(2) {
		t.Errorf("succeeded: %v", m)
	}

	r = e.lm("GET", "webhooks/attempts?delivery_id="+strconv.FormatInt(ids[2], 10), "")
	webhookGolden(t, "webhook_attempts", r.body)
	m = e.do("GET", "/ajax-api/2.0/loopml/webhooks/attempts?delivery_id="+strconv.FormatInt(ids[0], 10), "").ok(t)
	if n := len(m["attempts"].([]any)); n != 0 {
		t.Errorf("a delivery never attempted has %d attempts", n)
	}

	tests := []struct {
		name, path string
		status     int
		code, msg  string
	}{
		{"deliveries without webhook_id", "webhooks/deliveries", 400, "INVALID_PARAMETER_VALUE", "'webhook_id'"},
		{"unknown webhook", "webhooks/deliveries?webhook_id=nope", 404, "RESOURCE_DOES_NOT_EXIST", "nope"},
		{"bad status", "webhooks/deliveries?webhook_id=" + id + "&status=lost", 400, "INVALID_PARAMETER_VALUE", "'status'"},
		{"bad before_id", "webhooks/deliveries?webhook_id=" + id + "&before_id=x", 400, "INVALID_PARAMETER_VALUE", "'before_id'"},
		{"negative before_id", "webhooks/deliveries?webhook_id=" + id + "&before_id=-1", 400, "INVALID_PARAMETER_VALUE", "'before_id'"},
		{"max_results too large", "webhooks/deliveries?webhook_id=" + id + "&max_results=5000", 400, "INVALID_PARAMETER_VALUE", "'max_results'"},
		{"attempts without delivery_id", "webhooks/attempts", 400, "INVALID_PARAMETER_VALUE", "'delivery_id'"},
		{"bad delivery_id", "webhooks/attempts?delivery_id=abc", 400, "INVALID_PARAMETER_VALUE", "'delivery_id'"},
		{"unknown delivery", "webhooks/attempts?delivery_id=999999", 404, "RESOURCE_DOES_NOT_EXIST", "999999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.lm("GET", tt.path, "").isError(t, tt.status, tt.code, tt.msg)
		})
	}
}

func testWebhookClientRoundTrip(t *testing.T, e *env) {
	ctx := context.Background()
	c := httpapi.NewClient(e.srv.URL, nil)
	w := &loopml.Webhook{Name: "deploy", URL: "https://ci.example/hook", Events: []string{"stage_transition", "alias_set"}, Model: "churn", Active: true}
	if err := c.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	if w.ID == "" || !hexSecret.MatchString(w.Secret) || w.CreationTimestamp == 0 ||
		strings.Join(w.Events, ",") != "alias_set,stage_transition" || !w.Active || w.Model != "churn" {
		t.Errorf("created %+v", w)
	}
	paused := &loopml.Webhook{Name: "paused", URL: "http://x.example/", Secret: "mine"}
	if err := c.CreateWebhook(ctx, paused); err != nil || paused.Active || paused.Secret != "mine" {
		t.Errorf("create inactive: %v, %+v", err, paused)
	}
	errCode(t, c.CreateWebhook(ctx, &loopml.Webhook{Name: "x", URL: "gopher://x"}), loopml.EINVALID, "'url'")
	errCode(t, c.CreateWebhook(ctx, &loopml.Webhook{Name: "deploy", URL: "https://x.example/"}), loopml.ECONFLICT, "deploy")

	got, err := c.GetWebhook(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *w
	want.Secret = ""
	if !equalWebhooks(got, &want) {
		t.Errorf("get = %+v, want %+v", got, want)
	}
	_, err = c.GetWebhook(ctx, "nope")
	errCode(t, err, loopml.ENOTFOUND, "nope")

	list, err := c.ListWebhooks(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "deploy" || list[1].Name != "paused" || list[0].Secret != "" || list[1].Secret != "" {
		t.Fatalf("list: %v %+v", err, list)
	}

	url, empty, rotate, on := "https://ci.example/v2", []string{}, "", false
	up, err := c.UpdateWebhook(ctx, w.ID, loopml.WebhookUpdate{URL: &url, Events: &empty, Active: &on})
	if err != nil || up.URL != url || len(up.Events) != 0 || up.Active || up.Secret != "" || up.Model != "churn" {
		t.Errorf("update: %v %+v", err, up)
	}
	up, err = c.UpdateWebhook(ctx, w.ID, loopml.WebhookUpdate{Secret: &rotate})
	if err != nil || !hexSecret.MatchString(up.Secret) || up.Secret == w.Secret {
		t.Errorf("rotate: %v %+v", err, up)
	}
	_, err = c.UpdateWebhook(ctx, "nope", loopml.WebhookUpdate{URL: &url})
	errCode(t, err, loopml.ENOTFOUND, "nope")

	ds, err := c.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: w.ID})
	if err != nil || len(ds) != 0 {
		t.Errorf("deliveries of a new webhook: %v %v", err, ds)
	}
	_, err = c.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: w.ID, Status: "lost"})
	errCode(t, err, loopml.EINVALID, "'status'")
	_, err = c.WebhookAttempts(ctx, 12345)
	errCode(t, err, loopml.ENOTFOUND, "12345")

	if err := c.DeleteWebhook(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	errCode(t, c.DeleteWebhook(ctx, w.ID), loopml.ENOTFOUND, w.ID)
}

// TestWebhookClientDeliveries reads seeded deliveries and attempts through
// the client and compares them with the store's.
func TestWebhookClientDeliveries(t *testing.T) {
	ctx := context.Background()
	e := newWebhookEnv(t, "")
	id, ids := seedDeliveries(t, e)
	c := httpapi.NewClient(e.srv.URL, nil)
	q := loopml.WebhookDeliveryQuery{WebhookID: id, MaxResults: 2, BeforeID: ids[0]}
	got, err := c.ListWebhookDeliveries(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.db.ListWebhookDeliveries(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(want) != 2 {
		t.Fatalf("got %d deliveries, store %d", len(got), len(want))
	}
	for i := range want {
		if *got[i] != *want[i] {
			t.Errorf("delivery %d = %+v, want %+v", i, *got[i], *want[i])
		}
	}
	ga, err := c.WebhookAttempts(ctx, ids[2])
	if err != nil {
		t.Fatal(err)
	}
	wa, err := e.db.WebhookAttempts(ctx, ids[2])
	if err != nil {
		t.Fatal(err)
	}
	if len(ga) != 2 || len(ga) != len(wa) || ga[0] != wa[0] || ga[1] != wa[1] {
		t.Errorf("attempts = %+v, want %+v", ga, wa)
	}
}

func equalWebhooks(a, b *loopml.Webhook) bool {
	return a.ID == b.ID && a.Workspace == b.Workspace && a.Name == b.Name && a.URL == b.URL && a.Secret == b.Secret &&
		strings.Join(a.Events, ",") == strings.Join(b.Events, ",") && a.Model == b.Model && a.Active == b.Active &&
		a.CreatedBy == b.CreatedBy && a.CreationTimestamp == b.CreationTimestamp && a.LastUpdatedTimestamp == b.LastUpdatedTimestamp
}

func TestWebhooksNotConfigured(t *testing.T) {
	e := newEnv(t)
	e.lm("GET", "webhooks/list", "").isError(t, 501, "NOT_IMPLEMENTED")
	e.lm("POST", "webhooks/create", `{"name":"n","url":"https://x.example/"}`).isError(t, 501, "NOT_IMPLEMENTED")
	_, err := httpapi.NewClient(e.srv.URL, nil).ListWebhooks(context.Background())
	errCode(t, err, loopml.ENOTIMPLEMENTED, "no store")
}

// TestWebhookDispatchEndToEnd runs a real webhook.Dispatcher on the
// server's store while the test manages the webhook and moves an alias
// through the HTTP API. The receiver checks every signature with
// webhook.Verify and fails the first attempt, so the delivery log shows a
// retry and then the success.
func TestWebhookDispatchEndToEnd(t *testing.T) {
	ctx := context.Background()
	e := newWebhookEnv(t, "")
	c := httpapi.NewClient(e.srv.URL, nil)

	type received struct {
		payload webhook.Payload
		header  http.Header
	}
	var (
		mu       sync.Mutex
		secret   string
		attempts int
	)
	got := make(chan received, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		mu.Lock()
		s := secret
		attempts++
		n := attempts
		mu.Unlock()
		if err := webhook.Verify(s, r.Header, body, time.Minute); err != nil {
			t.Errorf("signature: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if n == 1 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("payload: %v: %s", err, body)
		}
		got <- received{p, r.Header.Clone()}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	wh := &loopml.Webhook{Name: "deploy", URL: receiver.URL + "/hook", Events: []string{loopml.EventAliasSet}, Model: "churn", Active: true}
	mu.Lock()
	err := c.CreateWebhook(ctx, wh)
	secret = wh.Secret
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}

	dctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	d := &webhook.Dispatcher{
		Store: e.db, PollInterval: 10 * time.Millisecond, Timeout: 5 * time.Second,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Owner: "e2e",
	}
	go func() { done <- d.Run(dctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && err != context.Canceled {
			t.Errorf("dispatcher: %v", err)
		}
	}()

	if err := c.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	v := &loopml.ModelVersion{Name: "churn", Source: "mlflow-artifacts:/0/abc/artifacts/model"}
	if err := c.CreateModelVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := c.SetAlias(ctx, "churn", "champion", v.Version); err != nil {
		t.Fatal(err)
	}

	var r received
	select {
	case r = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no verified delivery within 20s")
	}
	if p := r.payload; p.Type != loopml.EventAliasSet || p.Model != "churn" || p.Alias != "champion" || p.ToVersion != v.Version ||
		p.WebhookID != wh.ID || p.Attempt != 2 || r.header.Get(webhook.HeaderDelivery) != strconv.FormatInt(p.DeliveryID, 10) {
		t.Errorf("payload %+v, headers %v", p, r.header)
	}

	// The attempt is recorded after the receiver answers: poll the log.
	var ds []*loopml.WebhookDelivery
	for deadline := time.Now().Add(20 * time.Second); ; {
		ds, err = c.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: wh.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 && ds[0].Status == loopml.DeliverySucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries never show success: %+v", ds)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if dl := ds[0]; dl.Attempt != 2 || dl.ResponseCode != http.StatusNoContent || dl.EventType != loopml.EventAliasSet || dl.ID != r.payload.DeliveryID {
		t.Errorf("delivery %+v", *dl)
	}
	as, err := c.WebhookAttempts(ctx, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].ResponseCode != http.StatusServiceUnavailable || as[0].Error == "" ||
		as[1].ResponseCode != http.StatusNoContent || as[1].Error != "" || as[1].Owner != "e2e" {
		t.Errorf("attempts %+v", as)
	}
}

// FuzzWebhookRequests sends arbitrary bodies to the webhook write
// endpoints of a server over a real store: every answer is a 200 or an
// MLflow error body with a 4xx status (never a 500), and listing never
// shows a secret.
func FuzzWebhookRequests(f *testing.F) {
	for _, s := range []string{
		`{"name":"deploy","url":"https://ci.example/hook","events":["alias_set"],"model":"churn","secret":"s"}`,
		`{"name":"x","url":"http://127.0.0.1/","active":false}`,
		`{"id":"nope","secret":""}`,
		`{"name":"x","url":"ftp://x","events":"alias_set"}`,
		`{"name":null,"url":null,"events":null,"active":null}`,
		`{"name":"\u00e9\ud800","url":"https://x.example/\u0000"}`,
		`{"events":[1,2],"active":"true"}`,
		`[]`, `{"name":`, ``,
	} {
		f.Add(s)
	}
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(f.TempDir(), "loopml.db"), sqlstore.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	h := httpapi.NewServer(httpapi.Config{Webhooks: db}).Handler()
	call := func(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/api/2.0/loopml/"+path, strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("%s %s %q: status %d: %s", method, path, body, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s %q: invalid JSON answer %s", method, path, body, rec.Body)
		}
		return rec
	}
	f.Fuzz(func(t *testing.T, body string) {
		if rec := call(t, "POST", "webhooks/create", body); rec.Code == http.StatusOK {
			var got struct{ Webhook struct{ ID, Secret string } }
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Webhook.ID == "" || got.Webhook.Secret == "" {
				t.Fatalf("create answered %s", rec.Body)
			}
			// Update the new webhook with the same body.
			var m map[string]any
			if json.Unmarshal([]byte(body), &m) == nil && m != nil {
				m["id"] = got.Webhook.ID
				b, _ := json.Marshal(m)
				call(t, "PATCH", "webhooks/update", string(b))
			}
		}
		call(t, "PATCH", "webhooks/update", body)
		call(t, "DELETE", "webhooks/delete", body)
		if rec := call(t, "GET", "webhooks/list", ""); strings.Contains(rec.Body.String(), `"secret"`) {
			t.Fatalf("list shows a secret: %s", rec.Body)
		}
	})
}

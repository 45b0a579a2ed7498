package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/sqlstore"
)

// webhookFixture is the CLI fixture whose output has webhook ids and
// store clocks replaced by fixed values.
type webhookFixture struct {
	*fixture
	fakeIDs map[string]string // real webhook id -> fixed id, in order of first sight
}

func newWebhookFixture(t *testing.T) *webhookFixture {
	t.Helper()
	return &webhookFixture{fixture: newFixture(t), fakeIDs: map[string]string{}}
}

// openDB opens the fixture's store; the caller closes it.
func (wf *webhookFixture) openDB(t *testing.T) *sqlstore.DB {
	t.Helper()
	dsn, err := Config{Home: wf.home}.StoreDSN()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// normalizer maps the ids of every webhook seen so far and every clock
// value of webhooks, deliveries and attempts to fixed values.
func (wf *webhookFixture) normalizer(t *testing.T) *strings.Replacer {
	t.Helper()
	ctx := context.Background()
	db := wf.openDB(t)
	defer db.Close()
	list, err := db.ListWebhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	addTime := func(ms int64) {
		if ms != 0 {
			pairs = append(pairs, fmtTime(ms), "2000-01-01 00:00:00", strconv.FormatInt(ms, 10), "946684800000")
		}
	}
	for _, w := range list {
		if _, ok := wf.fakeIDs[w.ID]; !ok {
			wf.fakeIDs[w.ID] = fmt.Sprintf("%032d", len(wf.fakeIDs)+1)
		}
		addTime(w.CreationTimestamp)
		addTime(w.LastUpdatedTimestamp)
		ds, err := db.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: w.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			addTime(d.CreationTimestamp)
			addTime(d.LastUpdatedTimestamp)
			addTime(d.NextAttemptAt)
			as, err := db.WebhookAttempts(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as {
				addTime(a.Time)
			}
		}
	}
	for real, fake := range wf.fakeIDs {
		pairs = append(pairs, real, fake)
	}
	return strings.NewReplacer(pairs...)
}

// cli runs the command line against the fixture's home and normalises its
// output.
func (wf *webhookFixture) cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := wf.fixture.cli(t, args...)
	return wf.normalizer(t).Replace(out), err
}

// id returns the real id of the webhook with the given name.
func (wf *webhookFixture) id(t *testing.T, name string) string {
	t.Helper()
	db := wf.openDB(t)
	defer db.Close()
	list, err := db.ListWebhooks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range list {
		if w.Name == name {
			return w.ID
		}
	}
	t.Fatalf("no webhook %q", name)
	return ""
}

// seedWebhookDeliveries records registry events for model churn and runs
// the delivery queue by hand: the oldest delivery succeeds at its second
// attempt, the next fails for good with a 400, the newest waits for a
// retry after a timeout. It returns the delivery ids, newest first.
func (wf *webhookFixture) seedWebhookDeliveries(t *testing.T, webhookID string) []int64 {
	t.Helper()
	ctx := context.Background()
	db := wf.openDB(t)
	defer db.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: "churn"}))
	v := &loopml.ModelVersion{Name: "churn", Source: "mlflow-artifacts:/1/x/artifacts/model"}
	must(db.CreateModelVersion(ctx, v))
	for _, alias := range []string{"champion", "challenger", "champion"} {
		must(db.SetAlias(ctx, "churn", alias, v.Version))
	}
	_, err := db.EnqueueWebhookDeliveries(ctx, 100)
	must(err)
	ds, err := db.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: webhookID})
	must(err)
	if len(ds) != 3 {
		t.Fatalf("%d deliveries, want 3", len(ds))
	}
	ids := []int64{ds[0].ID, ds[1].ID, ds[2].ID}
	results := map[int64][]loopml.WebhookAttemptResult{
		ids[2]: {
			{Status: loopml.DeliveryPending, ResponseCode: 503, Error: "HTTP 503 Service Unavailable"},
			{Status: loopml.DeliverySucceeded, ResponseCode: 204},
		},
		ids[1]: {{Status: loopml.DeliveryFailed, ResponseCode: 400, Error: "HTTP 400 Bad Request: unknown model"}},
		ids[0]: {{Status: loopml.DeliveryPending, Error: "context deadline exceeded", RetryIn: time.Hour}},
	}
	for round := 0; round < 2; round++ {
		tasks, err := db.ClaimWebhookDeliveries(ctx, "cli-test", 10, time.Minute)
		must(err)
		for _, task := range tasks {
			rs := results[task.Delivery.ID]
			if task.Attempt > len(rs) {
				t.Fatalf("unexpected attempt %d of delivery %d", task.Attempt, task.Delivery.ID)
			}
			r := rs[task.Attempt-1]
			r.DeliveryID, r.Owner, r.Attempt, r.Duration = task.Delivery.ID, "cli-test", task.Attempt, 12*time.Millisecond
			must(db.RecordWebhookAttempt(ctx, r))
		}
	}
	return ids
}

func TestWebhooksCLIGolden(t *testing.T) {
	f := newWebhookFixture(t)
	var ids []int64
	steps := []struct {
		golden string
		args   func() []string
		before func()
	}{
		{golden: "webhooks_create", args: func() []string {
			return []string{"webhooks", "create", "deploy", "https://ci.example/hooks/loopml", "--events", "stage_transition, alias_set", "--model", "churn", "--secret", "s3cret"}
		}},
		{golden: "webhooks_create_json", args: func() []string {
			return []string{"webhooks", "create", "audit", "http://audit.example/in", "--inactive", "--secret", "t0ps3cret", "-o", "json"}
		}},
		{golden: "webhooks_list", args: func() []string { return []string{"webhooks", "list"} }},
		{golden: "webhooks_list_json", args: func() []string { return []string{"webhooks", "list", "-o", "json"} }},
		{golden: "webhooks_show", args: func() []string { return []string{"webhooks", "show", f.id(t, "deploy")} }},
		{golden: "webhooks_show_json", args: func() []string { return []string{"webhooks", "show", f.id(t, "audit"), "-o", "json"} }},
		{
			golden: "webhooks_deliveries",
			before: func() { ids = f.seedWebhookDeliveries(t, f.id(t, "deploy")) },
			args:   func() []string { return []string{"webhooks", "deliveries", f.id(t, "deploy")} },
		},
		{golden: "webhooks_deliveries_json", args: func() []string {
			return []string{"webhooks", "deliveries", f.id(t, "deploy"), "--max", "2", "-o", "json"}
		}},
		{golden: "webhooks_deliveries_page", args: func() []string {
			return []string{"webhooks", "deliveries", f.id(t, "deploy"), "--max", "2"}
		}},
		{golden: "webhooks_deliveries_failed", args: func() []string {
			return []string{"webhooks", "deliveries", f.id(t, "deploy"), "--status", "failed"}
		}},
		{golden: "webhooks_attempts", args: func() []string {
			return []string{"webhooks", "attempts", strconv.FormatInt(ids[2], 10)}
		}},
		{golden: "webhooks_attempts_json", args: func() []string {
			return []string{"webhooks", "attempts", strconv.FormatInt(ids[1], 10), "-o", "json"}
		}},
		{golden: "webhooks_update", args: func() []string {
			return []string{"webhooks", "update", f.id(t, "deploy"), "--url", "https://ci.example/v2", "--events", "alias_set", "--inactive"}
		}},
		{golden: "webhooks_delete", args: func() []string { return []string{"webhooks", "delete", f.id(t, "audit")} }},
		{golden: "webhooks_list_after", args: func() []string { return []string{"webhooks", "list"} }},
	}
	for _, s := range steps {
		// Steps depend on each other: stop at the first failure.
		ok := t.Run(s.golden, func(t *testing.T) {
			if s.before != nil {
				s.before()
			}
			args := s.args()
			got, err := f.cli(t, args...)
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			checkGolden(t, s.golden, got)
		})
		if !ok {
			break
		}
	}
}

var secretLine = regexp.MustCompile(`(?m)^Secret: ([0-9a-f]{64})$`)

// TestWebhooksCLISecrets checks that a generated or rotated secret is
// printed once, with the warning, and never by list or show.
func TestWebhooksCLISecrets(t *testing.T) {
	f := newWebhookFixture(t)
	out, err := f.cli(t, "webhooks", "create", "gen", "https://x.example/hook")
	if err != nil {
		t.Fatal(err)
	}
	m := secretLine.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "not shown again") {
		t.Fatalf("create output has no generated secret and warning:\n%s", out)
	}
	secret := m[1]
	id := f.id(t, "gen")

	out, err = f.cli(t, "webhooks", "update", id, "--rotate-secret")
	if err != nil {
		t.Fatal(err)
	}
	m = secretLine.FindStringSubmatch(out)
	if m == nil || m[1] == secret || !strings.Contains(out, "not shown again") {
		t.Fatalf("rotate output:\n%s", out)
	}
	rotated := m[1]

	// Only a rotation prints a secret.
	out, err = f.cli(t, "webhooks", "update", id, "--active")
	if err != nil || strings.Contains(out, "Secret") {
		t.Errorf("update --active: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"webhooks", "list"}, {"webhooks", "list", "-o", "json"},
		{"webhooks", "show", id}, {"webhooks", "show", id, "-o", "json"},
	} {
		out, err := f.fixture.cli(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if strings.Contains(out, secret) || strings.Contains(out, rotated) || strings.Contains(strings.ToLower(out), "secret") {
			t.Errorf("%v shows a secret:\n%s", args, out)
		}
	}
}

func TestWebhooksCLIErrors(t *testing.T) {
	f := newWebhookFixture(t)
	if _, err := f.cli(t, "webhooks", "create", "deploy", "https://x.example/"); err != nil {
		t.Fatal(err)
	}
	id := f.id(t, "deploy")
	tests := []struct {
		args []string
		code string
		msg  string
	}{
		{[]string{"webhooks", "create", "x", "ftp://x.example/"}, loopml.EINVALID, "'url'"},
		{[]string{"webhooks", "create", "x", "https://x.example/", "--events", "alias_set,nope"}, loopml.EINVALID, "'events'"},
		{[]string{"webhooks", "create", "deploy", "https://x.example/"}, loopml.ECONFLICT, "deploy"},
		{[]string{"webhooks", "show", "nope"}, loopml.ENOTFOUND, "nope"},
		{[]string{"webhooks", "update", id}, loopml.EINVALID, "nothing to update"},
		{[]string{"webhooks", "update", id, "--url", "mailto:x@example.com"}, loopml.EINVALID, "'url'"},
		{[]string{"webhooks", "update", id, "--secret", ""}, loopml.EINVALID, "--rotate-secret"},
		{[]string{"webhooks", "update", "nope", "--active"}, loopml.ENOTFOUND, "nope"},
		{[]string{"webhooks", "delete", "nope"}, loopml.ENOTFOUND, "nope"},
		{[]string{"webhooks", "deliveries", id, "--status", "lost"}, loopml.EINVALID, "'status'"},
		{[]string{"webhooks", "deliveries", id, "--max", "0"}, loopml.EINVALID, "max"},
		{[]string{"webhooks", "deliveries", "nope"}, loopml.ENOTFOUND, "nope"},
		{[]string{"webhooks", "attempts", "abc"}, loopml.EINVALID, "abc"},
		{[]string{"webhooks", "attempts", "424242"}, loopml.ENOTFOUND, "424242"},
		{[]string{"webhooks", "list", "-o", "yaml"}, loopml.EINVALID, "output"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			_, err := f.cli(t, tt.args...)
			if loopml.ErrorCode(err) != tt.code || !strings.Contains(userMessage(err), tt.msg) {
				t.Errorf("error %v (code %q), want %s containing %q", err, loopml.ErrorCode(err), tt.code, tt.msg)
			}
		})
	}
	// Mutually exclusive flags are refused by the flag parser.
	for _, args := range [][]string{
		{"webhooks", "update", id, "--active", "--inactive"},
		{"webhooks", "update", id, "--secret", "a", "--rotate-secret"},
	} {
		if _, err := f.cli(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestWebhooksOverHTTP runs the webhooks commands against `loopml server`:
// reads print what they print on the local store, and writes work.
func TestWebhooksOverHTTP(t *testing.T) {
	f := newWebhookFixture(t)
	if _, err := f.cli(t, "webhooks", "create", "deploy", "https://ci.example/hook", "--events", "alias_set", "--model", "churn", "--secret", "s3cret"); err != nil {
		t.Fatal(err)
	}
	id := f.id(t, "deploy")
	ids := f.seedWebhookDeliveries(t, id)
	url, _, _ := startServer(t, f.home)
	remote := func(args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(args, "--tracking-uri", url), envMap(nil), &out, &errOut)
		return f.normalizer(t).Replace(out.String()), err
	}
	for _, args := range [][]string{
		{"webhooks", "list"},
		{"webhooks", "list", "-o", "json"},
		{"webhooks", "show", id},
		{"webhooks", "show", id, "-o", "json"},
		{"webhooks", "deliveries", id},
		{"webhooks", "deliveries", id, "--max", "1", "--before", strconv.FormatInt(ids[0], 10), "-o", "json"},
		{"webhooks", "attempts", strconv.FormatInt(ids[2], 10)},
		{"webhooks", "attempts", strconv.FormatInt(ids[2], 10), "-o", "json"},
	} {
		want, err := f.cli(t, args...)
		if err != nil {
			t.Fatalf("local %v: %v", args, err)
		}
		got, err := remote(args...)
		if err != nil {
			t.Fatalf("remote %v: %v", args, err)
		}
		if got != want {
			t.Errorf("%v over HTTP differs:\ngot:\n%s\nwant:\n%s", args, got, want)
		}
	}

	out, err := remote("webhooks", "create", "remote", "https://x.example/in", "--events", "version_created")
	if err != nil || secretLine.FindStringSubmatch(out) == nil {
		t.Fatalf("remote create: %v\n%s", err, out)
	}
	rid := f.id(t, "remote")
	out, err = remote("webhooks", "update", rid, "--rotate-secret", "--model", "churn", "-o", "json")
	if err != nil || !strings.Contains(out, `"secret": "`) || !strings.Contains(out, `"model": "churn"`) {
		t.Errorf("remote update: %v\n%s", err, out)
	}
	if _, err := remote("webhooks", "show", "nope"); loopml.ErrorCode(err) != loopml.ENOTFOUND {
		t.Errorf("remote show of an unknown id: %v", err)
	}
	if _, err := remote("webhooks", "create", "bad", "ftp://x"); loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(userMessage(err), "'url'") {
		t.Errorf("remote create with a bad url: %v", err)
	}
	if _, err := remote("webhooks", "delete", rid); err != nil {
		t.Fatal(err)
	}
	out, err = remote("webhooks", "list", "-o", "json")
	if err != nil || strings.Contains(out, "remote") || !strings.Contains(out, "deploy") {
		t.Errorf("list after remote delete: %v\n%s", err, out)
	}
	names := []string{}
	db := f.openDB(t)
	defer db.Close()
	list, err := db.ListWebhooks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range list {
		names = append(names, w.Name)
	}
	if !slices.Equal(names, []string{"deploy"}) {
		t.Errorf("webhooks in the store: %v", names)
	}
}

package storetest

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
)

var webhookTests = []test{
	{"CRUD", testWebhookCRUD},
	{"Validation", testWebhookValidation},
	{"Workspaces", testWebhookWorkspaces},
	{"Enqueue", testWebhookEnqueue},
	{"ClaimAndRecord", testWebhookClaimAndRecord},
	{"ExpiredLease", testWebhookExpiredLease},
	{"DeleteWebhook", testWebhookDeleteWithDeliveries},
}

var webhookConcurrencyTests = []test{
	{"RacingClaimers", testWebhookRacingClaimers},
	{"RacingEnqueuers", testWebhookRacingEnqueuers},
}

func mustCreateWebhook(t *testing.T, s Store, w loopml.Webhook) *loopml.Webhook {
	t.Helper()
	if w.URL == "" {
		w.URL = "http://127.0.0.1:9/hook"
	}
	if err := s.CreateWebhook(ctx, &w); err != nil {
		t.Fatalf("create webhook %q: %v", w.Name, err)
	}
	return &w
}

func mustEnqueueAll(t *testing.T, s Store) int {
	t.Helper()
	total := 0
	for {
		n, err := s.EnqueueWebhookDeliveries(ctx, 0)
		if err != nil {
			t.Fatalf("enqueue webhook deliveries: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func mustDeliveries(t *testing.T, s Store, webhookID string) []*loopml.WebhookDelivery {
	t.Helper()
	ds, err := s.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: webhookID, MaxResults: 1000})
	if err != nil {
		t.Fatalf("list deliveries of webhook %s: %v", webhookID, err)
	}
	return ds
}

func mustClaim(t *testing.T, s Store, owner string, max int, lease time.Duration) []loopml.WebhookTask {
	t.Helper()
	tasks, err := s.ClaimWebhookDeliveries(ctx, owner, max, lease)
	if err != nil {
		t.Fatalf("claim webhook deliveries as %s: %v", owner, err)
	}
	return tasks
}

func eventTypesOf(ds []*loopml.WebhookDelivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.EventType
	}
	sort.Strings(out)
	return out
}

func testWebhookCRUD(t *testing.T, s Store) {
	w := mustCreateWebhook(t, s, loopml.Webhook{Name: "ci", URL: "https://example.invalid/hook", Events: []string{loopml.EventAliasSet, loopml.EventAliasSet, loopml.EventVersionCreated}, Model: "m", Active: true})
	if w.ID == "" || w.Workspace != loopml.DefaultWorkspace || w.CreationTimestamp == 0 || w.LastUpdatedTimestamp != w.CreationTimestamp {
		t.Fatalf("created webhook not filled in: %+v", w)
	}
	if len(w.Secret) != 64 {
		t.Fatalf("generated secret %q, want 64 hex digits", w.Secret)
	}
	if !equalStrings(w.Events, []string{loopml.EventAliasSet, loopml.EventVersionCreated}) {
		t.Fatalf("events %v, want sorted and de-duplicated", w.Events)
	}
	got, err := s.GetWebhook(ctx, w.ID)
	must(t, err)
	if got.Secret != "" {
		t.Fatal("GetWebhook returned the secret")
	}
	if got.Name != "ci" || got.URL != w.URL || got.Model != "m" || !got.Active || !equalStrings(got.Events, w.Events) || got.CreatedBy == "" {
		t.Fatalf("got %+v, want %+v", got, w)
	}
	mustCreateWebhook(t, s, loopml.Webhook{Name: "alpha", Secret: "s3cret"})
	err = s.CreateWebhook(ctx, &loopml.Webhook{Name: "ci", URL: "http://x.invalid/"})
	wantErr(t, err, loopml.ECONFLICT, "ci")

	list, err := s.ListWebhooks(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "ci" {
		t.Fatalf("list = %v, want alpha, ci", list)
	}
	for _, l := range list {
		if l.Secret != "" {
			t.Fatalf("ListWebhooks returned the secret of %s", l.Name)
		}
	}
	if list[0].Active {
		t.Fatal("webhook created with Active false is active")
	}

	newURL, active, none := "http://127.0.0.1:1/new", false, []string{}
	up, err := s.UpdateWebhook(ctx, w.ID, loopml.WebhookUpdate{URL: &newURL, Active: &active, Events: &none})
	must(t, err)
	if up.URL != newURL || up.Active || len(up.Events) != 0 || up.Name != "ci" || up.Secret != "" {
		t.Fatalf("updated = %+v", up)
	}
	empty := ""
	up, err = s.UpdateWebhook(ctx, w.ID, loopml.WebhookUpdate{Secret: &empty})
	must(t, err)
	if len(up.Secret) != 64 || up.Secret == w.Secret {
		t.Fatalf("rotated secret %q, want a new generated one", up.Secret)
	}
	alpha := "alpha"
	_, err = s.UpdateWebhook(ctx, w.ID, loopml.WebhookUpdate{Name: &alpha})
	wantErr(t, err, loopml.ECONFLICT, "alpha")
	bad := "ftp://x"
	_, err = s.UpdateWebhook(ctx, w.ID, loopml.WebhookUpdate{URL: &bad})
	wantErr(t, err, loopml.EINVALID, "url")
	_, err = s.UpdateWebhook(ctx, "nope", loopml.WebhookUpdate{})
	wantErr(t, err, loopml.ENOTFOUND, "nope")

	must(t, s.DeleteWebhook(ctx, w.ID))
	_, err = s.GetWebhook(ctx, w.ID)
	wantErr(t, err, loopml.ENOTFOUND, w.ID)
	wantErr(t, s.DeleteWebhook(ctx, w.ID), loopml.ENOTFOUND, w.ID)
}

func testWebhookValidation(t *testing.T, s Store) {
	cases := []struct {
		w     loopml.Webhook
		field string
	}{
		{loopml.Webhook{URL: "http://a.invalid/"}, "name"},
		{loopml.Webhook{Name: "n"}, "url"},
		{loopml.Webhook{Name: "n", URL: "/relative"}, "url"},
		{loopml.Webhook{Name: "n", URL: "mailto:a@b"}, "url"},
		{loopml.Webhook{Name: "n", URL: "http://user:pw@a.invalid/"}, "url"},
		{loopml.Webhook{Name: "n", URL: "http://a.invalid/", Events: []string{"alias_moved"}}, "events"},
	}
	for _, c := range cases {
		err := s.CreateWebhook(ctx, &c.w)
		wantErr(t, err, loopml.EINVALID, c.field)
	}
	list, err := s.ListWebhooks(ctx)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("invalid webhooks were created: %v", list)
	}
}

func testWebhookWorkspaces(t *testing.T, s Store) {
	w := mustCreateWebhook(t, s, loopml.Webhook{Name: "hook", Active: true})
	other := loopml.NewContextWithWorkspace(ctx, "team-b")
	_, err := s.GetWebhook(other, w.ID)
	wantErr(t, err, loopml.ENOTFOUND)
	wantErr(t, s.DeleteWebhook(other, w.ID), loopml.ENOTFOUND)
	list, err := s.ListWebhooks(other)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("workspace team-b sees %d webhooks of default", len(list))
	}
	wb := &loopml.Webhook{Name: "hook", URL: "http://127.0.0.1:9/", Active: true}
	must(t, s.CreateWebhook(other, wb)) // same name, other workspace
	if wb.Workspace != "team-b" {
		t.Fatalf("workspace = %q", wb.Workspace)
	}
	// Events go to the webhooks of their own workspace only.
	mustCreateModel(t, s, "m")
	if err := s.CreateRegisteredModel(other, &loopml.RegisteredModel{Name: "mb"}); err != nil {
		t.Fatal(err)
	}
	mustEnqueueAll(t, s)
	if ds := mustDeliveries(t, s, w.ID); len(ds) != 1 || ds[0].EventType != loopml.EventModelCreated {
		t.Fatalf("default webhook deliveries = %v", eventTypesOf(ds))
	}
	ds, err := s.ListWebhookDeliveries(other, loopml.WebhookDeliveryQuery{WebhookID: wb.ID})
	must(t, err)
	if len(ds) != 1 {
		t.Fatalf("team-b webhook got %d deliveries, want 1", len(ds))
	}
	_, err = s.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: wb.ID})
	wantErr(t, err, loopml.ENOTFOUND)
	_, err = s.WebhookAttempts(ctx, ds[0].ID)
	wantErr(t, err, loopml.ENOTFOUND)
}

func testWebhookEnqueue(t *testing.T, s Store) {
	mustCreateModel(t, s, "before") // recorded before any webhook: never delivered
	all := mustCreateWebhook(t, s, loopml.Webhook{Name: "all", Active: true})
	aliases := mustCreateWebhook(t, s, loopml.Webhook{Name: "aliases", Active: true, Events: []string{loopml.EventAliasSet, loopml.EventAliasDeleted}})
	m2 := mustCreateWebhook(t, s, loopml.Webhook{Name: "m2", Active: true, Model: "m2"})
	off := mustCreateWebhook(t, s, loopml.Webhook{Name: "off"})

	mustCreateModel(t, s, "m1")
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "m1"})
	must(t, s.SetAlias(ctx, "m1", "champion", "1"))
	mustCreateModel(t, s, "m2")
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "m2"})
	must(t, s.DeleteAlias(ctx, "m1", "champion"))

	if n := mustEnqueueAll(t, s); n != 7 {
		t.Fatalf("enqueued %d events, want 7 (all since the migration)", n)
	}
	if n := mustEnqueueAll(t, s); n != 0 {
		t.Fatalf("second enqueue consumed %d events, want 0", n)
	}
	check := func(w *loopml.Webhook, want ...string) {
		t.Helper()
		ds := mustDeliveries(t, s, w.ID)
		sort.Strings(want)
		if got := eventTypesOf(ds); !equalStrings(got, want) {
			t.Fatalf("webhook %s deliveries %v, want %v", w.Name, got, want)
		}
		for i, d := range ds {
			if d.Status != loopml.DeliveryPending || d.Attempt != 0 || d.WebhookID != w.ID || d.EventID == 0 || d.CreationTimestamp == 0 {
				t.Fatalf("delivery %+v is not a fresh pending one", d)
			}
			if i > 0 && ds[i-1].ID <= d.ID {
				t.Fatalf("deliveries not newest first: %d then %d", ds[i-1].ID, d.ID)
			}
		}
	}
	check(all, loopml.EventModelCreated, loopml.EventVersionCreated, loopml.EventAliasSet, loopml.EventModelCreated, loopml.EventVersionCreated, loopml.EventAliasDeleted)
	check(aliases, loopml.EventAliasSet, loopml.EventAliasDeleted)
	check(m2, loopml.EventModelCreated, loopml.EventVersionCreated)
	check(off)

	// Paging and the status filter.
	page, err := s.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: all.ID, MaxResults: 2})
	must(t, err)
	rest, err := s.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: all.ID, BeforeID: page[1].ID})
	must(t, err)
	if len(page) != 2 || len(rest) != 4 {
		t.Fatalf("pages of %d and %d deliveries, want 2 and 4", len(page), len(rest))
	}
	done, err := s.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: all.ID, Status: loopml.DeliverySucceeded})
	must(t, err)
	if len(done) != 0 {
		t.Fatalf("%d succeeded deliveries, want 0", len(done))
	}
	_, err = s.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: all.ID, Status: "done"})
	wantErr(t, err, loopml.EINVALID, "status")
	_, err = s.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: "missing"})
	wantErr(t, err, loopml.ENOTFOUND, "missing")

	// Activating a webhook later does not replay what it missed.
	on := true
	_, err = s.UpdateWebhook(ctx, off.ID, loopml.WebhookUpdate{Active: &on})
	must(t, err)
	mustEnqueueAll(t, s)
	check(off)
	must(t, s.SetAlias(ctx, "m2", "prod", "1"))
	mustEnqueueAll(t, s)
	check(off, loopml.EventAliasSet)
}

func testWebhookClaimAndRecord(t *testing.T, s Store) {
	w := mustCreateWebhook(t, s, loopml.Webhook{Name: "h", Secret: "k", Active: true})
	mustCreateModel(t, s, "m")
	mustCreateVersion(t, s, loopml.ModelVersion{Name: "m"})
	mustEnqueueAll(t, s)

	_, err := s.ClaimWebhookDeliveries(ctx, "", 1, time.Minute)
	wantErr(t, err, loopml.EINVALID, "owner")
	_, err = s.ClaimWebhookDeliveries(ctx, "a", 0, time.Minute)
	wantErr(t, err, loopml.EINVALID, "max")

	tasks := mustClaim(t, s, "a", 10, time.Minute)
	if len(tasks) != 2 {
		t.Fatalf("claimed %d deliveries, want 2", len(tasks))
	}
	first := tasks[0]
	if first.Attempt != 1 || first.Webhook.Secret != "k" || first.Webhook.URL != w.URL || first.Webhook.ID != w.ID ||
		first.Event.Type != loopml.EventModelCreated || first.Event.Model != "m" || first.Event.ID != first.Delivery.EventID ||
		first.Event.Principal == "" || first.Event.Workspace != loopml.DefaultWorkspace {
		t.Fatalf("task = %+v", first)
	}
	if tasks[1].Event.Type != loopml.EventVersionCreated || tasks[1].Event.Version != "1" {
		t.Fatalf("second task event = %+v", tasks[1].Event)
	}
	if again := mustClaim(t, s, "b", 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed %d deliveries under live leases", len(again))
	}

	// Success.
	must(t, s.RecordWebhookAttempt(ctx, loopml.WebhookAttemptResult{DeliveryID: first.Delivery.ID, Owner: "a", Attempt: 1,
		Status: loopml.DeliverySucceeded, ResponseCode: 200, Duration: 12 * time.Millisecond}))
	// Wrong owner, then a retry.
	second := tasks[1]
	err = s.RecordWebhookAttempt(ctx, loopml.WebhookAttemptResult{DeliveryID: second.Delivery.ID, Owner: "b", Attempt: 1, Status: loopml.DeliveryFailed})
	wantErr(t, err, loopml.ECONFLICT)
	must(t, s.RecordWebhookAttempt(ctx, loopml.WebhookAttemptResult{DeliveryID: second.Delivery.ID, Owner: "a", Attempt: 1,
		Status: loopml.DeliveryPending, ResponseCode: 503, Error: "HTTP 503", RetryIn: time.Hour}))
	if got := mustClaim(t, s, "a", 10, time.Minute); len(got) != 0 {
		t.Fatalf("claimed a delivery before its retry time: %+v", got[0].Delivery)
	}
	// Recording the same attempt twice is refused.
	err = s.RecordWebhookAttempt(ctx, loopml.WebhookAttemptResult{DeliveryID: second.Delivery.ID, Owner: "a", Attempt: 1, Status: loopml.DeliveryFailed})
	wantErr(t, err, loopml.ECONFLICT)
	err = s.RecordWebhookAttempt(ctx, loopml.WebhookAttemptResult{DeliveryID: 1 << 40, Owner: "a", Attempt: 1, Status: loopml.DeliveryFailed})
	wantErr(t, err, loopml.ENOTFOUND)
	err = s.RecordWebhookAttempt(ctx, loopml.WebhookAttemptResult{DeliveryID: second.Delivery.ID, Owner: "a", Attempt: 2, Status: "ok"})
	wantErr(t, err, loopml.EINVALID, "status")

	ds := mustDeliveries(t, s, w.ID)
	byID := map[int64]*loopml.WebhookDelivery{}
	for _, d := range ds {
		byID[d.ID] = d
	}
	if d := byID[first.Delivery.ID]; d.Status != loopml.DeliverySucceeded || d.Attempt != 1 || d.ResponseCode != 200 || d.Error != "" {
		t.Fatalf("first delivery = %+v", d)
	}
	d := byID[second.Delivery.ID]
	if d.Status != loopml.DeliveryPending || d.Attempt != 1 || d.ResponseCode != 503 || d.Error != "HTTP 503" ||
		d.NextAttemptAt < d.LastUpdatedTimestamp+time.Hour.Milliseconds()-1000 {
		t.Fatalf("second delivery = %+v", d)
	}
	atts, err := s.WebhookAttempts(ctx, first.Delivery.ID)
	must(t, err)
	if len(atts) != 1 || atts[0].Attempt != 1 || atts[0].ResponseCode != 200 || atts[0].DurationMs != 12 || atts[0].Owner != "a" || atts[0].Time == 0 {
		t.Fatalf("attempts = %+v", atts)
	}
	_, err = s.WebhookAttempts(ctx, 1<<40)
	wantErr(t, err, loopml.ENOTFOUND)

	// A due retry is claimed again with the next attempt number, and
	// every attempt is in the log.
	mustCreateModel(t, s, "m3")
	mustEnqueueAll(t, s)
	third := mustClaim(t, s, "a", 10, time.Minute)
	if len(third) != 1 || third[0].Event.Model != "m3" {
		t.Fatalf("claimed %d deliveries, want the one of m3", len(third))
	}
	id := third[0].Delivery.ID
	must(t, s.RecordWebhookAttempt(ctx, loopml.WebhookAttemptResult{DeliveryID: id, Owner: "a", Attempt: 1, Status: loopml.DeliveryPending, Error: "timeout"}))
	retry := mustClaim(t, s, "b", 10, time.Minute)
	if len(retry) != 1 || retry[0].Delivery.ID != id || retry[0].Attempt != 2 || retry[0].Delivery.Error != "timeout" {
		t.Fatalf("retry claim = %+v", retry)
	}
	must(t, s.RecordWebhookAttempt(ctx, loopml.WebhookAttemptResult{DeliveryID: id, Owner: "b", Attempt: 2, Status: loopml.DeliveryFailed, ResponseCode: 404, Error: "HTTP 404"}))
	atts, err = s.WebhookAttempts(ctx, id)
	must(t, err)
	if len(atts) != 2 || atts[0].Error != "timeout" || atts[0].Owner != "a" || atts[1].ResponseCode != 404 || atts[1].Owner != "b" {
		t.Fatalf("attempts = %+v", atts)
	}
	failed, err := s.ListWebhookDeliveries(ctx, loopml.WebhookDeliveryQuery{WebhookID: w.ID, Status: loopml.DeliveryFailed})
	must(t, err)
	if len(failed) != 1 || failed[0].ID != id || failed[0].Attempt != 2 {
		t.Fatalf("failed deliveries = %+v", failed)
	}
	if got := mustClaim(t, s, "c", 10, time.Minute); len(got) != 0 {
		t.Fatalf("claimed a finished delivery: %+v", got[0].Delivery)
	}
}

func testWebhookExpiredLease(t *testing.T, s Store) {
	mustCreateWebhook(t, s, loopml.Webhook{Name: "h", Active: true})
	mustCreateModel(t, s, "m")
	mustEnqueueAll(t, s)
	a := mustClaim(t, s, "a", 1, 200*time.Millisecond)
	if len(a) != 1 {
		t.Fatalf("claimed %d, want 1", len(a))
	}
	if b := mustClaim(t, s, "b", 1, time.Minute); len(b) != 0 {
		t.Fatal("claimed under a live lease")
	}
	time.Sleep(250 * time.Millisecond)
	b := mustClaim(t, s, "b", 1, time.Minute)
	if len(b) != 1 || b[0].Delivery.ID != a[0].Delivery.ID || b[0].Attempt != 1 {
		t.Fatalf("after the lease expired, claimed %+v", b)
	}
	// The crashed owner's late report is refused; the new owner's counts.
	err := s.RecordWebhookAttempt(ctx, loopml.WebhookAttemptResult{DeliveryID: a[0].Delivery.ID, Owner: "a", Attempt: 1, Status: loopml.DeliverySucceeded})
	wantErr(t, err, loopml.ECONFLICT)
	must(t, s.RecordWebhookAttempt(ctx, loopml.WebhookAttemptResult{DeliveryID: b[0].Delivery.ID, Owner: "b", Attempt: 1, Status: loopml.DeliverySucceeded}))
}

func testWebhookDeleteWithDeliveries(t *testing.T, s Store) {
	w := mustCreateWebhook(t, s, loopml.Webhook{Name: "h", Active: true})
	keep := mustCreateWebhook(t, s, loopml.Webhook{Name: "keep", Active: true})
	mustCreateModel(t, s, "m")
	mustEnqueueAll(t, s)
	tasks := mustClaim(t, s, "a", 10, time.Minute)
	if len(tasks) != 2 {
		t.Fatalf("claimed %d, want 2", len(tasks))
	}
	must(t, s.DeleteWebhook(ctx, w.ID))
	for _, task := range tasks {
		err := s.RecordWebhookAttempt(ctx, loopml.WebhookAttemptResult{DeliveryID: task.Delivery.ID, Owner: "a", Attempt: 1, Status: loopml.DeliverySucceeded})
		if task.Webhook.ID == w.ID {
			wantErr(t, err, loopml.ENOTFOUND)
		} else {
			must(t, err)
		}
	}
	if ds := mustDeliveries(t, s, keep.ID); len(ds) != 1 || ds[0].Status != loopml.DeliverySucceeded {
		t.Fatalf("deliveries of the other webhook = %+v", ds)
	}
	// Inactive webhooks' deliveries wait.
	off := false
	_, err := s.UpdateWebhook(ctx, keep.ID, loopml.WebhookUpdate{Active: &off})
	must(t, err)
	on := true
	mustCreateWebhook(t, s, loopml.Webhook{Name: "h2", Active: true})
	mustCreateModel(t, s, "m2")
	mustEnqueueAll(t, s)
	if got := mustClaim(t, s, "a", 10, time.Minute); len(got) != 1 || got[0].Webhook.Name != "h2" {
		t.Fatalf("claimed %d deliveries, want only h2's", len(got))
	}
	_, err = s.UpdateWebhook(ctx, keep.ID, loopml.WebhookUpdate{Active: &on})
	must(t, err)
	mustEnqueueAll(t, s)
	if got := mustClaim(t, s, "a", 10, time.Minute); len(got) != 0 {
		t.Fatalf("an event recorded while the webhook was inactive was enqueued: %+v", got)
	}
}

func testWebhookRacingClaimers(t *testing.T, s Store) {
	const hooks, models, claimers = 4, 10, 4
	for i := range hooks {
		mustCreateWebhook(t, s, loopml.Webhook{Name: fmt.Sprintf("h%d", i), Active: true})
	}
	for i := range models {
		mustCreateModel(t, s, fmt.Sprintf("m%d", i))
	}
	mustEnqueueAll(t, s)
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, claimers)
	for c := range claimers {
		owner := fmt.Sprintf("c%d", c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				tasks, err := s.ClaimWebhookDeliveries(ctx, owner, 3, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if len(tasks) == 0 {
					return
				}
				mu.Lock()
				for _, task := range tasks {
					if prev, dup := seen[task.Delivery.ID]; dup {
						mu.Unlock()
						errs <- fmt.Errorf("delivery %d claimed by %s and %s", task.Delivery.ID, prev, owner)
						return
					}
					seen[task.Delivery.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != hooks*models {
		t.Fatalf("claimed %d deliveries, want %d", len(seen), hooks*models)
	}
}

func testWebhookRacingEnqueuers(t *testing.T, s Store) {
	const hooks, models, enqueuers = 3, 12, 4
	var ws []*loopml.Webhook
	for i := range hooks {
		ws = append(ws, mustCreateWebhook(t, s, loopml.Webhook{Name: fmt.Sprintf("h%d", i), Active: true}))
	}
	var wg sync.WaitGroup
	errs := make(chan error, enqueuers+1)
	wg.Add(1)
	go func() { // registry writes while enqueuers run
		defer wg.Done()
		for i := range models {
			if err := s.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: fmt.Sprintf("m%d", i)}); err != nil {
				errs <- err
				return
			}
		}
	}()
	for range enqueuers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 * models {
				if _, err := s.EnqueueWebhookDeliveries(ctx, 2); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mustEnqueueAll(t, s)
	for _, w := range ws {
		ds := mustDeliveries(t, s, w.ID)
		events := map[int64]bool{}
		for _, d := range ds {
			if events[d.EventID] {
				t.Fatalf("event %d enqueued twice for webhook %s", d.EventID, w.Name)
			}
			events[d.EventID] = true
		}
		if len(ds) != models {
			t.Fatalf("webhook %s has %d deliveries, want %d", w.Name, len(ds), models)
		}
	}
}

package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/httpapi"
	"github.com/loopml/loopml/sqlstore"
	"github.com/loopml/loopml/webhook"
)

// TestServerDeliversWebhooks checks the wiring of the webhook dispatcher in
// loopml server: an alias moved through the API reaches a registered
// webhook, signed with its secret.
func TestServerDeliversWebhooks(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	url, stderr, stop := startServer(t, home)

	var mu sync.Mutex
	var got []string
	var secret string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(secret, r.Header, body, time.Minute); err != nil {
			t.Errorf("delivery signature: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got = append(got, r.Header.Get(webhook.HeaderEvent))
	}))
	defer recv.Close()

	// The webhook goes in through a second handle on the server's database
	// (the HTTP endpoints for webhooks are tested in httpapi).
	db, err := sqlstore.Open(ctx, "sqlite://"+filepath.Join(home, "loopml.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hook := &loopml.Webhook{Name: "ci", URL: recv.URL, Events: []string{loopml.EventAliasSet}, Active: true}
	if err := db.CreateWebhook(ctx, hook); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	secret = hook.Secret
	mu.Unlock()

	c := httpapi.NewClient(url, nil)
	if err := c.CreateRegisteredModel(ctx, &loopml.RegisteredModel{Name: "recs"}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateModelVersion(ctx, &loopml.ModelVersion{Name: "recs", Source: "mlflow-artifacts:/0/x/artifacts/model"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetAlias(ctx, "recs", "champion", "1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no webhook delivery within 20s; server log:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("server stop: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != loopml.EventAliasSet {
		t.Errorf("deliveries = %v, want exactly one %s (the filter drops version and model events)", got, loopml.EventAliasSet)
	}
}

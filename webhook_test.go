package loopml_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

func TestWebhookLogValueRedactsSecret(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	w := loopml.Webhook{ID: "abc", Name: "ci", URL: "https://example.invalid/h", Secret: "hunter2-very-secret"}
	log.Info("created", "webhook", w)
	log.Info("created", "webhook", &w)
	out := buf.String()
	if strings.Contains(out, "hunter2") {
		t.Fatalf("secret logged: %s", out)
	}
	if !strings.Contains(out, `"secret":"REDACTED"`) || !strings.Contains(out, `"name":"ci"`) {
		t.Fatalf("log lacks the redacted secret or the name: %s", out)
	}
}

func TestValidateWebhook(t *testing.T) {
	cases := []struct {
		name  string
		w     loopml.Webhook
		field string // "" = valid
	}{
		{"valid", loopml.Webhook{Name: "n", URL: "https://h.invalid/x?y=1"}, ""},
		{"valid http with port", loopml.Webhook{Name: "n", URL: "http://127.0.0.1:8080/"}, ""},
		{"no name", loopml.Webhook{URL: "https://h.invalid/"}, "name"},
		{"blank name", loopml.Webhook{Name: "  ", URL: "https://h.invalid/"}, "name"},
		{"long name", loopml.Webhook{Name: strings.Repeat("n", loopml.MaxWebhookNameLen+1), URL: "https://h.invalid/"}, "name"},
		{"no url", loopml.Webhook{Name: "n"}, "url"},
		{"relative url", loopml.Webhook{Name: "n", URL: "/hook"}, "url"},
		{"ftp url", loopml.Webhook{Name: "n", URL: "ftp://h.invalid/"}, "url"},
		{"no host", loopml.Webhook{Name: "n", URL: "http:///x"}, "url"},
		{"credentials", loopml.Webhook{Name: "n", URL: "https://u:p@h.invalid/"}, "url"},
		{"long url", loopml.Webhook{Name: "n", URL: "https://h.invalid/" + strings.Repeat("x", loopml.MaxWebhookURLLen)}, "url"},
		{"unknown event", loopml.Webhook{Name: "n", URL: "https://h.invalid/", Events: []string{"alias_set", "nope"}}, "events"},
		{"long secret", loopml.Webhook{Name: "n", URL: "https://h.invalid/", Secret: strings.Repeat("s", loopml.MaxWebhookSecretLen+1)}, "secret"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := loopml.ValidateWebhook(&c.w)
			if c.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "'"+c.field+"'") {
				t.Fatalf("got %v, want EINVALID naming '%s'", err, c.field)
			}
		})
	}
	w := loopml.Webhook{Name: "n", URL: "https://h.invalid/", Events: []string{"version_created", "alias_set", "version_created"}}
	if err := loopml.ValidateWebhook(&w); err != nil {
		t.Fatal(err)
	}
	if strings.Join(w.Events, ",") != "alias_set,version_created" {
		t.Fatalf("events %v, want sorted and de-duplicated", w.Events)
	}
}

func TestWebhookMatches(t *testing.T) {
	e := loopml.RegistryEvent{Workspace: "default", Type: loopml.EventAliasSet, Model: "m"}
	cases := []struct {
		name string
		w    loopml.Webhook
		want bool
	}{
		{"no filters", loopml.Webhook{Workspace: "default"}, true},
		{"other workspace", loopml.Webhook{Workspace: "b"}, false},
		{"type listed", loopml.Webhook{Workspace: "default", Events: []string{loopml.EventAliasDeleted, loopml.EventAliasSet}}, true},
		{"type not listed", loopml.Webhook{Workspace: "default", Events: []string{loopml.EventVersionCreated}}, false},
		{"model", loopml.Webhook{Workspace: "default", Model: "m"}, true},
		{"other model", loopml.Webhook{Workspace: "default", Model: "m2"}, false},
		{"both", loopml.Webhook{Workspace: "default", Model: "m", Events: []string{loopml.EventAliasSet}}, true},
	}
	for _, c := range cases {
		if got := c.w.Matches(e); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNewWebhookSecret(t *testing.T) {
	a, b := loopml.NewWebhookSecret(), loopml.NewWebhookSecret()
	if len(a) != 64 || a == b {
		t.Fatalf("secrets %q and %q", a, b)
	}
}

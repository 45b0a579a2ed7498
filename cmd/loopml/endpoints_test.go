package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cliRun(t, args...)
	if err != nil {
		t.Fatalf("loopml %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func wantCLIError(t *testing.T, want string, args ...string) {
	t.Helper()
	_, err := cliRun(t, args...)
	if err == nil || !strings.Contains(userMessage(err), want) {
		t.Fatalf("loopml %s: got %v, want an error containing %q", strings.Join(args, " "), err, want)
	}
}

func TestEndpointsCommandsLocal(t *testing.T) {
	home, _ := servingHome(t)
	h := []string{"--home", home}
	out := mustCLI(t, append([]string{"endpoints", "create", "ep", "--target", "models:/recs@champion", "--target", "models:/recs@challenger=10",
		"--shadow", "models:/recs/1", "--sticky-header", "X-User-Id"}, h...)...)
	for _, want := range []string{"models:/recs@champion (90%)", "models:/recs@challenger (10%)", "Shadow:         models:/recs/1", "X-User-Id"} {
		if !strings.Contains(out, want) {
			t.Fatalf("create output lacks %q:\n%s", want, out)
		}
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, append([]string{"endpoints", "list", "-o", "json"}, h...)...)), &list); err != nil || len(list) != 1 || list[0]["name"] != "ep" {
		t.Fatalf("list -o json: %v %v", list, err)
	}
	out = mustCLI(t, append([]string{"endpoints", "update", "ep", "--target", "models:/recs@champion=1", "--target", "models:/recs@challenger=1", "--no-shadow", "--reason", "even split"}, h...)...)
	if !strings.Contains(out, "(50%)") || !strings.Contains(out, "Shadow:         -") {
		t.Fatalf("update output:\n%s", out)
	}
	out = mustCLI(t, append([]string{"endpoints", "rollout", "ep", "--to", "models:/recs/1", "--steps", "10,50,100", "--interval", "2m", "--max-p99-ratio", "1.5", "--promote-alias", "champion"}, h...)...)
	for _, want := range []string{"running to models:/recs/1, step 1/3 (10%)", "[10 50 100] every 2m0s", "p99 ratio <= 1.5", "Promote alias:  champion"} {
		if !strings.Contains(out, want) {
			t.Fatalf("rollout output lacks %q:\n%s", want, out)
		}
	}
	wantCLIError(t, "already has a rollout", append([]string{"endpoints", "rollout", "ep", "--to", "models:/recs/1"}, h...)...)
	wantCLIError(t, "rollout in progress", append([]string{"endpoints", "update", "ep", "--target", "models:/recs/1"}, h...)...)
	if out = mustCLI(t, append([]string{"endpoints", "rollout", "ep", "--status"}, h...)...); !strings.Contains(out, "step 1/3") {
		t.Fatalf("status:\n%s", out)
	}
	out = mustCLI(t, append([]string{"endpoints", "rollout", "ep", "--abort", "--reason", "offline eval regressed"}, h...)...)
	if !strings.Contains(out, "aborted to models:/recs/1") || !strings.Contains(out, "offline eval regressed") || !strings.Contains(out, "models:/recs@champion (50%)") {
		t.Fatalf("abort:\n%s", out)
	}
	// The registry history of the model shows every change.
	out = mustCLI(t, append([]string{"models", "history", "recs"}, h...)...)
	for _, want := range []string{"endpoint_created", "endpoint_updated", "endpoint ep: even split", "rollout_started", "rollout_aborted", "offline eval regressed"} {
		if !strings.Contains(out, want) {
			t.Fatalf("models history lacks %q:\n%s", want, out)
		}
	}
	var evs []map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, append([]string{"models", "history", "recs", "-o", "json"}, h...)...)), &evs); err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last["endpoint"] != "ep" || last["detail"].(map[string]any)["candidate"] != "models:/recs/1" {
		t.Fatalf("last event as JSON: %v", last)
	}
	mustCLI(t, append([]string{"endpoints", "delete", "ep"}, h...)...)
	wantCLIError(t, "not found", append([]string{"endpoints", "show", "ep"}, h...)...)

	for _, tc := range []struct {
		want string
		args []string
	}{
		{"weight", []string{"endpoints", "create", "x", "--target", "models:/recs/1=-2"}},
		{"leaving nothing", []string{"endpoints", "create", "x", "--target", "models:/recs/1=120", "--target", "models:/recs/2"}},
		{"Invalid model URI", []string{"endpoints", "create", "x", "--target", "recs"}},
		{"'targets'", []string{"endpoints", "create", "x"}},
		{"exactly one of", []string{"endpoints", "rollout", "x"}},
		{"--steps", []string{"endpoints", "rollout", "x", "--to", "models:/recs/2", "--steps", "5,half"}},
		{"'rollout.steps[1]'", []string{"endpoints", "rollout", "x", "--to", "models:/recs/2", "--steps", "50,20"}},
		{"nothing to change", []string{"endpoints", "update", "x"}},
		{"not found", []string{"endpoints", "rollout", "x", "--to", "models:/recs/2"}},
	} {
		wantCLIError(t, tc.want, append(tc.args, h...)...)
	}
}

// TestEndpointsServedByServer: an endpoint created through the API is
// served by the server within a second or two, follows updates, and is
// served by a serving-only replica (loopml serve --tracking-uri).
func TestEndpointsServedByServer(t *testing.T) {
	home, _ := servingHome(t)
	url, _, _ := startServer(t, home)
	tu := []string{"--tracking-uri", url}
	mustCLI(t, append([]string{"endpoints", "create", "stored", "--target", "models:/recs@champion"}, tu...)...)
	waitFor(t, func() bool {
		code, _, _ := httpJSON(t, "POST", url+"/endpoints/stored/recommend", `{"user_id": "1", "k": 2}`)
		return code == 200
	})

	// A serving-only replica of the same store.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--tracking-uri", url, "--addr", "127.0.0.1:0", "--poll-interval", "0"}, envMap(nil), &stdout, &stderr)
	}()
	var replica string
	waitFor(t, func() bool {
		if m := listeningRE.FindStringSubmatch(stdout.String()); m != nil {
			replica = m[1]
			return true
		}
		return false
	})
	if code, out, _ := httpJSON(t, "POST", replica+"/endpoints/stored/recommend", `{"user_id": "1", "k": 2}`); code != 200 || out["model_version"] != "1" {
		t.Fatalf("replica: %d %v\n%s", code, out, stderr.String())
	}
	mustCLI(t, append([]string{"endpoints", "delete", "stored"}, tu...)...)
	for _, base := range []string{url, replica} {
		waitFor(t, func() bool {
			code, _, _ := httpJSON(t, "POST", base+"/endpoints/stored/recommend", `{"user_id": "1", "k": 2}`)
			return code == 404
		})
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestServerRefusesEndpointNameClash: a stored endpoint named like one of
// the --endpoints file stops the server at start, naming it.
func TestServerRefusesEndpointNameClash(t *testing.T) {
	home, file := servingHome(t) // the file declares endpoint "recs"
	mustCLI(t, "endpoints", "create", "recs", "--target", "models:/recs/1", "--home", home)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	err := run(ctx, []string{"server", "--addr", "127.0.0.1:0", "--home", home, "--endpoints", file}, envMap(nil), &out, &errOut)
	if err == nil || !strings.Contains(userMessage(err), "recs") || !strings.Contains(userMessage(err), "endpoints file") {
		t.Fatalf("server with a clashing stored endpoint: %v, want an error naming recs", err)
	}
}

package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestServing runs the model gateway of a real `loopml server` process
// with synthetic traffic: model "recs" has version 1 (popularity) and 2
// (matrix factorisation), both trained by `loopml train` on a tiny
// synthetic data set, and alias champion -> 1. Endpoints are created
// through the endpoints API; the server serves them within a second.
func TestServing(t *testing.T) {
	home := t.TempDir()
	trainServingModels(t, home)
	p := startServer(t, serverOptions{Home: home, Args: []string{"--log-level", "info"}})
	c := &gatewayClient{t: t, base: p.BaseURL, hc: &http.Client{Timeout: 10 * time.Second}}

	t.Run("TrafficSplit", func(t *testing.T) {
		c := c.with(t)
		c.createEndpoint(`{"name": "split", "targets": [{"model": "models:/recs/1", "weight": 80}, {"model": "models:/recs/2", "weight": 20}]}`)
		const n = 1000
		counts := map[string]int{}
		for i := range n {
			v, code := c.recommend("split", fmt.Sprint(i%50+1), nil)
			if code != 200 {
				t.Fatalf("request %d: status %d", i, code)
			}
			counts[v]++
		}
		if share := float64(counts["1"]) / n; share < 0.75 || share > 0.85 || counts["1"]+counts["2"] != n {
			t.Fatalf("versions answered %v: version 1 share %.3f, want 0.80 +- 0.05", counts, share)
		}
	})

	t.Run("StickyRouting", func(t *testing.T) {
		c := c.with(t)
		c.createEndpoint(`{"name": "sticky", "targets": [{"model": "models:/recs/1", "weight": 50}, {"model": "models:/recs/2", "weight": 50}], "sticky_header": "X-User-Id"}`)
		seen := map[string]bool{}
		for u := range 40 {
			user := fmt.Sprint("user-", u)
			first := ""
			for i := range 10 {
				v, code := c.recommend("sticky", "1", map[string]string{"X-User-Id": user})
				if code != 200 {
					t.Fatalf("status %d", code)
				}
				if i == 0 {
					first = v
				} else if v != first {
					t.Fatalf("user %s got version %s then %s", user, first, v)
				}
			}
			seen[first] = true
		}
		if !seen["1"] || !seen["2"] {
			t.Fatalf("40 users all landed on one version: %v", seen)
		}
	})

	t.Run("Shadow", func(t *testing.T) {
		c := c.with(t)
		c.createEndpoint(`{"name": "shadowed", "targets": [{"model": "models:/recs/1"}], "shadow": [{"model": "models:/recs/2"}]}`)
		for i := range 200 {
			if v, code := c.recommend("shadowed", fmt.Sprint(i%30+1), nil); code != 200 || v != "1" {
				t.Fatalf("request %d answered by version %q (status %d): the shadow must never answer", i, v, code)
			}
		}
		waitUntil(t, 10*time.Second, "the shadow target to get the mirrored traffic", func() bool {
			n := 0
			for _, line := range strings.Split(p.Output(), "\n") {
				if strings.Contains(line, `msg="shadow recommendation"`) && strings.Contains(line, "endpoint=shadowed") && strings.Contains(line, "shadow=recs/2") {
					n++
				}
			}
			return n >= 100
		})
	})

	t.Run("AliasHotSwap", func(t *testing.T) {
		c := c.with(t)
		c.createEndpoint(`{"name": "swap", "targets": [{"model": "models:/recs@champion"}]}`)
		traffic := c.traffic("swap", 4)
		time.Sleep(300 * time.Millisecond)
		c.setAlias("champion", "2")
		waitUntil(t, 15*time.Second, "version 2 to answer after the alias moved", func() bool { return traffic.seen("2") > 20 })
		c.setAlias("champion", "1")
		waitUntil(t, 15*time.Second, "version 1 to answer again", func() bool { return traffic.last() == "1" })
		traffic.stop()
		if traffic.failed.Load() != 0 || traffic.ok.Load() < 100 {
			t.Fatalf("during two champion swaps: %d requests failed, %d succeeded; want 0 failures\n%s", traffic.failed.Load(), traffic.ok.Load(), traffic.errors())
		}
	})

	t.Run("CanaryPromotion", func(t *testing.T) {
		c := c.with(t)
		c.createEndpoint(`{"name": "canary", "targets": [{"model": "models:/recs@champion"}]}`)
		traffic := c.traffic("canary", 4)
		c.call("POST", "/api/2.0/loopml/endpoints/rollout/start", `{"name": "canary", "rollout": {"candidate": "models:/recs/2",
			"steps": [20, 60, 100], "interval_ms": 1000, "max_error_rate": 0.01, "min_samples": 20, "promote_alias": "champion"}}`, 200)
		ro := c.waitRollout("canary", 60*time.Second)
		traffic.stop()
		if ro["state"] != "promoted" {
			t.Fatalf("rollout ended %v, want promoted", ro)
		}
		if v := c.aliasVersion("champion"); v != "2" {
			t.Fatalf("champion -> %s after the promotion, want 2", v)
		}
		if traffic.failed.Load() != 0 || traffic.seen("2") == 0 {
			t.Fatalf("during the rollout: %d failed, versions %v\n%s", traffic.failed.Load(), traffic.counts(), traffic.errors())
		}
		evs := c.events()
		for _, want := range []string{"rollout_started", "rollout_step", "rollout_promoted"} {
			if !strings.Contains(evs, `"type":"`+want+`"`) {
				t.Fatalf("registry events lack %s: %s", want, evs)
			}
		}
		waitUntil(t, 10*time.Second, "version 2 to serve the endpoint alone", func() bool {
			v, _ := c.recommend("canary", "1", nil)
			return v == "2"
		})
		c.setAlias("champion", "1") // for the next subtest
	})

	t.Run("CanaryRollback", func(t *testing.T) {
		c := c.with(t)
		// Version 3 is a package the native runtime cannot serve (a
		// python_function model): the candidate never loads.
		c.call("PUT", "/api/2.0/mlflow-artifacts/artifacts/broken/model/MLmodel", "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n", 200)
		c.call("POST", "/api/2.0/mlflow/model-versions/create", `{"name": "recs", "source": "mlflow-artifacts:/broken/model"}`, 200)
		c.createEndpoint(`{"name": "bad-canary", "targets": [{"model": "models:/recs@champion"}]}`)
		traffic := c.traffic("bad-canary", 2)
		c.call("POST", "/api/2.0/loopml/endpoints/rollout/start", `{"name": "bad-canary", "rollout": {"candidate": "models:/recs/3",
			"steps": [50, 100], "interval_ms": 1000, "max_error_rate": 0.01, "min_samples": 20, "promote_alias": "champion"}}`, 200)
		ro := c.waitRollout("bad-canary", 60*time.Second)
		traffic.stop()
		if ro["state"] != "rolled_back" || !strings.Contains(fmt.Sprint(ro["reason"]), "guard load") {
			t.Fatalf("rollout ended %v, want rolled_back by the load guard", ro)
		}
		if v := c.aliasVersion("champion"); v != "1" {
			t.Fatalf("champion -> %s after a rollback, want 1", v)
		}
		if traffic.failed.Load() != 0 || traffic.seen("3") != 0 {
			t.Fatalf("during the rollout: %d failed, versions %v\n%s", traffic.failed.Load(), traffic.counts(), traffic.errors())
		}
		m := c.call("GET", "/api/2.0/loopml/endpoints/get?name=bad-canary", "", 200)
		ts := m["endpoint"].(map[string]any)["targets"].([]any)
		if len(ts) != 1 || ts[0].(map[string]any)["model"] != "models:/recs@champion" {
			t.Fatalf("targets after the rollback: %v", ts)
		}
		if evs := c.events(); !strings.Contains(evs, `"type":"rollout_rolled_back"`) || !strings.Contains(evs, `\"guard\":\"load\"`) {
			t.Fatalf("registry events lack the rollback with its guard: %s", evs)
		}
	})
}

// trainServingModels registers recs v1 (popularity) and v2 (mf) in home
// with the loopml binary and points champion at version 1.
func trainServingModels(t *testing.T, home string) {
	t.Helper()
	data := filepath.Join(t.TempDir(), "movies")
	for _, args := range [][]string{
		{"example", "movies", "generate", "--out", data, "--users", "60", "--movies", "80", "--months", "3", "--ratings-per-user", "15", "--seed", "3"},
		{"train", "popularity", "--data", data, "--register", "recs", "--home", home},
		{"train", "mf", "--data", data, "--register", "recs", "--params", "factors=8,epochs=3", "--home", home},
		{"models", "alias", "set", "recs", "champion", "1", "--home", home},
	} {
		cmd := exec.Command(loopmlBin, args...)
		cmd.Env = childEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("loopml %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// gatewayClient sends requests to the server under test.
type gatewayClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (c *gatewayClient) with(t *testing.T) *gatewayClient {
	return &gatewayClient{t: t, base: c.base, hc: c.hc}
}

// call sends a request and decodes the JSON answer, failing the test
// unless the status is want.
func (c *gatewayClient) call(method, path, body string, want int) map[string]any {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" && method != "PUT" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// createEndpoint creates an endpoint and waits until the gateway serves it.
func (c *gatewayClient) createEndpoint(body string) {
	c.t.Helper()
	m := c.call("POST", "/api/2.0/loopml/endpoints/create", body, 200)
	name := m["endpoint"].(map[string]any)["name"].(string)
	waitUntil(c.t, 15*time.Second, "endpoint "+name+" to be served", func() bool {
		_, code := c.recommend(name, "1", nil)
		return code == 200
	})
}

// recommend asks endpoint for 3 items and returns the answering version
// and the status (0 on a transport error).
func (c *gatewayClient) recommend(endpoint, user string, hdr map[string]string) (string, int) {
	req, _ := http.NewRequest("POST", c.base+"/endpoints/"+endpoint+"/recommend", strings.NewReader(`{"user_id": "`+user+`", "k": 3}`))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("X-Loopml-Model-Version"), resp.StatusCode
}

func (c *gatewayClient) setAlias(alias, version string) {
	c.t.Helper()
	c.call("POST", "/api/2.0/mlflow/registered-models/alias", `{"name": "recs", "alias": "`+alias+`", "version": "`+version+`"}`, 200)
}

func (c *gatewayClient) aliasVersion(alias string) string {
	c.t.Helper()
	m := c.call("GET", "/api/2.0/mlflow/registered-models/alias?name=recs&alias="+alias, "", 200)
	v, _ := m["model_version"].(map[string]any)["version"].(string)
	return v
}

// events returns the registry event log of recs as JSON text.
func (c *gatewayClient) events() string {
	c.t.Helper()
	m := c.call("GET", "/api/2.0/loopml/registry/events?name=recs&max_results=1000", "", 200)
	b, _ := json.Marshal(m["events"])
	return string(b)
}

// waitRollout waits until the endpoint's rollout is no longer running and
// returns it.
func (c *gatewayClient) waitRollout(endpoint string, timeout time.Duration) map[string]any {
	c.t.Helper()
	var ro map[string]any
	waitUntil(c.t, timeout, "the rollout of "+endpoint+" to finish", func() bool {
		m := c.call("GET", "/api/2.0/loopml/endpoints/rollout/status?name="+endpoint, "", 200)
		ro = m["rollout"].(map[string]any)
		return ro["state"] != "running" && ro["state"] != "promoting"
	})
	return ro
}

// trafficGen sends recommend requests from n goroutines until stopped.
type trafficGen struct {
	ok, failed atomic.Int64
	done       chan struct{}
	wg         sync.WaitGroup

	mu       sync.Mutex
	versions map[string]int
	lastV    string
	errs     bytes.Buffer
}

func (c *gatewayClient) traffic(endpoint string, n int) *trafficGen {
	g := &trafficGen{done: make(chan struct{}), versions: map[string]int{}}
	for w := range n {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-g.done:
					return
				default:
				}
				v, code := c.recommend(endpoint, fmt.Sprint((w*1000+i)%40+1), nil)
				g.mu.Lock()
				if code == 200 {
					g.ok.Add(1)
					g.versions[v]++
					g.lastV = v
				} else {
					g.failed.Add(1)
					if g.errs.Len() < 2000 {
						fmt.Fprintf(&g.errs, "status %d at %s\n", code, time.Now().Format(time.TimeOnly))
					}
				}
				g.mu.Unlock()
			}
		}()
	}
	return g
}

func (g *trafficGen) stop() {
	select {
	case <-g.done:
	default:
		close(g.done)
	}
	g.wg.Wait()
}

func (g *trafficGen) seen(v string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.versions[v]
}

func (g *trafficGen) last() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastV
}

func (g *trafficGen) counts() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]int{}
	for k, v := range g.versions {
		out[k] = v
	}
	return out
}

func (g *trafficGen) errors() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.errs.String()
}

// waitUntil polls cond every 20ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

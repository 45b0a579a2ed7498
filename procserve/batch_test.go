package procserve_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loopml/loopml/procserve"
)

// childRequests returns the row counts of the requests the child saw.
func childRequests(t *testing.T, state string) []int {
	t.Helper()
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// TestBatchingConcurrent sends concurrent requests of different sizes and
// formats (and a few that are never merged) to a slow child: every request
// gets exactly its own predictions, the child sees fewer, larger
// requests, and none larger than max_rows unless one request alone is.
func TestBatchingConcurrent(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	spec := goChild("ok", "CHILD_DELAY_MS", "15", "CHILD_STATE", state)
	spec.Batch = &procserve.Batch{MaxRows: 16, MaxWait: 5 * time.Millisecond}
	rt := start(t, spec, fastOptions(nil))
	const clients, perClient = 24, 8
	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(c), 7))
			for range perClient {
				n := 1 + rnd.IntN(5)
				xs := make([][2]int, n)
				want := make([]string, n)
				for i := range xs {
					xs[i] = [2]int{rnd.IntN(100), rnd.IntN(100)}
					want[i] = strconv.Itoa(2*xs[i][0] + 3*xs[i][1] + 1)
				}
				var body string
				switch kind := rnd.IntN(5); kind {
				case 0, 1: // dataframe_split
					rows, _ := json.Marshal(xs)
					body = `{"dataframe_split": {"columns": ["x", "y"], "data": ` + string(rows) + `}}`
				case 2, 3: // records or inputs
					var recs []string
					for _, r := range xs {
						recs = append(recs, fmt.Sprintf(`{"x": %d, "y": %d}`, r[0], r[1]))
					}
					key := map[int]string{2: "dataframe_records", 3: "inputs"}[kind]
					body = `{"` + key + `": [` + strings.Join(recs, ", ") + `]}`
				default: // params: sent alone
					rows, _ := json.Marshal(xs)
					body = `{"dataframe_split": {"columns": ["x", "y"], "data": ` + string(rows) + `}, "params": {"p": 1}}`
				}
				code, got := invoke(t, rt, body)
				if wantBody := `{"predictions":[` + strings.Join(want, ",") + `]}`; code != 200 || strings.TrimSpace(got) != wantBody {
					errs <- fmt.Errorf("%s: %d %s, want %s", body, code, got, wantBody)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := childRequests(t, state)
	merged, maxRows := 0, 0
	for _, n := range seen {
		if n > 5 {
			merged++
		}
		maxRows = max(maxRows, n)
	}
	t.Logf("%d client requests became %d child requests (%d larger than any one request, largest %d rows)", clients*perClient, len(seen), merged, maxRows)
	if len(seen) >= clients*perClient*3/4 || merged == 0 {
		t.Errorf("batching did not merge: %d child requests for %d client requests", len(seen), clients*perClient)
	}
	if maxRows > 16 {
		t.Errorf("a child request had %d rows, max_rows is 16", maxRows)
	}
}

// TestBatchingBadRow: a request with a bad row merged with good ones fails
// alone, with the child's status and message; the others succeed.
func TestBatchingBadRow(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	spec := goChild("ok", "CHILD_DELAY_MS", "30", "CHILD_STATE", state)
	spec.Batch = &procserve.Batch{MaxRows: 64, MaxWait: 20 * time.Millisecond}
	rt := start(t, spec, fastOptions(nil))
	// Keep the child busy so that the next requests queue and merge.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); invoke(t, rt, `{"inputs": [{"x": 0, "y": 0}]}`) }()
	time.Sleep(5 * time.Millisecond)
	type result struct {
		code int
		body string
	}
	res := make([]result, 6)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := i
			if i == 3 {
				x = -4
			}
			res[i].code, res[i].body = invoke(t, rt, fmt.Sprintf(`{"dataframe_records": [{"x": %d, "y": 1}]}`, x))
		}()
	}
	wg.Wait()
	for i, r := range res {
		if i == 3 {
			if r.code != 400 || !strings.Contains(r.body, "x must not be negative, got -4") {
				t.Errorf("bad row: %d %s, want the child's 400", r.code, r.body)
			}
			continue
		}
		if want := fmt.Sprintf(`{"predictions":[%d]}`, 2*i+4); r.code != 200 || strings.TrimSpace(r.body) != want {
			t.Errorf("request %d: %d %s, want %s", i, r.code, r.body, want)
		}
	}
	if seen := childRequests(t, state); !containsGreater(seen, 1) {
		t.Errorf("no merged batch was tried: %v", seen)
	}
}

func containsGreater(xs []int, n int) bool {
	for _, x := range xs {
		if x > n {
			return true
		}
	}
	return false
}

// TestBatchingChildDown: merged requests to a child that dies get 502s
// with a message, not a hang.
func TestBatchingChildDown(t *testing.T) {
	spec := goChild("crash:1", "CHILD_DELAY_MS", "20")
	spec.Batch = &procserve.Batch{MaxRows: 64, MaxWait: 10 * time.Millisecond}
	opts := fastOptions(nil)
	opts.MinBackoff = time.Second
	rt := start(t, spec, opts)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	bodies := make([]string, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], bodies[i] = invoke(t, rt, `{"inputs": [{"x": 1, "y": 1}]}`)
		}()
	}
	wg.Wait()
	failed := 0
	for i, c := range codes {
		switch c {
		case 200:
		case 502, 503:
			failed++
			if !strings.Contains(bodies[i], "model m/1") {
				t.Errorf("%d without a message: %s", c, bodies[i])
			}
		default:
			t.Errorf("status %d: %s", c, bodies[i])
		}
	}
	if failed == 0 {
		t.Error("no request saw the crash")
	}
}

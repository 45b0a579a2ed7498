package procserve_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/loopml/loopml/mlmodel"
	"github.com/loopml/loopml/procserve"
)

// startPython resolves and starts a package running testdata/score.py.
func startPython(t testing.TB, listen, batch string) *procserve.Runtime {
	t.Helper()
	python(t)
	dir := pythonPackage(t, listen, batch)
	mm, err := mlmodel.ParseFile(dir + "/MLmodel")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := procserve.Resolve(context.Background(), dir, mm, procserve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Production health settings: a busy Python child must not look hung.
	opts := procserve.Options{Label: "py/1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rt, err := procserve.Start(context.Background(), dir, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// TestPythonChild serves the standard-library Python scoring server of
// testdata over TCP and a Unix socket, with and without batching.
func TestPythonChild(t *testing.T) {
	for _, tc := range []struct{ listen, batch string }{
		{"tcp", ""}, {"unix", ""}, {"tcp", "{max_rows: 32, max_wait_ms: 2}"},
	} {
		t.Run(tc.listen+" "+tc.batch, func(t *testing.T) {
			rt := startPython(t, tc.listen, tc.batch)
			if code, body := invoke(t, rt, `{"dataframe_split": {"columns": ["x", "y"], "data": [[1, 2], [0, 0]]}}`); code != 200 || strings.TrimSpace(body) != `{"predictions": [9.0, 1.0]}` {
				t.Errorf("split: %d %s", code, body)
			}
			if code, body := invoke(t, rt, `{"dataframe_records": [{"x": -1, "y": 0}]}`); code != 400 || !strings.Contains(body, "x must not be negative") {
				t.Errorf("bad row: %d %s", code, body)
			}
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, body := invoke(t, rt, fmt.Sprintf(`{"inputs": [{"x": %d, "y": 1}]}`, i))
					if want := fmt.Sprintf(`{"predictions":[%d.0]}`, 2*i+4); code != 200 || strings.ReplaceAll(strings.TrimSpace(body), " ", "") != want {
						t.Errorf("request %d: %d %s, want %s", i, code, body, want)
					}
				}()
			}
			wg.Wait()
		})
	}
}

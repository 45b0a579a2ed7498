package serving_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loopml/loopml/serving"
)

// BenchmarkHandler measures a request through the in-process Handler (no
// network): decoding, routing, the model call and encoding.
func BenchmarkHandler(b *testing.B) {
	e := newEnv(b)
	g, _, err := e.gateway(b, serving.EndpointSpec{Name: "recs", Targets: []serving.TargetSpec{{Model: "models:/recs@challenger"}}})
	if err != nil {
		b.Fatal(err)
	}
	h := g.Handler()
	cases := []struct{ name, path, body string }{
		{"recommend-k10", "/endpoints/recs/recommend", fmt.Sprintf(`{"user_id": %q, "k": 10}`, e.users[0])},
		{"invocations-1row", "/endpoints/recs/invocations", fmt.Sprintf(`{"dataframe_split": {"columns": ["user_id", "item_id"], "data": [[%s, %s]]}}`, e.users[0], e.items[0])},
		{"invocations-100rows", "/endpoints/recs/invocations", rows(e, 100)},
		{"infer-1row", "/v2/models/recs/infer", fmt.Sprintf(`{"inputs": [{"name": "user_id", "shape": [1], "datatype": "INT64", "data": [%s]}, {"name": "item_id", "shape": [1], "datatype": "INT64", "data": [%s]}]}`, e.users[0], e.items[0])},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", c.path, strings.NewReader(c.body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

func rows(e *env, n int) string {
	var sb strings.Builder
	sb.WriteString(`{"dataframe_split": {"columns": ["user_id", "item_id"], "data": [`)
	for i := range n {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, "[%s, %s]", e.users[i%len(e.users)], e.items[i%len(e.items)])
	}
	sb.WriteString("]}}")
	return sb.String()
}

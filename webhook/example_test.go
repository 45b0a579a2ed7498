package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/loopml/loopml/webhook"
)

// A receiver checks the signature of each delivery before trusting it, and
// de-duplicates by delivery id (delivery is at least once).
func ExampleVerify() {
	const secret = "shared-secret"
	seen := map[string]bool{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header, body, 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if id := r.Header.Get(webhook.HeaderDelivery); !seen[id] {
			seen[id] = true
			fmt.Println("event", r.Header.Get(webhook.HeaderEvent), "delivery", id)
		}
		w.WriteHeader(http.StatusNoContent)
	})

	// What the dispatcher sends, signed now.
	body := `{"id":7,"type":"alias_set","model":"churn","alias":"champion","to_version":"3"}`
	ts := time.Now().Unix()
	for _, sig := range []string{webhook.Sign(secret, ts, []byte(body)), webhook.Sign("wrong", ts, []byte(body))} {
		req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
		req.Header.Set(webhook.HeaderEvent, "alias_set")
		req.Header.Set(webhook.HeaderDelivery, "42")
		req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(webhook.HeaderSignature, sig)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// event alias_set delivery 42
	// 204
	// 401
}

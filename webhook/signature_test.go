package webhook

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func signedHeader(secret string, ts int64, body []byte) http.Header {
	h := http.Header{}
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(secret, ts, body))
	return h
}

func TestSignKnownVector(t *testing.T) {
	// HMAC-SHA256("key", "1700000000.{}"), computed independently with
	// `printf '1700000000.{}' | openssl dgst -sha256 -hmac key`.
	got := Sign("key", 1700000000, []byte("{}"))
	want := "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":1}`)
	good := signedHeader("s", now.Unix(), body)
	cases := []struct {
		name      string
		secret    string
		h         http.Header
		body      []byte
		tolerance time.Duration
		want      error
	}{
		{"valid", "s", good, body, 0, nil},
		{"wrong secret", "t", good, body, 0, ErrSignatureInvalid},
		{"tampered body", "s", good, []byte(`{"id":2}`), 0, ErrSignatureInvalid},
		{"no headers", "s", http.Header{}, body, 0, ErrNoSignature},
		{"old", "s", signedHeader("s", now.Add(-10*time.Minute).Unix(), body), body, 0, ErrStaleTimestamp},
		{"old within tolerance", "s", signedHeader("s", now.Add(-10*time.Minute).Unix(), body), body, time.Hour, nil},
		{"old, check disabled", "s", signedHeader("s", now.Add(-48*time.Hour).Unix(), body), body, -1, nil},
		{"future", "s", signedHeader("s", now.Add(10*time.Minute).Unix(), body), body, 0, ErrStaleTimestamp},
		{"timestamp not signed with body", "s", func() http.Header {
			h := signedHeader("s", now.Unix(), body)
			h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10))
			return h
		}(), body, 0, ErrSignatureInvalid},
		{"bad timestamp", "s", http.Header{HeaderTimestamp: {"yesterday"}, HeaderSignature: {"sha256=00"}}, body, 0, ErrBadTimestamp},
		{"no prefix", "s", http.Header{HeaderTimestamp: {"1700000000"}, HeaderSignature: {strings.TrimPrefix(Sign("s", 1700000000, body), "sha256=")}}, body, 0, ErrSignatureInvalid},
		{"not hex", "s", http.Header{HeaderTimestamp: {"1700000000"}, HeaderSignature: {"sha256=zz"}}, body, 0, ErrSignatureInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := verifyAt(c.secret, c.h, c.body, c.tolerance, now)
			if !errors.Is(err, c.want) {
				t.Fatalf("verify = %v, want %v", err, c.want)
			}
		})
	}
}

// FuzzVerify: Verify parses headers from the network and must never panic
// nor accept a signature made with another secret.
func FuzzVerify(f *testing.F) {
	f.Add("1700000000", Sign("s", 1700000000, []byte("{}")), []byte("{}"))
	f.Add("-1", "sha256=", []byte(""))
	f.Add("99999999999999999999", "sha256=zz", []byte("x"))
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		if verifyAt("s", h, body, -1, time.Unix(1_700_000_000, 0)) == nil {
			if want := "sha256=" + hex.EncodeToString(signRaw("s", ts, body)); !strings.EqualFold(sig, want) {
				t.Fatalf("accepted signature %q for ts %q", sig, ts)
			}
		}
	})
}

func TestDefaultBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 5: 32 * time.Second, 20: MaxBackoff, 1000: MaxBackoff} {
		for range 50 {
			d := DefaultBackoff(attempt)
			if d < want/2 || d >= want {
				t.Fatalf("DefaultBackoff(%d) = %s, want in [%s, %s)", attempt, d, want/2, want)
			}
		}
	}
}

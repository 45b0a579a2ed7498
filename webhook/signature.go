package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery request.
const (
	// HeaderEvent is the registry event type, e.g. "alias_set".
	HeaderEvent = "X-Loopml-Event"
	// HeaderDelivery is the delivery id: the idempotency key. Retries of a
	// delivery (and, rarely, a second delivery after a dispatcher crashed
	// between sending and recording) carry the same id.
	HeaderDelivery = "X-Loopml-Delivery"
	// HeaderAttempt is the attempt number, from 1.
	HeaderAttempt = "X-Loopml-Attempt"
	// HeaderTimestamp is the signing time in Unix seconds (decimal).
	HeaderTimestamp = "X-Loopml-Timestamp"
	// HeaderSignature is "sha256=" followed by the lowercase hex
	// HMAC-SHA256, keyed with the webhook secret, of the timestamp header
	// value (as sent), a ".", and the raw request body.
	HeaderSignature = "X-Loopml-Signature"
)

// DefaultTolerance is the largest clock difference Verify accepts when
// given a zero tolerance.
const DefaultTolerance = 5 * time.Minute

// Verification errors returned by Verify.
var (
	ErrNoSignature      = errors.New("webhook: missing " + HeaderSignature + " or " + HeaderTimestamp + " header")
	ErrBadTimestamp     = errors.New("webhook: malformed " + HeaderTimestamp + " header")
	ErrStaleTimestamp   = errors.New("webhook: timestamp outside the tolerance (replayed or clock skew)")
	ErrSignatureInvalid = errors.New("webhook: signature does not match")
)

// Sign returns the signature header value of body signed at time ts (Unix
// seconds) with secret: "sha256=<hex HMAC-SHA256(secret, ts + "." + body)>".
//
// Signing the timestamp with the body (as GitHub signs the body and Stripe
// the "t.body" pair) lets receivers reject replays of old requests.
func Sign(secret string, ts int64, body []byte) string {
	return "sha256=" + hex.EncodeToString(signRaw(secret, strconv.FormatInt(ts, 10), body))
}

// signRaw is the HMAC of the timestamp header text, ".", and body.
func signRaw(secret, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// Verify checks a delivery received with headers h and raw body against
// secret: the signature must match (compared in constant time) and the
// timestamp be within tolerance of the receiver's clock (zero means
// DefaultTolerance; negative disables the check). Receivers should then
// de-duplicate by the HeaderDelivery id, since delivery is at least once.
func Verify(secret string, h http.Header, body []byte, tolerance time.Duration) error {
	return verifyAt(secret, h, body, tolerance, time.Now())
}

func verifyAt(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	sig, tsText := h.Get(HeaderSignature), h.Get(HeaderTimestamp)
	if sig == "" || tsText == "" {
		return ErrNoSignature
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || ts < 0 {
		return ErrBadTimestamp
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	if tolerance > 0 {
		d := now.Sub(time.Unix(ts, 0))
		if d < 0 {
			d = -d
		}
		if d > tolerance {
			return ErrStaleTimestamp
		}
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return ErrSignatureInvalid
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return ErrSignatureInvalid
	}
	if !hmac.Equal(got, signRaw(secret, tsText, body)) {
		return ErrSignatureInvalid
	}
	return nil
}

package loopml

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Webhook delivery statuses.
const (
	DeliveryPending   = "pending"   // waiting for its next attempt (or being attempted)
	DeliverySucceeded = "succeeded" // the receiver answered 2xx
	DeliveryFailed    = "failed"    // gave up: a 4xx answer or MaxAttempts reached
)

// Webhook limits.
const (
	MaxWebhookNameLen   = 256
	MaxWebhookURLLen    = 2048
	MaxWebhookSecretLen = 1024
)

// RegistryEventTypes lists every registry event type, for validating
// webhook and subscription filters.
var RegistryEventTypes = []string{
	EventModelCreated, EventModelRenamed, EventModelDeleted,
	EventVersionCreated, EventVersionDeleted,
	EventAliasSet, EventAliasDeleted, EventStageTransition,
	EventEndpointCreated, EventEndpointUpdated, EventEndpointDeleted,
	EventRolloutStarted, EventRolloutStep, EventRolloutPromoted, EventRolloutRolledBack, EventRolloutAborted,
}

// Webhook is a subscription of an HTTP endpoint to the registry events of
// one workspace. Each matching event is POSTed to URL as JSON signed with
// Secret (see package webhook for the wire format).
type Webhook struct {
	ID        string // assigned by the store
	Workspace string // assigned by the store from the context
	Name      string // unique per workspace
	URL       string // absolute http(s) URL
	// Secret is the HMAC key of the signatures. It is write-only: stores
	// return it from CreateWebhook (generated there when empty) but never
	// from GetWebhook or ListWebhooks, and LogValue redacts it.
	Secret string
	// Events filters by event type (Event* constants); empty = all.
	Events []string
	// Model filters by registered model name; "" = all models.
	Model                string
	Active               bool
	CreatedBy            string
	CreationTimestamp    int64 // epoch ms
	LastUpdatedTimestamp int64 // epoch ms
}

// LogValue implements slog.LogValuer: the webhook without its secret.
func (w Webhook) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", w.ID),
		slog.String("workspace", w.Workspace),
		slog.String("name", w.Name),
		slog.String("url", w.URL),
		slog.String("secret", redacted(w.Secret)),
		slog.Any("events", w.Events),
		slog.String("model", w.Model),
		slog.Bool("active", w.Active),
	)
}

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// Matches reports whether e passes the webhook's workspace, event type and
// model filters (regardless of Active).
func (w *Webhook) Matches(e RegistryEvent) bool {
	if e.Workspace != w.Workspace {
		return false
	}
	if len(w.Events) > 0 && !slices.Contains(w.Events, e.Type) {
		return false
	}
	return w.Model == "" || w.Model == e.Model
}

// ValidateWebhook checks the user-supplied fields of w: a name, an absolute
// http or https URL, known event types, and the length limits. It sorts and
// de-duplicates w.Events.
func ValidateWebhook(w *Webhook) error {
	switch {
	case strings.TrimSpace(w.Name) == "":
		return Errorf(EINVALID, "Missing value for required parameter 'name'")
	case !utf8.ValidString(w.Name) || utf8.RuneCountInString(w.Name) > MaxWebhookNameLen:
		return Errorf(EINVALID, "Invalid value for parameter 'name': webhook names are valid UTF-8 of at most %d characters", MaxWebhookNameLen)
	case len(w.Secret) > MaxWebhookSecretLen:
		return Errorf(EINVALID, "Invalid value for parameter 'secret': at most %d bytes", MaxWebhookSecretLen)
	}
	if err := validateWebhookURL(w.URL); err != nil {
		return err
	}
	for _, t := range w.Events {
		if !slices.Contains(RegistryEventTypes, t) {
			return Errorf(EINVALID, "Invalid value %q for parameter 'events': want one of %s", t, strings.Join(RegistryEventTypes, ", "))
		}
	}
	slices.Sort(w.Events)
	w.Events = slices.Compact(w.Events)
	return nil
}

func validateWebhookURL(s string) error {
	if s == "" {
		return Errorf(EINVALID, "Missing value for required parameter 'url'")
	}
	if len(s) > MaxWebhookURLLen {
		return Errorf(EINVALID, "Invalid value for parameter 'url': at most %d bytes", MaxWebhookURLLen)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Errorf(EINVALID, "Invalid value %q for parameter 'url': want an absolute http:// or https:// URL", s)
	}
	if u.User != nil {
		return Errorf(EINVALID, "Invalid value for parameter 'url': credentials in the URL are not allowed; use the secret")
	}
	return nil
}

// NewWebhookSecret returns a random 256-bit secret as 64 hex digits.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// WebhookUpdate changes the fields of a webhook that are non-nil.
type WebhookUpdate struct {
	Name   *string
	URL    *string
	Secret *string // a new secret; "" generates one (returned by UpdateWebhook this once)
	Events *[]string
	Model  *string
	Active *bool
}

// WebhookDelivery is the delivery of one registry event to one webhook: a
// row of the delivery log, with its attempts.
type WebhookDelivery struct {
	ID                   int64
	WebhookID            string
	EventID              int64
	EventType            string
	Attempt              int    // attempts made so far
	Status               string // Delivery* constant
	ResponseCode         int    // HTTP status of the last attempt, 0 if none
	Error                string // error of the last attempt, "" if none
	NextAttemptAt        int64  // epoch ms; meaningful while pending
	CreationTimestamp    int64
	LastUpdatedTimestamp int64
}

// WebhookAttempt is one attempt of a delivery, as recorded in the delivery
// log.
type WebhookAttempt struct {
	DeliveryID   int64
	Attempt      int   // 1, 2, ...
	Time         int64 // epoch ms when the attempt was recorded
	DurationMs   int64
	ResponseCode int    // 0 when no response arrived
	Error        string // "" on success
	Owner        string // the dispatcher that made it
}

// WebhookDeliveryQuery selects deliveries of one webhook, newest first:
// those with ID < BeforeID (0 = no bound), optionally one Status.
// MaxResults 0 = 100, at most 1000.
type WebhookDeliveryQuery struct {
	WebhookID  string
	Status     string
	BeforeID   int64
	MaxResults int
}

// WebhookTask is a claimed delivery: what a dispatcher needs to make one
// attempt. Attempt is the number of this attempt (previous attempts + 1).
type WebhookTask struct {
	Delivery WebhookDelivery
	Webhook  Webhook // with its Secret
	Event    RegistryEvent
	Attempt  int
}

// WebhookAttemptResult is the outcome of an attempt, reported by the
// dispatcher that claimed it. Status is DeliverySucceeded, DeliveryFailed
// (give up), or DeliveryPending (retry after RetryIn).
type WebhookAttemptResult struct {
	DeliveryID   int64
	Owner        string
	Attempt      int
	Status       string
	ResponseCode int
	Error        string
	Duration     time.Duration
	RetryIn      time.Duration
}

// WebhookService manages webhooks and their delivery queue. Management
// methods act in the workspace of ctx; the queue methods serve every
// workspace (they are called by dispatchers, not users). Implementations are
// safe for concurrent use by several processes sharing one database.
type WebhookService interface {
	// CreateWebhook validates w (ValidateWebhook), assigns ID, Workspace,
	// CreatedBy and timestamps, and generates a secret when w.Secret is
	// empty (left in w.Secret for the caller to show once). The webhook
	// receives events recorded after its creation. ECONFLICT for a
	// duplicate name in the workspace.
	CreateWebhook(ctx context.Context, w *Webhook) error
	// GetWebhook returns a webhook without its secret, or ENOTFOUND.
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	// ListWebhooks returns the webhooks of the workspace (without secrets)
	// ordered by name.
	ListWebhooks(ctx context.Context) ([]*Webhook, error)
	// UpdateWebhook applies u and returns the webhook, with Secret set only
	// when u changed it. ENOTFOUND, EINVALID, ECONFLICT (name).
	UpdateWebhook(ctx context.Context, id string, u WebhookUpdate) (*Webhook, error)
	// DeleteWebhook deletes a webhook and its delivery log. ENOTFOUND.
	DeleteWebhook(ctx context.Context, id string) error
	// ListWebhookDeliveries returns deliveries of a webhook of the
	// workspace, newest first. ENOTFOUND for an unknown webhook.
	ListWebhookDeliveries(ctx context.Context, q WebhookDeliveryQuery) ([]*WebhookDelivery, error)
	// WebhookAttempts returns the attempts of a delivery in order.
	// ENOTFOUND unless the delivery belongs to a webhook of the workspace.
	WebhookAttempts(ctx context.Context, deliveryID int64) ([]WebhookAttempt, error)

	// EnqueueWebhookDeliveries turns up to max registry events after the
	// shared cursor into pending deliveries, one per matching active
	// webhook, and advances the cursor, atomically; it returns the number
	// of events consumed (0 when the cursor is at the end of the log).
	// Concurrent callers never enqueue an event twice for one webhook.
	EnqueueWebhookDeliveries(ctx context.Context, max int) (int, error)
	// ClaimWebhookDeliveries leases up to max due pending deliveries of
	// active webhooks to owner for lease. A delivery whose lease is live is
	// never returned to another claimer; an expired lease (a crashed
	// dispatcher) makes it claimable again.
	ClaimWebhookDeliveries(ctx context.Context, owner string, max int, lease time.Duration) ([]WebhookTask, error)
	// RecordWebhookAttempt records an attempt in the delivery log and
	// updates the delivery (status, retry time) and releases the lease.
	// ECONFLICT when owner no longer holds the claim of that attempt (its
	// lease expired and another dispatcher claimed it); ENOTFOUND when the
	// delivery is gone.
	RecordWebhookAttempt(ctx context.Context, r WebhookAttemptResult) error
}

package httpapi

import (
	"net/http"
	"strconv"

	"github.com/loopml/loopml"
)

// This file serves loopml's webhook management endpoints under
// /api/2.0/loopml/webhooks/ (and the /ajax-api mirror):
//
//	POST   webhooks/create      {name, url, secret?, events[], model, active?} -> {"webhook"} with its secret, this once
//	GET    webhooks/list        -> {"webhooks": [...]} without secrets
//	GET    webhooks/get?id=     -> {"webhook"} without its secret
//	PATCH  webhooks/update      {id, name?, url?, secret?, events?, model?, active?} -> {"webhook"};
//	                            secret "" rotates it and the new secret is returned this once
//	DELETE webhooks/delete      {id} or ?id= -> {}
//	GET    webhooks/deliveries?webhook_id=&status=&before_id=&max_results= -> {"deliveries", "next_before_id"?}
//	GET    webhooks/attempts?delivery_id= -> {"attempts": [...]}
//
// A member absent from an update (or null) leaves the field unchanged.

// registerWebhookRoutes registers the webhook endpoints. When the Config has
// no Webhooks they answer 501 NOT_IMPLEMENTED.
func (s *Server) registerWebhookRoutes(mux *http.ServeMux) {
	h := s.ifConfigured(s.webhooks == nil)
	handleLoopml(mux, "POST", "webhooks/create", h(s.handleCreateWebhook))
	handleLoopml(mux, "GET", "webhooks/list", h(s.handleListWebhooks))
	handleLoopml(mux, "GET", "webhooks/get", h(s.handleGetWebhook))
	handleLoopml(mux, "PATCH", "webhooks/update", h(s.handleUpdateWebhook))
	handleLoopml(mux, "DELETE", "webhooks/delete", h(s.handleDeleteWebhook))
	handleLoopml(mux, "GET", "webhooks/deliveries", h(s.handleListWebhookDeliveries))
	handleLoopml(mux, "GET", "webhooks/attempts", h(s.handleWebhookAttempts))
}

// webhookRequest is the union of the webhook request messages. The has*
// fields record which members were present (and not null), which an update
// needs to tell "unchanged" from "set to empty".
type webhookRequest struct {
	id        string
	name      string
	url       string
	secret    string
	events    []string
	model     string
	active    bool
	hasName   bool
	hasURL    bool
	hasSecret bool
	hasEvents bool
	hasModel  bool
	hasActive bool
}

func (q *webhookRequest) field(d *decoder, key []byte) (err error) {
	if d.null() {
		return nil // null is absent
	}
	switch string(key) {
	case "id":
		q.id, err = d.str()
	case "name":
		q.hasName = true
		q.name, err = d.str()
	case "url":
		q.hasURL = true
		q.url, err = d.str()
	case "secret":
		q.hasSecret = true
		q.secret, err = d.str()
	case "events":
		q.hasEvents = true
		q.events = []string{}
		err = d.strList(&q.events)
	case "model":
		q.hasModel = true
		q.model, err = d.str()
	case "active":
		q.hasActive = true
		q.active, err = d.boolean()
	default:
		err = d.skip()
	}
	return err
}

// respondWebhook writes {"webhook": {...}}.
func respondWebhook(w http.ResponseWriter, wh *loopml.Webhook) {
	respond(w, func(e *encoder) {
		e.objectField("webhook")
		encodeWebhook(e, wh)
		e.endObject()
	})
}

// encodeWebhook writes the members of a webhook. The secret is written only
// when set, which the store does only on create and on a secret change.
func encodeWebhook(e *encoder, w *loopml.Webhook) {
	e.strAlways("id", w.ID)
	e.str("workspace", w.Workspace)
	e.strAlways("name", w.Name)
	e.strAlways("url", w.URL)
	e.str("secret", w.Secret)
	e.arrayField("events")
	for _, t := range w.Events {
		e.strElem(t)
	}
	e.endArray()
	e.str("model", w.Model)
	e.key("active")
	e.b = strconv.AppendBool(e.b, w.Active)
	e.str("created_by", w.CreatedBy)
	e.int("creation_timestamp", w.CreationTimestamp)
	e.int("last_updated_timestamp", w.LastUpdatedTimestamp)
}

func decodeWebhook(d *decoder, w *loopml.Webhook) error {
	return d.object(func(d *decoder, key []byte) (err error) {
		switch string(key) {
		case "id":
			w.ID, err = d.str()
		case "workspace":
			w.Workspace, err = d.str()
		case "name":
			w.Name, err = d.str()
		case "url":
			w.URL, err = d.str()
		case "secret":
			w.Secret, err = d.str()
		case "events":
			w.Events = nil
			err = d.strList(&w.Events)
		case "model":
			w.Model, err = d.str()
		case "active":
			w.Active, err = d.boolean()
		case "created_by":
			w.CreatedBy, err = d.str()
		case "creation_timestamp":
			w.CreationTimestamp, err = d.int64()
		case "last_updated_timestamp":
			w.LastUpdatedTimestamp, err = d.int64()
		default:
			err = d.skip()
		}
		return err
	})
}

func encodeDelivery(e *encoder, dl *loopml.WebhookDelivery) {
	e.int("id", dl.ID)
	e.strAlways("webhook_id", dl.WebhookID)
	e.int("event_id", dl.EventID)
	e.strAlways("event_type", dl.EventType)
	e.strAlways("status", dl.Status)
	e.int("attempts", int64(dl.Attempt))
	e.intNZ("response_code", int64(dl.ResponseCode))
	e.str("error", dl.Error)
	e.intNZ("next_attempt_at", dl.NextAttemptAt)
	e.int("creation_timestamp", dl.CreationTimestamp)
	e.int("last_updated_timestamp", dl.LastUpdatedTimestamp)
}

func decodeDelivery(d *decoder, dl *loopml.WebhookDelivery) error {
	return d.object(func(d *decoder, key []byte) (err error) {
		var n int64
		switch string(key) {
		case "id":
			dl.ID, err = d.int64()
		case "webhook_id":
			dl.WebhookID, err = d.str()
		case "event_id":
			dl.EventID, err = d.int64()
		case "event_type":
			dl.EventType, err = d.str()
		case "status":
			dl.Status, err = d.str()
		case "attempts":
			n, err = d.int64()
			dl.Attempt = int(n)
		case "response_code":
			n, err = d.int64()
			dl.ResponseCode = int(n)
		case "error":
			dl.Error, err = d.str()
		case "next_attempt_at":
			dl.NextAttemptAt, err = d.int64()
		case "creation_timestamp":
			dl.CreationTimestamp, err = d.int64()
		case "last_updated_timestamp":
			dl.LastUpdatedTimestamp, err = d.int64()
		default:
			err = d.skip()
		}
		return err
	})
}

func encodeAttempt(e *encoder, a *loopml.WebhookAttempt) {
	e.int("delivery_id", a.DeliveryID)
	e.int("attempt", int64(a.Attempt))
	e.int("time", a.Time)
	e.int("duration_ms", a.DurationMs)
	e.intNZ("response_code", int64(a.ResponseCode))
	e.str("error", a.Error)
	e.str("owner", a.Owner)
}

func decodeAttempt(d *decoder, a *loopml.WebhookAttempt) error {
	return d.object(func(d *decoder, key []byte) (err error) {
		var n int64
		switch string(key) {
		case "delivery_id":
			a.DeliveryID, err = d.int64()
		case "attempt":
			n, err = d.int64()
			a.Attempt = int(n)
		case "time":
			a.Time, err = d.int64()
		case "duration_ms":
			a.DurationMs, err = d.int64()
		case "response_code":
			n, err = d.int64()
			a.ResponseCode = int(n)
		case "error":
			a.Error, err = d.str()
		case "owner":
			a.Owner, err = d.str()
		default:
			err = d.skip()
		}
		return err
	})
}

// handleCreateWebhook serves POST webhooks/create. A webhook is active
// unless the request says "active": false.
func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	q := new(webhookRequest)
	if err := s.decode(r, q); err != nil {
		s.writeError(w, r, err)
		return
	}
	wh := &loopml.Webhook{
		Name: q.name, URL: q.url, Secret: q.secret, Events: q.events, Model: q.model,
		Active: !q.hasActive || q.active,
	}
	if err := s.webhooks.CreateWebhook(r.Context(), wh); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondWebhook(w, wh)
}

// handleListWebhooks serves GET webhooks/list.
func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	list, err := s.webhooks.ListWebhooks(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.arrayField("webhooks")
		for _, wh := range list {
			wh.Secret = "" // the contract says stores never return it here; be sure
			e.beginObject()
			encodeWebhook(e, wh)
			e.endObject()
		}
		e.endArray()
	})
}

// handleGetWebhook serves GET webhooks/get?id=.
func (s *Server) handleGetWebhook(w http.ResponseWriter, r *http.Request) {
	id := query(r.URL.Query()).str("id")
	if id == "" {
		s.writeError(w, r, missing("id"))
		return
	}
	wh, err := s.webhooks.GetWebhook(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	wh.Secret = ""
	respondWebhook(w, wh)
}

// handleUpdateWebhook serves PATCH webhooks/update.
func (s *Server) handleUpdateWebhook(w http.ResponseWriter, r *http.Request) {
	q := new(webhookRequest)
	if err := s.decode(r, q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.id == "" {
		s.writeError(w, r, missing("id"))
		return
	}
	var u loopml.WebhookUpdate
	if q.hasName {
		u.Name = &q.name
	}
	if q.hasURL {
		u.URL = &q.url
	}
	if q.hasSecret {
		u.Secret = &q.secret
	}
	if q.hasEvents {
		u.Events = &q.events
	}
	if q.hasModel {
		u.Model = &q.model
	}
	if q.hasActive {
		u.Active = &q.active
	}
	wh, err := s.webhooks.UpdateWebhook(r.Context(), q.id, u)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !q.hasSecret {
		wh.Secret = ""
	}
	respondWebhook(w, wh)
}

// handleDeleteWebhook serves DELETE webhooks/delete with the id in a JSON
// body or the query string.
func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	q := new(webhookRequest)
	if err := s.decode(r, q); err != nil {
		s.writeError(w, r, err)
		return
	}
	if v := query(r.URL.Query()); v.has("id") {
		q.id = v.str("id")
	}
	if q.id == "" {
		s.writeError(w, r, missing("id"))
		return
	}
	if err := s.webhooks.DeleteWebhook(r.Context(), q.id); err != nil {
		s.writeError(w, r, err)
		return
	}
	respondEmpty(w)
}

// defaultDeliveriesPage is the page size of webhooks/deliveries when
// max_results is unset (the WebhookService default).
const defaultDeliveriesPage = 100

// handleListWebhookDeliveries serves GET webhooks/deliveries. A full page
// carries next_before_id, the before_id of the next (older) page.
func (s *Server) handleListWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	v := query(r.URL.Query())
	q := loopml.WebhookDeliveryQuery{WebhookID: v.str("webhook_id"), Status: v.str("status")}
	if q.WebhookID == "" {
		s.writeError(w, r, missing("webhook_id"))
		return
	}
	before, err := v.int64("before_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if before < 0 {
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'before_id' supplied: must not be negative", before))
		return
	}
	max, err := v.int64("max_results")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if max < 0 || max > 1000 {
		s.writeError(w, r, loopml.Errorf(loopml.EINVALID, "Invalid value %d for parameter 'max_results' supplied: must be between 1 and 1000", max))
		return
	}
	q.BeforeID, q.MaxResults = before, int(max)
	list, err := s.webhooks.ListWebhookDeliveries(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := q.MaxResults
	if page == 0 {
		page = defaultDeliveriesPage
	}
	respond(w, func(e *encoder) {
		e.arrayField("deliveries")
		for _, dl := range list {
			e.beginObject()
			encodeDelivery(e, dl)
			e.endObject()
		}
		e.endArray()
		if len(list) > 0 && len(list) >= page {
			e.int("next_before_id", list[len(list)-1].ID)
		}
	})
}

// handleWebhookAttempts serves GET webhooks/attempts?delivery_id=.
func (s *Server) handleWebhookAttempts(w http.ResponseWriter, r *http.Request) {
	v := query(r.URL.Query())
	if !v.has("delivery_id") {
		s.writeError(w, r, missing("delivery_id"))
		return
	}
	id, err := v.int64("delivery_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.webhooks.WebhookAttempts(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	respond(w, func(e *encoder) {
		e.arrayField("attempts")
		for i := range list {
			e.beginObject()
			encodeAttempt(e, &list[i])
			e.endObject()
		}
		e.endArray()
	})
}

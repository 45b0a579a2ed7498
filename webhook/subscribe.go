package webhook

import (
	"context"
	"slices"
	"time"

	"github.com/loopml/loopml"
)

// Filter selects the registry events a subscriber receives.
type Filter struct {
	// AfterID is the id of the last event the subscriber has seen: events
	// with greater ids are delivered. A subscriber that persists the id of
	// each event it has processed and passes it here after a restart loses
	// none. 0 replays the whole log.
	AfterID int64
	// Types filters by event type (loopml.Event* constants); empty = all.
	Types []string
	// Model filters by registered model name; "" = all.
	Model string
}

func (f Filter) matches(e loopml.RegistryEvent) bool {
	return (len(f.Types) == 0 || slices.Contains(f.Types, e.Type)) && (f.Model == "" || f.Model == e.Model)
}

// subscribePage is the number of events read per poll.
const subscribePage = 1000

// Subscribe returns a channel of the registry events of the workspace of
// ctx that match f, in id order, read from d.Events by polling every
// PollInterval (a nil Events yields a closed channel). The channel is
// unbuffered: a slow subscriber delays its own subscription only, and no
// event is dropped. It is closed when ctx is done. Read errors are logged
// and retried. Subscribe does not need Run.
//
// Events reported under a model's current name (see
// loopml.ModelRegistry.RegistryEvents) are matched by that name.
func (d *Dispatcher) Subscribe(ctx context.Context, f Filter) <-chan loopml.RegistryEvent {
	ch := make(chan loopml.RegistryEvent)
	log := d.logger()
	poll := d.pollInterval()
	f.Types = slices.Clone(f.Types)
	if d.Events == nil {
		log.Error("webhook subscription: Dispatcher.Events is nil")
		close(ch)
		return ch
	}
	go func() {
		defer close(ch)
		cursor := f.AfterID
		for {
			evs, err := d.Events.RegistryEvents(ctx, loopml.RegistryEventQuery{AfterID: cursor, MaxResults: subscribePage})
			if err != nil && ctx.Err() == nil {
				log.Warn("webhook subscription: read registry events", "after_id", cursor, "err", err)
			}
			for _, e := range evs {
				cursor = e.ID
				if !f.matches(e) {
					continue
				}
				select {
				case ch <- e:
				case <-ctx.Done():
					return
				}
			}
			if err == nil && len(evs) == subscribePage {
				continue
			}
			t := time.NewTimer(poll)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	return ch
}

// Package registrycache resolves models:/ URIs from memory for the serving
// hot path. Entries are dropped when a registry event concerns their model
// (alias moves, stage transitions, new or deleted versions) and expire
// after a TTL in any case, which bounds staleness even when no event feed
// is connected. It imports only the root package.
package registrycache

import (
	"context"
	"sync"
	"time"

	"github.com/loopml/loopml"
)

// DefaultTTL bounds how long a resolved URI is served from memory when no
// invalidating event arrives.
const DefaultTTL = 30 * time.Second

// Cache wraps a ModelRegistry's URI resolution. The zero value is not
// usable: set Registry. Safe for concurrent use.
type Cache struct {
	Registry loopml.ModelRegistry
	TTL      time.Duration    // 0 = DefaultTTL; negative disables caching
	Now      func() time.Time // nil = time.Now; tests set a fake clock

	mu      sync.RWMutex
	entries map[string]entry // by canonical URI
	gen     map[string]uint64
}

type entry struct {
	v       *loopml.ModelVersion
	expires time.Time
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Cache) ttl() time.Duration {
	if c.TTL == 0 {
		return DefaultTTL
	}
	return c.TTL
}

// Resolve returns the model version u refers to, from memory when a fresh
// entry exists, otherwise through loopml.ResolveModelURI. Errors are not
// cached. The returned version is shared: callers must not modify it.
func (c *Cache) Resolve(ctx context.Context, u loopml.ModelURI) (*loopml.ModelVersion, error) {
	key := u.String()
	now := c.now()
	c.mu.RLock()
	e, ok := c.entries[key]
	gen := c.gen[u.Name]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.v, nil
	}
	v, err := loopml.ResolveModelURI(ctx, c.Registry, u)
	if err != nil || c.ttl() < 0 {
		return v, err
	}
	c.mu.Lock()
	// An event for this model that arrived while we were resolving makes
	// the answer possibly stale: do not cache it.
	if c.gen[u.Name] == gen {
		if c.entries == nil {
			c.entries = make(map[string]entry)
		}
		c.entries[key] = entry{v: v, expires: now.Add(c.ttl())}
	}
	c.mu.Unlock()
	return v, nil
}

// Invalidate drops what an event may have changed: every entry of the
// event's model, or everything on a rename or model deletion (old names).
func (c *Cache) Invalidate(ev loopml.RegistryEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == nil {
		c.gen = make(map[string]uint64)
	}
	if ev.Type == loopml.EventModelRenamed || ev.Type == loopml.EventModelDeleted {
		clear(c.entries)
		for name := range c.gen {
			c.gen[name]++
		}
		c.gen[ev.Model]++
		return
	}
	c.gen[ev.Model]++
	for key, e := range c.entries {
		if e.v.Name == ev.Model {
			delete(c.entries, key)
		}
	}
}

// Watch invalidates entries for every event received until ctx ends or
// events is closed. Connect it to the registry event feed (the webhook
// package's Subscribe) so that every replica drops stale entries.
func (c *Cache) Watch(ctx context.Context, events <-chan loopml.RegistryEvent) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			c.Invalidate(ev)
		}
	}
}

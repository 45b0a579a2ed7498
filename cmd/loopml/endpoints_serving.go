package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/rollout"
	"github.com/loopml/loopml/serving"
	"github.com/loopml/loopml/webhook"
)

// storeSyncInterval is how often servers poll the endpoints generation.
const storeSyncInterval = time.Second

// syncStoredEndpoints makes gw serve the stored endpoints of store besides
// those of the endpoints file (file "" = none): it loads them once (a
// stored endpoint named like one of the file is an error at start) and
// returns the StoreSync that keeps following the store (run it with
// runStoreSync).
func syncStoredEndpoints(ctx context.Context, gw *serving.Gateway, file string, store serving.EndpointSource, logger *slog.Logger) (*serving.StoreSync, error) {
	var static []serving.EndpointSpec
	if file != "" {
		var err error
		if static, err = serving.ReadEndpointsFile(file); err != nil {
			return nil, err
		}
	}
	ss := &serving.StoreSync{Gateway: gw, Store: store, Static: static, Interval: storeSyncInterval, Logger: logger.With("component", "serving")}
	if err := ss.Sync(ctx); err != nil {
		switch loopml.ErrorCode(err) {
		case loopml.ECONFLICT, loopml.EINVALID:
			return nil, err
		}
		logger.Warn("some serving targets did not load; they are retried in the background", "err", err)
	}
	return ss, nil
}

// fallbackStats reads target stats from the prediction log (every
// replica's traffic) and falls back to this process's TrafficStats when
// the log has nothing for the window or fails (e.g. logging is off).
type fallbackStats struct {
	log    rollout.Stats // nil when the store has no prediction log
	local  *serving.TrafficStats
	logger *slog.Logger
}

func (f fallbackStats) TargetStats(ctx context.Context, endpoint string, since, until int64) ([]loopml.TargetStats, error) {
	if f.log != nil {
		st, err := f.log.TargetStats(ctx, endpoint, since, until)
		if err != nil {
			f.logger.Warn("rollout: reading the prediction log failed; using this process's traffic stats", "endpoint", endpoint, "err", err)
		} else {
			var n int64
			for _, s := range st {
				n += s.Requests
			}
			if n > 0 {
				return st, nil
			}
		}
	}
	return f.local.TargetStats(ctx, endpoint, since, until)
}

// endpointBackground is what a server runs for stored endpoints: the
// store sync, the rollout controller and the registry event watch.
type endpointBackground struct {
	sync   *serving.StoreSync
	gw     *serving.Gateway
	ctl    *rollout.Controller // nil: no rollouts driven here
	events webhook.EventSource // nil: no event watch
	after  int64               // the latest event id at start
	logger *slog.Logger
}

// start runs the background components in wg until ctx ends.
func (b endpointBackground) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.sync.Run(ctx)
	}()
	if b.ctl != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.ctl.Run(ctx)
		}()
	}
	if b.events != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &webhook.Dispatcher{Events: b.events, PollInterval: 500 * time.Millisecond, Logger: b.logger}
			b.gw.Watch(ctx, d.Subscribe(ctx, webhook.Filter{AfterID: b.after}))
		}()
	}
}

package bench

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestMeasureLoopStopsAtMaxRequests(t *testing.T) {
	var calls atomic.Int64
	m, err := measureLoop(context.Background(), 4, time.Minute, 37, func(context.Context, int) error {
		calls.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.ok != 37 || calls.Load() != 37 || len(m.lat) != 37 {
		t.Errorf("ok=%d calls=%d lat=%d, want 37 each", m.ok, calls.Load(), len(m.lat))
	}
}

func TestMeasureLoopStopsAtDeadlineAndCountsErrors(t *testing.T) {
	var n atomic.Int64
	m, err := measureLoop(context.Background(), 2, 50*time.Millisecond, 0, func(context.Context, int) error {
		time.Sleep(time.Millisecond)
		if n.Add(1)%2 == 0 {
			return errors.New("boom")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.elapsed < 50*time.Millisecond || m.elapsed > 2*time.Second {
		t.Errorf("elapsed %v, want about 50ms", m.elapsed)
	}
	if m.ok == 0 || m.errs == 0 || m.firstErr != "boom" || m.ok+m.errs != n.Load() {
		t.Errorf("ok=%d errs=%d first=%q calls=%d", m.ok, m.errs, m.firstErr, n.Load())
	}
}

func TestMeasureLoopCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	_, err := measureLoop(ctx, 2, time.Hour, 0, func(ctx context.Context, _ int) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestRunTasks(t *testing.T) {
	var seen [100]atomic.Int32
	var progress bytes.Buffer
	err := runTasks(context.Background(), 3, 100, "work", &progress, time.Millisecond, func(done int64, _ time.Duration) string {
		return "x"
	}, func(_ context.Context, _ int, i int64) error {
		seen[i].Add(1)
		time.Sleep(100 * time.Microsecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if seen[i].Load() != 1 {
			t.Fatalf("task %d ran %d times", i, seen[i].Load())
		}
	}
	if !strings.HasPrefix(progress.String(), "work: x\n") {
		t.Errorf("progress = %q", progress.String())
	}

	err = runTasks(context.Background(), 3, 1000, "work", nil, 0, nil, func(_ context.Context, _ int, i int64) error {
		if i == 10 {
			return errors.New("task 10 failed")
		}
		return nil
	})
	if err == nil || err.Error() != "work: task 10 failed" {
		t.Fatalf("err = %v, want the task's error", err)
	}
}

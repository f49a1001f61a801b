package periodic

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCallsUntilCancelledAndReportsErrors(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var calls, errs atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, time.Millisecond, func(context.Context, time.Time) error {
			if calls.Add(1) == 3 {
				cancel()
			}
			return errors.New("try again")
		}, func(error) { errs.Add(1) })
	}()
	select {
	case err := <-done:
		if err != nil || calls.Load() < 3 || errs.Load() < 2 {
			t.Fatalf("err %v, %d calls, %d errors reported", err, calls.Load(), errs.Load())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}

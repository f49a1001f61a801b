package batch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every call gets its own outcome, batches respect Max and Parallel, and
// calls whose context ends while waiting neither block the others nor lose
// the batch slot.
func TestCombinerUnderLoad(t *testing.T) {
	for _, tc := range []struct{ max, parallel int }{{1, 1}, {3, 1}, {256, 1}, {4, 2}, {64, 3}} {
		t.Run(fmt.Sprintf("max=%d/parallel=%d", tc.max, tc.parallel), func(t *testing.T) {
			t.Parallel()
			var running, peak, calls atomic.Int64
			var ranMu sync.Mutex
			ran := map[int]int{}
			c := &Combiner[int]{Max: tc.max, Parallel: tc.parallel, Run: func(ctx context.Context, reqs []int) []error {
				if ctx.Err() != nil {
					t.Error("a batch ran with a cancelled context")
				}
				if len(reqs) == 0 || len(reqs) > tc.max {
					t.Errorf("batch of %d, max %d", len(reqs), tc.max)
				}
				n := running.Add(1)
				defer running.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				calls.Add(int64(len(reqs)))
				ranMu.Lock()
				for _, r := range reqs {
					ran[r]++
				}
				ranMu.Unlock()
				time.Sleep(50 * time.Microsecond)
				errs := make([]error, len(reqs))
				for i, r := range reqs {
					if r%2 == 1 {
						errs[i] = fmt.Errorf("odd %d", r)
					}
				}
				return errs
			}}
			const n = 2000
			var wg sync.WaitGroup
			var answered sync.Map // requests whose callers got their outcome
			for i := range n {
				wg.Go(func() {
					ctx := context.Background()
					if i%10 == 0 { // some callers give up at once
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, time.Microsecond)
						defer cancel()
					}
					err := c.Do(ctx, i)
					if !errors.Is(err, context.DeadlineExceeded) {
						answered.Store(i, true)
					}
					switch {
					case errors.Is(err, context.DeadlineExceeded):
					case i%2 == 1 && (err == nil || err.Error() != fmt.Sprintf("odd %d", i)):
						t.Errorf("call %d got %v", i, err)
					case i%2 == 0 && err != nil:
						t.Errorf("call %d got %v", i, err)
					}
				})
			}
			wg.Wait()
			// Callers that gave up may leave their request running, or
			// dropped if its batch had not started; the last batch may
			// still be running.
			deadline := time.Now().Add(10 * time.Second)
			idle := func() bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.running == 0 && len(c.pending) == 0
			}
			for !idle() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if !idle() {
				t.Fatalf("left running=%d pending=%d", c.running, len(c.pending))
			}
			ranMu.Lock()
			defer ranMu.Unlock()
			answered.Range(func(k, _ any) bool {
				if ran[k.(int)] != 1 {
					t.Errorf("request %d was answered but ran %d times", k, ran[k.(int)])
				}
				return true
			})
			for r, times := range ran {
				if times != 1 {
					t.Errorf("request %d ran %d times", r, times)
				}
			}
			if int(calls.Load()) < n*9/10 {
				t.Fatalf("only %d of %d requests ran", calls.Load(), n)
			}
			if peak.Load() > int64(tc.parallel) {
				t.Fatalf("%d batches ran at once, parallel %d", peak.Load(), tc.parallel)
			}

		})
	}
}

// A panicking Run answers every request of its batch with an error and
// keeps the slot; a Run that returns too few outcomes fails the rest.
func TestCombinerSurvivesPanicsAndShortAnswers(t *testing.T) {
	t.Parallel()
	c := &Combiner[int]{Run: func(_ context.Context, reqs []int) []error {
		if reqs[0] < 0 {
			panic("boom")
		}
		return nil
	}}
	if err := c.Do(context.Background(), -1); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panicking batch: %v", err)
	}
	if err := c.Do(context.Background(), 1); !errors.Is(err, errNoOutcome) {
		t.Fatalf("short answer: %v", err)
	}
	if c.running != 0 {
		t.Fatalf("slot lost: running=%d", c.running)
	}
}

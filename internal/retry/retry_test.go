package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayDoublesUpToTheCap(t *testing.T) {
	t.Parallel()
	b := Backoff{First: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := (Backoff{First: time.Minute}).Delay(4); got != 8*time.Minute {
		t.Errorf("uncapped Delay(4) = %v, want 8m", got)
	}
	j := Backoff{First: time.Second, Max: 4 * time.Second, Jitter: true}
	for n := 1; n <= 5; n++ {
		full := (Backoff{First: time.Second, Max: 4 * time.Second}).Delay(n)
		if got := j.Delay(n); got < full/2 || got > full {
			t.Errorf("jittered Delay(%d) = %v, want within [%v, %v]", n, got, full/2, full)
		}
	}
}

// instant is a clock whose waits end at once and are recorded.
func instant(waits *[]time.Duration) func(time.Duration) <-chan time.Time {
	return func(d time.Duration) <-chan time.Time {
		*waits = append(*waits, d)
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	}
}

func TestDoRetriesUntilSuccess(t *testing.T) {
	t.Parallel()
	var waits []time.Duration
	var retried []int
	p := Policy{Backoff: Backoff{First: time.Second}, After: instant(&waits),
		OnRetry: func(n int, _ error, _ time.Duration) { retried = append(retried, n) }}
	calls := 0
	err := p.Do(context.Background(), func(int) error {
		if calls++; calls < 3 {
			return errors.New("transient")
		}
		return nil
	})
	if err != nil || calls != 3 || len(waits) != 2 || waits[1] != 2*time.Second || len(retried) != 2 {
		t.Fatalf("err=%v calls=%d waits=%v retried=%v", err, calls, waits, retried)
	}
}

func TestDoStopsOnAttemptsStopAndContext(t *testing.T) {
	t.Parallel()
	var waits []time.Duration
	boom := errors.New("boom")
	calls := 0
	err := Policy{Backoff: Backoff{First: time.Second}, Attempts: 3, After: instant(&waits)}.Do(context.Background(), func(int) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 3 {
		t.Fatalf("attempts: err=%v calls=%d", err, calls)
	}
	calls = 0
	err = Policy{Backoff: Backoff{First: time.Second}, After: instant(&waits)}.Do(context.Background(), func(int) error { calls++; return Stop(boom) })
	if err != boom || calls != 1 {
		t.Fatalf("stop: err=%v calls=%d", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = Policy{Backoff: Backoff{First: time.Hour}}.Do(ctx, func(int) error { return boom })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err=%v", err)
	}
}

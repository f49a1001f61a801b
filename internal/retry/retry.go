// Package retry is Mercato's one retry loop: exponential backoff with an
// optional cap and jitter, on an injectable clock. The roles' consumers, the
// outbox relay, the price book, the report scheduler and the Elasticsearch
// client all wait through it.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Backoff is the wait before each retry: First, doubled per retry up to Max
// (no cap when 0). With Jitter each wait is drawn from [d/2, d], so many
// callers failing together do not retry together.
type Backoff struct {
	First  time.Duration
	Max    time.Duration
	Jitter bool
}

// Delay is the wait before retry n (1-based).
func (b Backoff) Delay(n int) time.Duration {
	d := b.First
	for i := 1; i < n && (b.Max <= 0 || d < b.Max); i++ {
		d *= 2
	}
	if b.Max > 0 {
		d = min(d, b.Max)
	}
	if b.Jitter && d > 1 {
		d = d/2 + rand.N(d/2+1)
	}
	return d
}

// Policy is a Backoff with a bound and a clock.
type Policy struct {
	Backoff
	// Attempts bounds the calls (first one included); 0 retries until the
	// context ends.
	Attempts int
	// After is the clock (time.After when nil).
	After func(time.Duration) <-chan time.Time
	// OnRetry, when set, is told of each failed attempt before its wait.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// Stop marks an error that no retry can fix: Do returns it at once.
func Stop(err error) error { return stopError{err} }

type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }
func (e stopError) Unwrap() error { return e.err }

// Do calls fn until it succeeds, returns an error wrapped by Stop, the
// attempts run out (the last error), or ctx ends (ctx.Err()).
func (p Policy) Do(ctx context.Context, fn func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(attempt)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var stop stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		if p.Attempts > 0 && attempt >= p.Attempts {
			return err
		}
		wait := p.Delay(attempt)
		if p.OnRetry != nil {
			p.OnRetry(attempt, err, wait)
		}
		if !Sleep(ctx, wait, p.After) {
			return ctx.Err()
		}
	}
}

// Sleep waits d on the clock after (time.After when nil); false when ctx
// ended first.
func Sleep(ctx context.Context, d time.Duration, after func(time.Duration) <-chan time.Time) bool {
	if after == nil {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	select {
	case <-ctx.Done():
		return false
	case <-after(d):
		return true
	}
}

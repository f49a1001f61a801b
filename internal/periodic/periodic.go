// Package periodic runs background chores (expiry sweeps, recovery,
// housekeeping, simulated suppliers) on a ticker until their context ends.
package periodic

import (
	"context"
	"time"
)

// Run calls fn every interval until ctx ends. An error from fn goes to
// onErr (when set) and the loop goes on: the next tick tries again. It
// returns nil when ctx ends, so it can serve as a role's loop.
func Run(ctx context.Context, every time.Duration, fn func(ctx context.Context, now time.Time) error, onErr func(error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			if err := fn(ctx, now); err != nil && ctx.Err() == nil && onErr != nil {
				onErr(err)
			}
		}
	}
}

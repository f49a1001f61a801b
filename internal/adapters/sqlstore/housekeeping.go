package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mercato-platform/mercato/internal/periodic"
)

// Retention of bookkeeping rows nothing reads once they are old.
const (
	closedReservationRetention = 7 * 24 * time.Hour
	demandEventRetention       = 60 * 24 * time.Hour
)

// Housekeep deletes rows past their use: expired idempotency keys (their
// retries are over), reservations closed more than a week ago (the ledger
// keeps their effect), and demand-dedup ids older than any demand horizon.
// It returns how many rows it deleted.
func (s *Store) Housekeep(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, st := range []struct {
		what, query string
		arg         int64
	}{
		{"idempotency keys", `DELETE FROM idempotency_keys WHERE expires_at < ?`, micros(now)},
		{"closed reservations", `DELETE FROM reservations WHERE state <> 'held' AND updated_at < ?`, micros(now.Add(-closedReservationRetention))},
		{"demand event ids", `DELETE FROM demand_events WHERE at < ?`, micros(now.Add(-demandEventRetention))},
	} {
		err := s.inTx(ctx, func(tx *txn) error {
			res, err := tx.ExecContext(ctx, st.query, st.arg)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("deleting old %s: %w", st.what, err)
		}
	}
	return total, nil
}

// RunHousekeeping calls Housekeep every interval until ctx ends.
func (s *Store) RunHousekeeping(ctx context.Context, every time.Duration) error {
	return periodic.Run(ctx, every, func(ctx context.Context, now time.Time) error {
		_, err := s.Housekeep(ctx, now)
		return err
	}, nil) // best effort: the next tick tries again
}

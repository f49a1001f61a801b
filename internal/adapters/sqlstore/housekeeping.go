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
	// OrderEventRetention is how long an order's timeline (its events,
	// GET /v1/orders/{id}/events) is kept; the order itself stays.
	OrderEventRetention = 90 * 24 * time.Hour
	// RefusalRetention is how long checkouts refused for stock are kept
	// for the console's counts.
	RefusalRetention = 90 * 24 * time.Hour
)

// housekeepBatch bounds the rows one housekeeping transaction deletes. On
// SQLite every write waits for the one writer, so a round deletes in many
// short transactions, and orders queued behind one wait a few milliseconds,
// not for the whole backlog (ten minutes of expired keys at 3,000 orders/s
// is 1.8 million rows).
const housekeepBatch = 1000

// Housekeep deletes rows past their use: expired idempotency keys (their
// retries are over), reservations closed more than a week ago (the ledger
// keeps their effect), demand-dedup ids older than any demand horizon, and
// order timelines and stock refusals older than their retention.
// Each kind is found through an index (order events through their primary
// key) and deleted housekeepBatch rows per transaction. It returns how many rows it deleted.
func (s *Store) Housekeep(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, st := range []struct {
		what, query string
		arg         int64
	}{
		{"idempotency keys", `DELETE FROM idempotency_keys WHERE (scope, key) IN
  (SELECT scope, key FROM idempotency_keys WHERE expires_at < ? LIMIT ?)`, micros(now)},
		{"closed reservations", `DELETE FROM reservations WHERE id IN
  (SELECT id FROM reservations WHERE state <> 'held' AND updated_at < ? LIMIT ?)`, micros(now.Add(-closedReservationRetention))},
		{"demand event ids", `DELETE FROM demand_events WHERE event_id IN
  (SELECT event_id FROM demand_events WHERE at < ? LIMIT ?)`, micros(now.Add(-demandEventRetention))},
		// Events are written in time order, so the oldest are the lowest
		// ids: the head of the primary key, read without another index
		// to keep up on every order.
		{"order events", `DELETE FROM order_events WHERE at < ? AND id IN
  (SELECT id FROM order_events ORDER BY id LIMIT ?)`, micros(now.Add(-OrderEventRetention))},
		{"checkout refusals", `DELETE FROM checkout_refusals WHERE id IN
  (SELECT id FROM checkout_refusals WHERE at < ? LIMIT ?)`, micros(now.Add(-RefusalRetention))},
	} {
		for {
			var n int64
			err := s.inTx(ctx, func(tx *txn) error {
				res, err := tx.ExecContext(ctx, st.query, st.arg, housekeepBatch)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return total, fmt.Errorf("deleting old %s: %w", st.what, err)
			}
			total += n
			if n < housekeepBatch {
				break // a cancelled ctx fails the next inTx instead
			}
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

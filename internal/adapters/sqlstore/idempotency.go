package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mercato-platform/mercato/internal/idempotency"
	"github.com/mercato-platform/mercato/internal/orders"
)

// Idempotency key states.
const (
	idemInFlight = "in_flight"
	idemDone     = "done"
)

// Begin claims an idempotency key (see idempotency.Store).
func (s *Store) Begin(ctx context.Context, scope, key, hash string, now time.Time, ttl, lease time.Duration) (idempotency.Record, error) {
	var rec idempotency.Record
	err := s.retryUnique(ctx, func() error {
		return s.inTx(ctx, func(tx *txn) error {
			var (
				gotHash, state    string
				status            sql.NullInt64
				body              []byte
				resource          sql.NullString
				expires, lockedAt int64
			)
			err := tx.QueryRowContext(ctx, `SELECT request_hash, state, response_status, response_body, resource_id, expires_at, locked_at
  FROM idempotency_keys WHERE scope = ? AND key = ?`+s.forUpdate(), scope, key).Scan(&gotHash, &state, &status, &body, &resource, &expires, &lockedAt)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				rec = idempotency.Record{Outcome: idempotency.Run}
				_, err = tx.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at, expires_at, locked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
					scope, key, hash, idemInFlight, micros(now), micros(now.Add(ttl)), micros(now))
				return err
			case err != nil:
				return fmt.Errorf("reading idempotency key: %w", err)
			case expires < micros(now):
				rec = idempotency.Record{Outcome: idempotency.Run}
				_, err = tx.ExecContext(ctx, `UPDATE idempotency_keys SET request_hash = ?, state = ?, response_status = NULL, response_body = NULL,
  resource_id = NULL, created_at = ?, expires_at = ?, locked_at = ? WHERE scope = ? AND key = ?`,
					hash, idemInFlight, micros(now), micros(now.Add(ttl)), micros(now), scope, key)
				return err
			case gotHash != hash:
				rec = idempotency.Record{Outcome: idempotency.Conflict}
			case state == idemDone:
				rec = idempotency.Record{Outcome: idempotency.Replay, Status: int(status.Int64), Body: body, ResourceID: resource.String}
			case lockedAt < micros(now.Add(-lease)):
				rec = idempotency.Record{Outcome: idempotency.Resume, ResourceID: resource.String}
				_, err = tx.ExecContext(ctx, `UPDATE idempotency_keys SET locked_at = ? WHERE scope = ? AND key = ?`, micros(now), scope, key)
				return err
			default:
				rec = idempotency.Record{Outcome: idempotency.InProgress}
			}
			return nil
		})
	})
	return rec, err
}

// Finish stores a key's response. A key whose response is stored already
// (by the transaction that finished the work, see CommitAndUpdateOrder) is
// left as it is, without a write.
func (s *Store) Finish(ctx context.Context, scope, key string, status int, body []byte) error {
	var state string
	err := s.r.QueryRowContext(ctx, s.q(`SELECT state FROM idempotency_keys WHERE scope = ? AND key = ?`), scope, key).Scan(&state)
	if err == nil && state == idemDone {
		return nil
	}
	return s.inTx(ctx, func(tx *txn) error { return s.finishTx(ctx, tx, scope, key, status, body) })
}

func (s *Store) finishTx(ctx context.Context, tx *txn, scope, key string, status int, body []byte) error {
	return tx.later(ctx, "storing idempotent response", nil, `UPDATE idempotency_keys SET state = ?, response_status = ?, response_body = ? WHERE scope = ? AND key = ?`,
		idemDone, status, body, scope, key)
}

// Exists reports whether a key has a row (claimed, finished or expired),
// reading only; checkout does not ask (a deferred claim finds a taken key
// itself), the store contract and tools do.
func (s *Store) Exists(ctx context.Context, scope, key string) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, s.q(`SELECT 1 FROM idempotency_keys WHERE scope = ? AND key = ?`), scope, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading idempotency key: %w", err)
	}
	return true, nil
}

// Settle stores the response of a request whose deferred claim was never
// written (idempotency.Deferred); a row already there is left alone, and
// written is false.
func (s *Store) Settle(ctx context.Context, scope, key string, c idempotency.Claim, status int, body []byte) (bool, error) {
	written := false
	err := s.inTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, state, response_status, response_body, created_at, expires_at, locked_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING`,
			scope, key, c.Hash, idemDone, status, body, micros(c.At), micros(c.Expires), micros(c.At))
		if err != nil {
			return fmt.Errorf("storing idempotent response: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("storing idempotent response: %w", err)
		}
		written = n > 0
		return nil
	})
	return written, err
}

// Forget drops an unfinished claim that names no resource or names
// resourceID (idempotency.Store), so a retry runs again.
func (s *Store) Forget(ctx context.Context, scope, key, resourceID string) error {
	return s.inTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND state = ? AND (resource_id IS NULL OR resource_id = ?)`,
			scope, key, idemInFlight, resourceID)
		if err != nil {
			return fmt.Errorf("forgetting idempotency key: %w", err)
		}
		return nil
	})
}

// claimKeyTx writes a deferred idempotency claim (idempotency.Deferred),
// already linked to the order, before any other write of the transaction:
// a key another request holds fails it with idempotency.ErrTaken.
func (s *Store) claimKeyTx(ctx context.Context, tx *txn, orderID string, idem orders.IdemRef) error {
	if idem.Claim == nil {
		return nil
	}
	c := idem.Claim
	// Judged with the transaction's next round trip: a taken key fails it.
	return tx.later(ctx, "claiming idempotency key", func(n int64) error {
		if n == 0 {
			return idempotency.ErrTaken
		}
		return nil
	}, `INSERT INTO idempotency_keys (scope, key, request_hash, state, resource_id, created_at, expires_at, locked_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING`,
		idem.Scope, idem.Key, c.Hash, idemInFlight, orderID, micros(c.At), micros(c.Expires), micros(c.At))
}

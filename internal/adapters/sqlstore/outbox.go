package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mercato-platform/mercato/internal/outbox"
)

// PendingOutbox returns unsent rows in id order.
func (s *Store) PendingOutbox(ctx context.Context, limit int) ([]outbox.Row, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT id, event_id, topic, msg_key, event_type, payload FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("reading outbox: %w", err)
	}
	defer rows.Close()
	var out []outbox.Row
	for rows.Next() {
		var r outbox.Row
		if err := rows.Scan(&r.ID, &r.EventID, &r.Topic, &r.Key, &r.Type, &r.Payload); err != nil {
			return nil, fmt.Errorf("reading outbox: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkOutboxSent deletes published rows: from now on the event log is their
// record. (Deleting once costs less than stamping and pruning later.)
func (s *Store) MarkOutboxSent(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *txn) error {
		// Chunks keep each statement under SQLite's bound-parameter limit.
		for start := 0; start < len(ids); start += 500 {
			part := ids[start:min(start+500, len(ids))]
			args := make([]any, 0, len(part))
			for _, id := range part {
				args = append(args, id)
			}
			q := `DELETE FROM outbox WHERE id IN (` + placeholders(len(part)) + `)`
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("deleting published outbox rows: %w", err)
			}
		}
		return nil
	})
}

// OutboxBacklog counts unsent rows.
func (s *Store) OutboxBacklog(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting outbox backlog: %w", err)
	}
	return n, nil
}

const relayLockKey = 727002

// AcquireRelayLease makes this process the only publishing relay. On
// PostgreSQL it holds a session advisory lock on a dedicated connection; if
// that connection drops, the lock goes with it and another relay takes over.
// SQLite is owned by one process, so the lease is immediate.
func (s *Store) AcquireRelayLease(ctx context.Context) (func(), error) {
	if !s.pg {
		return func() {}, nil
	}
	for {
		conn, err := s.w.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("relay lease connection: %w", err)
		}
		var ok bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, relayLockKey).Scan(&ok); err != nil {
			conn.Close()
			return nil, fmt.Errorf("relay lease: %w", err)
		}
		if ok {
			return func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, _ = conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, relayLockKey)
				conn.Close()
			}, nil
		}
		conn.Close()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/outbox"
)

// PendingOutbox returns the unsent events in id order, whole writes at a
// time: it stops after the write that reaches limit events. The events of
// one packed row share its id, which MarkOutboxSent takes.
//
// On PostgreSQL the read runs in a transaction that plans by index (see
// txn.byIndex): the relay deletes every row it publishes, so between two
// vacuums the table is mostly dead rows, which a sequential scan (the
// plan PostgreSQL took for a table its statistics call small) read at
// every poll.
func (s *Store) PendingOutbox(ctx context.Context, limit int) ([]outbox.Row, error) {
	const pending = `SELECT id, event_id, topic, msg_key, event_type, payload FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?`
	scan := func(row scanner) (outbox.Row, error) {
		var r outbox.Row
		err := row.Scan(&r.ID, &r.EventID, &r.Topic, &r.Key, &r.Type, &r.Payload)
		return r, err
	}
	var (
		stored []outbox.Row
		err    error
	)
	if s.pg {
		err = s.runPGTx(ctx, func(tx *txn) error {
			stored = stored[:0]
			if err := tx.byIndex(ctx); err != nil {
				return err
			}
			return tx.readAll(ctx, pgRead{what: "reading outbox", query: pending, args: []any{limit}, row: func(r pgx.Rows) error {
				row, err := scan(r)
				stored = append(stored, row)
				return err
			}})
		})
	} else {
		stored, err = list(ctx, reads{s.r}, scan, s.q(pending), limit)
	}
	if err != nil {
		return nil, fmt.Errorf("reading outbox: %w", err)
	}
	out := make([]outbox.Row, 0, len(stored))
	for _, r := range stored {
		if len(out) >= limit {
			break
		}
		if r.Topic != packedTopic {
			out = append(out, r)
			continue
		}
		if out, err = unpackEvents(out, r.ID, r.Payload); err != nil {
			return nil, fmt.Errorf("reading outbox row %d: %w", r.ID, err)
		}
	}
	return out, nil
}

// packedTopic is the topic of an outbox row that carries several events:
// no event has an empty topic.
const packedTopic = ""

// packEvents encodes the events of one write as one outbox payload: per
// event, its id, topic, key, type and encoded envelope, each a uvarint
// length and its bytes, after a format byte. One row per transaction
// instead of one per event saves PostgreSQL a heap row and its index
// entries per event, on insert and again when the relay deletes it.
func packEvents(msgs []event.Message) ([]byte, error) {
	b := make([]byte, 1, 512*len(msgs))
	b[0] = packFormat
	for _, m := range msgs {
		payload, err := m.Envelope.Encode()
		if err != nil {
			return nil, fmt.Errorf("enqueueing %s: %w", m.Envelope.Type, err)
		}
		for _, f := range [...][]byte{[]byte(m.Envelope.ID), []byte(m.Topic), []byte(m.Envelope.Subject), []byte(m.Envelope.Type), payload} {
			b = binary.AppendUvarint(b, uint64(len(f)))
			b = append(b, f...)
		}
	}
	return b, nil
}

const packFormat = 1

// unpackEvents appends the events of a packed row to out.
func unpackEvents(out []outbox.Row, id int64, b []byte) ([]outbox.Row, error) {
	if len(b) == 0 || b[0] != packFormat {
		return out, errors.New("not a packed outbox row of a known format")
	}
	b = b[1:]
	field := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, errors.New("packed outbox row cut short")
		}
		f := b[k : k+int(n)]
		b = b[k+int(n):]
		return f, nil
	}
	for len(b) > 0 {
		var f [5][]byte
		for i := range f {
			var err error
			if f[i], err = field(); err != nil {
				return out, err
			}
		}
		out = append(out, outbox.Row{ID: id, EventID: string(f[0]), Topic: string(f[1]), Key: string(f[2]), Type: string(f[3]), Payload: f[4]})
	}
	return out, nil
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

// OutboxBacklog counts unsent events.
func (s *Store) OutboxBacklog(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(SUM(events), 0) FROM outbox WHERE sent_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting outbox backlog: %w", err)
	}
	return n, nil
}

// EnqueueEvents writes events to the outbox in their own transaction, for
// writers whose state lives elsewhere (and for tools and benchmarks).
func (s *Store) EnqueueEvents(ctx context.Context, msgs []event.Message) error {
	return s.inTx(ctx, func(tx *txn) error { return s.enqueue(ctx, tx, msgs) })
}

// enqueue writes events to the outbox with multi-row inserts, in the
// transaction of the change they report. On PostgreSQL they are written
// when the transaction's work is done, right before its commit (runTx): a
// transaction that reports several changes (an order and its stock) pays
// one round trip for all its events instead of one or two per change.
func (s *Store) enqueue(ctx context.Context, tx *txn, msgs []event.Message) error {
	if s.pg {
		tx.events = append(tx.events, msgs...)
		return nil
	}
	return s.writeEvents(ctx, tx, msgs)
}

// writeEvents inserts the events of one write into the outbox, as one row
// when there are several (packEvents), and the order events among them into
// order_events.
func (s *Store) writeEvents(ctx context.Context, tx *txn, msgs []event.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	first := msgs[0]
	row := []any{first.Envelope.ID, first.Topic, first.Envelope.Subject, first.Envelope.Type, nil, micros(first.Envelope.Time), len(msgs)}
	if len(msgs) == 1 {
		payload, err := first.Envelope.Encode()
		if err != nil {
			return fmt.Errorf("enqueueing %s: %w", first.Envelope.Type, err)
		}
		row[4] = payload
	} else {
		payload, err := packEvents(msgs)
		if err != nil {
			return err
		}
		row[1], row[2], row[3], row[4] = packedTopic, "", "", payload
	}
	var kept [][]any
	for _, m := range msgs {
		if keepsOrderEvent(m) {
			kept = append(kept, []any{m.Envelope.Subject, m.Envelope.ID, m.Envelope.Type, micros(m.Envelope.Time), string(m.Envelope.Data)})
		}
	}
	const insertOutbox = `INSERT INTO outbox (event_id, topic, msg_key, event_type, payload, created_at, events) VALUES (?, ?, ?, ?, ?, ?, ?)`
	if s.pg && len(kept) > 0 && len(kept) <= 64 {
		// Both tables in one statement, one round trip.
		args := append(make([]any, 0, len(row)+5*len(kept)), row...)
		for _, r := range kept {
			args = append(args, r...)
		}
		return tx.later(ctx, "enqueueing events", nil, `WITH o AS (`+insertOutbox+`)
  INSERT INTO order_events (order_id, event_id, event_type, at, data) VALUES `+valuesList(len(kept), 5), args...)
	}
	if err := tx.later(ctx, "enqueueing events", nil, insertOutbox, row...); err != nil {
		return fmt.Errorf("enqueueing events: %w", err)
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO order_events (order_id, event_id, event_type, at, data) VALUES `, 5, kept); err != nil {
		return fmt.Errorf("keeping order events: %w", err)
	}
	return nil
}

// relayLockKey is the advisory lock the publishing relay holds. Being below
// 2^32, pg_locks shows it as classid 0, objid relayLockKey, objsubid 1.
const relayLockKey = 727002

// AcquireRelayLease makes this process the only publishing relay. On
// PostgreSQL it holds a session advisory lock on a dedicated connection; if
// that connection drops, the lock goes with it and another relay may take
// over, which the lease's Check then reports. SQLite is owned by one process,
// so the lease is immediate and never lost.
func (s *Store) AcquireRelayLease(ctx context.Context) (outbox.Lease, error) {
	if !s.pg {
		return processLease{}, nil
	}
	for {
		conn, err := s.w.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("relay lease connection: %w", err)
		}
		var ok bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, relayLockKey).Scan(&ok); err != nil {
			discard(conn)
			return nil, fmt.Errorf("relay lease: %w", err)
		}
		if ok {
			return &pgLease{conn: conn}, nil
		}
		conn.Close()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// processLease is the lease of a store only one process can open.
type processLease struct{}

func (processLease) Check(context.Context) error { return nil }
func (processLease) Release()                    {}

// pgLease is a session advisory lock held by one pinned connection.
type pgLease struct {
	mu   sync.Mutex
	conn *sql.Conn // nil once released
}

// leaseCheckTimeout bounds one check: a lease that cannot be confirmed in
// time is treated as lost rather than stalling the relay.
const leaseCheckTimeout = 5 * time.Second

// Check asks, on the connection that took the lock, whether its backend
// still holds it. A pooled connection would not do: a ping on a fresh one
// succeeds after the lock's own session died. database/sql never swaps the
// driver connection under a *sql.Conn, so a dropped one fails here.
func (l *pgLease) Check(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return fmt.Errorf("%w: released", outbox.ErrLeaseLost)
	}
	ctx, cancel := context.WithTimeout(ctx, leaseCheckTimeout)
	defer cancel()
	var held bool
	err := l.conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
		WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND objsubid = 1
		AND pid = pg_backend_pid() AND granted)`, relayLockKey).Scan(&held)
	if err != nil {
		return fmt.Errorf("%w: checking the advisory lock: %w", outbox.ErrLeaseLost, err)
	}
	if !held {
		return fmt.Errorf("%w: the advisory lock is no longer held by this session", outbox.ErrLeaseLost)
	}
	return nil
}

// Release unlocks and closes the session rather than pooling it: a pooled
// session that still held the lock (an unlock that failed or timed out)
// would keep every relay out for as long as it lived.
func (l *pgLease) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, relayLockKey)
	discard(l.conn)
	l.conn = nil
}

// discard closes conn's session instead of returning it to the pool.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

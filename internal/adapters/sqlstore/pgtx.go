package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL write transactions run on the pool connection's own pgx
// handle rather than through database/sql, so that statements whose
// results the transaction does not read wait (txn.later) and travel with
// the next statement that needs an answer, or with the COMMIT, as one
// pipelined round trip. BEGIN travels with the first statement too. A
// checkout's two transactions need 2 and 4 round trips this way instead
// of 7 and 9: on a machine where PostgreSQL and the api share the CPU,
// each round trip is two wake-ups and four system calls.

// queued is a statement waiting for the transaction's next round trip.
type queued struct {
	what  string // names it in an error
	query string
	args  []any
	// check, when set, judges the statement's outcome (rows affected)
	// once it arrives: a non-nil error fails the transaction.
	check func(pgconn.CommandTag) error
}

// pgRollbackTimeout bounds the ROLLBACK sent after a failed transaction
// whose caller's context may already be done.
const pgRollbackTimeout = 5 * time.Second

// runPGTx runs fn as one PostgreSQL transaction on a connection of the
// pool, committing it when fn and its events succeed.
func (s *Store) runPGTx(ctx context.Context, fn func(*txn) error) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("taking a PostgreSQL connection: %w", err)
	}
	defer conn.Close()
	var txErr error
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("PostgreSQL connection is a %T, not pgx's", dc)
		}
		pc := sc.Conn()
		t := &txn{pc: pc, s: s, queue: []queued{{what: "beginning transaction", query: "BEGIN"}}}
		txErr = fn(t)
		if txErr == nil && len(t.events) > 0 {
			txErr = s.writeEvents(ctx, t, t.events)
		}
		if txErr != nil {
			txErr = &uncommitted{txErr}
		} else {
			txErr = t.commit(ctx)
		}
		if txErr == nil || pc.PgConn().TxStatus() == 'I' {
			return nil
		}
		// Whatever was sent is undone; a connection that cannot say so is
		// dropped from the pool (stdlib discards one left in a transaction).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pgRollbackTimeout)
		defer cancel()
		if _, err := pc.Exec(rctx, "ROLLBACK"); err != nil {
			return driver.ErrBadConn
		}
		return nil
	})
	if txErr != nil {
		return txErr
	}
	if err != nil && !errors.Is(err, driver.ErrBadConn) {
		return err
	}
	return nil
}

// uncommitted is an error a transaction met before its COMMIT was sent:
// nothing of it was committed.
type uncommitted struct{ err error }

func (e *uncommitted) Error() string { return e.err.Error() }
func (e *uncommitted) Unwrap() error { return e.err }

// commit sends what is queued and the COMMIT in one round trip.
func (t *txn) commit(ctx context.Context) error {
	if len(t.queue) == 1 && t.queue[0].query == "BEGIN" {
		t.queue = nil
		return nil // nothing was written
	}
	t.queue = append(t.queue, queued{what: "committing", query: "COMMIT", check: func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return errors.New("PostgreSQL rolled the transaction back at commit")
		}
		return nil
	}})
	return t.flush(ctx)
}

// flush sends what is queued, alone, in one round trip.
func (t *txn) flush(ctx context.Context) error { return t.readAll(ctx) }

// batch is the queue, then query (when not empty), as one pipeline.
func (t *txn) batch(query string, args []any) *pgx.Batch {
	b := &pgx.Batch{}
	for _, q := range t.queue {
		b.Queue(q.query, q.args...)
	}
	if query != "" {
		b.Queue(query, args...)
	}
	return b
}

// drain reads the queued statements' outcomes off br, in order, and
// empties the queue.
func (t *txn) drain(br pgx.BatchResults) error {
	sent := t.queue
	t.queue = nil
	for _, q := range sent {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("%s: %w", q.what, err)
		}
		if q.check != nil {
			if err := q.check(tag); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *txn) pgExec(ctx context.Context, query string, args []any) (sql.Result, error) {
	if len(t.queue) == 0 {
		tag, err := t.pc.Exec(ctx, query, args...)
		return pgResult(tag), err
	}
	br := t.pc.SendBatch(ctx, t.batch(query, args))
	err := t.drain(br)
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return pgResult(tag), err
}

func (t *txn) pgQueryRow(ctx context.Context, query string, args []any) scanner {
	if len(t.queue) == 0 {
		return pgRow{row: t.pc.QueryRow(ctx, query, args...)}
	}
	br := t.pc.SendBatch(ctx, t.batch(query, args))
	if err := t.drain(br); err != nil {
		_ = br.Close()
		return errRow{err}
	}
	return pgRow{row: br.QueryRow(), close: br.Close}
}

func (t *txn) pgQuery(ctx context.Context, query string, args []any) (rows, error) {
	if len(t.queue) > 0 {
		if err := t.flush(ctx); err != nil {
			return nil, err
		}
	}
	r, err := t.pc.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgRows{r}, nil
}

// pgResult is a command tag as database/sql's Result.
type pgResult pgconn.CommandTag

func (r pgResult) LastInsertId() (int64, error) {
	return 0, errors.New("PostgreSQL has no last insert id; use RETURNING")
}

func (r pgResult) RowsAffected() (int64, error) { return pgconn.CommandTag(r).RowsAffected(), nil }

// pgRow scans one row as *sql.Row does: sql.ErrNoRows when there is none.
type pgRow struct {
	row   pgx.Row
	close func() error // the batch the row came in, if any
}

func (r pgRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		err = sql.ErrNoRows
	}
	if r.close != nil {
		if cerr := r.close(); err == nil && cerr != nil {
			err = cerr
		}
	}
	return err
}

// errRow is a row that failed before it was read.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// pgRows is pgx's rows as the rows interface.
type pgRows struct{ pgx.Rows }

func (r pgRows) Close() error {
	r.Rows.Close()
	return r.Rows.Err()
}

// byIndex turns sequential scans off for the rest of the transaction
// (SET LOCAL, sent with the next statement): its statements read a few
// rows by key, and a table whose statistics are stale or that is mostly
// dead rows would otherwise be read whole (pgbatch.go).
func (t *txn) byIndex(ctx context.Context) error {
	return t.later(ctx, "planning by index", nil, `SET LOCAL enable_seqscan = off`)
}

// pgRead is one query of txn.readAll: row takes each of its rows.
type pgRead struct {
	what  string // names it in an error
	query string // ? placeholders
	args  []any
	row   func(pgx.Rows) error
}

// readAll sends what is queued and the reads (none for a flush) as one
// pipeline, and hands each read's rows, in order, to its row.
func (t *txn) readAll(ctx context.Context, reads ...pgRead) error {
	b := t.batch("", nil)
	for _, r := range reads {
		b.Queue(t.s.q(r.query), r.args...)
	}
	br := t.pc.SendBatch(ctx, b)
	err := t.drain(br)
	for _, r := range reads {
		if err != nil {
			break
		}
		err = readRows(br, r)
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

// readRows reads r's rows, the next result of br.
func readRows(br pgx.BatchResults, r pgRead) error {
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("%s: %w", r.what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := r.row(rows); err != nil {
			return fmt.Errorf("%s: %w", r.what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", r.what, err)
	}
	return nil
}

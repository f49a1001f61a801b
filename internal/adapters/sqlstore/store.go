package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/mattn/go-sqlite3"

	"github.com/mercato-platform/mercato/internal/batch"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
)

// Options tune the store.
type Options struct {
	// SQLiteSynchronous is FULL (fsync on every commit, the default) or NORMAL.
	SQLiteSynchronous string
	// MaxConns bounds PostgreSQL connections and SQLite readers.
	MaxConns int
	// AlertHysteresis re-arms low-stock alerts at threshold × (1 + h); default 0.10.
	AlertHysteresis float64
	// WriterNice adjusts the nice value of the SQLite writer's thread
	// (Linux), as nice -n does: -10 runs it ten steps ahead of the rest of
	// the process, 0 leaves it. The single writer is the serial part of
	// every write, so a negative value lets it run ahead of the goroutines
	// queueing work for it. See WriterPriority.
	WriterNice int
	// CheckoutBatches runs concurrent checkouts on PostgreSQL in shared
	// transactions (pgbatch.go). Off by default: see the
	// --postgres-checkout-batches flag.
	CheckoutBatches bool
	// Now is the clock that stamps reservations, ledger entries and
	// events; default time.Now.
	Now func() time.Time
	// Logger tells of trouble in the store's background work (the quote
	// cache's listener); default discards.
	Logger *slog.Logger
}

// Store is the system of record.
type Store struct {
	pg         bool
	batches    bool // PostgreSQL checkouts share transactions (Options.CheckoutBatches)
	hysteresis float64
	now        func() time.Time
	w          *sql.DB // writes; on SQLite exactly one connection
	r          *sql.DB // reads; on SQLite a separate read-only pool (WAL readers never block the writer)

	// SQLite group commit: write transactions queue here and the writer runs
	// each queued one in a savepoint of one shared transaction, so one fsync
	// covers many acknowledged writes.
	writes  chan *writeReq
	stopped chan struct{}
	closeMu sync.Once

	// reserver merges concurrent Reserve calls into ReserveBatch calls.
	reserver batch.Combiner[inventory.ReserveRequest]
	// creates and pays merge concurrent checkout transactions on
	// PostgreSQL (pgbatch.go); SQLite's group commit already does.
	creates batch.Combiner[*createReq]
	pays    batch.Combiner[*payReq]

	// PostgreSQL keeps the quotes checkout reads (quotecache.go).
	dsn          string
	log          *slog.Logger
	quotesMu     sync.Mutex
	quotes       *quoteCache
	quotesClosed bool

	// SQLite re-parses every unprepared statement, which costs more than
	// executing it; the writer's statements are prepared once, between
	// group commits, when the one writer connection is free.
	stmtMu  sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool

	// writerNiceErr is why the writer's priority could not be set, if so.
	writerNiceErr error
}

// txn is a write transaction. On SQLite it is the writer's transaction and
// its statements use the prepared cache; on PostgreSQL it runs on the
// connection's pgx handle and pipelines (see runPGTx).
type txn struct {
	tx *sql.Tx   // SQLite
	pc *pgx.Conn // PostgreSQL
	s  *Store
	// events waits for the commit on PostgreSQL (see enqueue).
	events []event.Message
	// queue holds PostgreSQL statements for the next round trip (later).
	queue []queued
}

func (t *txn) stmt(ctx context.Context, query string) (*sql.Stmt, string) {
	query = t.s.q(query)
	if t.s.pg {
		return nil, query // pgx caches prepared statements per connection itself
	}
	t.s.stmtMu.Lock()
	defer t.s.stmtMu.Unlock()
	if st, ok := t.s.stmts[query]; ok {
		return t.tx.StmtContext(ctx, st), query
	}
	t.s.pending[query] = true
	return nil, query
}

// uncancellable drops the caller's cancellation from statements on the
// SQLite writer. A group's transaction is shared, so one caller giving up
// must not interrupt a statement half-way (the group committer checks each
// caller's context before running its write). And the driver runs every
// statement with a cancellable context on a goroutine of its own, which on
// a busy machine leaves the single writer waiting to be scheduled twice
// per statement.
func (t *txn) uncancellable(ctx context.Context) context.Context {
	if t.s.pg {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// ExecContext runs a statement in the transaction; ? placeholders.
func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = t.uncancellable(ctx)
	st, q := t.stmt(ctx, query)
	switch {
	case t.pc != nil:
		return t.pgExec(ctx, q, args)
	case st != nil:
		return st.ExecContext(ctx, args...)
	default:
		return t.tx.ExecContext(ctx, q, args...)
	}
}

// later runs a statement whose result the transaction does not read; what
// names it in an error. On PostgreSQL it waits for the transaction's next
// round trip (its error fails that one, and so the transaction); check,
// when not nil, judges its rows affected then. On SQLite it runs now.
func (t *txn) later(ctx context.Context, what string, check func(rowsAffected int64) error, query string, args ...any) error {
	if t.pc == nil {
		res, err := t.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if check == nil {
			return nil
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return check(n)
	}
	q := queued{what: what, query: t.s.q(query), args: args}
	if check != nil {
		q.check = func(tag pgconn.CommandTag) error { return check(tag.RowsAffected()) }
	}
	t.queue = append(t.queue, q)
	return nil
}

// QueryContext runs a query in the transaction; ? placeholders.
func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (rows, error) {
	ctx = t.uncancellable(ctx)
	st, q := t.stmt(ctx, query)
	switch {
	case t.pc != nil:
		return t.pgQuery(ctx, q, args)
	case st != nil:
		return st.QueryContext(ctx, args...)
	default:
		return t.tx.QueryContext(ctx, q, args...)
	}
}

// QueryRowContext runs a query in the transaction; ? placeholders.
func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) scanner {
	ctx = t.uncancellable(ctx)
	st, q := t.stmt(ctx, query)
	switch {
	case t.pc != nil:
		return t.pgQueryRow(ctx, q, args)
	case st != nil:
		return st.QueryRowContext(ctx, args...)
	default:
		return t.tx.QueryRowContext(ctx, q, args...)
	}
}

// preparePending prepares the statements first seen in the last batch. It
// runs on the group committer between transactions.
func (s *Store) preparePending() {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	for q := range s.pending {
		delete(s.pending, q)
		if st, err := s.w.Prepare(q); err == nil {
			s.stmts[q] = st
		}
	}
}

type writeReq struct {
	ctx  context.Context
	fn   func(*txn) error
	done chan error
}

// maxGroup bounds how many queued writes share one commit.
const maxGroup = 256

// Open connects, applies migrations and returns the store. kind is "sqlite"
// (dsn is a file path) or "postgres" (dsn is a URL).
func Open(ctx context.Context, kind, dsn string, o Options) (*Store, error) {
	if o.MaxConns <= 0 {
		o.MaxConns = 16
	}
	var s *Store
	switch kind {
	case "sqlite":
		var err error
		if s, err = openSQLite(dsn, o); err != nil {
			return nil, err
		}
	case "postgres":
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("opening PostgreSQL: %w", err)
		}
		db.SetMaxOpenConns(o.MaxConns)
		db.SetMaxIdleConns(o.MaxConns)
		db.SetConnMaxIdleTime(5 * time.Minute)
		s = &Store{pg: true, w: db, r: db, dsn: dsn}
	default:
		return nil, fmt.Errorf("unknown store kind %q", kind)
	}
	s.reserver = batch.Combiner[inventory.ReserveRequest]{Run: s.ReserveBatch, Max: 256, Parallel: 2}
	s.batches = s.pg && o.CheckoutBatches
	s.creates = batch.Combiner[*createReq]{Run: s.createBatch, Max: checkoutBatchMax}
	s.pays = batch.Combiner[*payReq]{Run: s.payBatch, Max: checkoutBatchMax}
	s.hysteresis = o.AlertHysteresis
	if s.hysteresis <= 0 {
		s.hysteresis = 0.10
	}
	s.log = o.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.now = o.Now
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// sqliteDriver is SQLite (the C library, through cgo) with the settings the
// DSN cannot carry: group commit runs each write in a savepoint, so the
// statement journal stays in memory instead of a temp file.
const sqliteDriver = "mercato-sqlite3"

func init() {
	sql.Register(sqliteDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		if _, err := c.Exec("PRAGMA temp_store = MEMORY", nil); err != nil {
			return fmt.Errorf("setting temp_store: %w", err)
		}
		return nil
	}})
}

func openSQLite(path string, o Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating SQLite directory: %w", err)
	}
	sync := strings.ToUpper(o.SQLiteSynchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" {
		return nil, fmt.Errorf("SQLite synchronous must be FULL or NORMAL, got %q", o.SQLiteSynchronous)
	}
	if o.WriterNice < -20 || o.WriterNice > 19 {
		return nil, fmt.Errorf("SQLite writer nice adjustment must be -20 to 19, got %d", o.WriterNice)
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Set("_busy_timeout", "10000")
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", sync)
		q.Set("_foreign_keys", "1")
		q.Set("_cache_size", "-65536")
		// Each connection keeps its statements prepared, readers included
		// (the writer also prepares its own, see txn.stmt).
		q.Set("_stmt_cache_size", "128")
		for _, e := range extra {
			k, v, _ := strings.Cut(e, "=")
			q.Set(k, v)
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	w, err := sql.Open(sqliteDriver, dsn("_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("opening SQLite %s: %w", path, err)
	}
	// One writer connection: writes queue in Go instead of failing with SQLITE_BUSY.
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// The writer must create the file and switch it to WAL before readers open it.
	if _, err := w.Exec(`SELECT 1`); err != nil {
		w.Close()
		return nil, fmt.Errorf("opening SQLite %s: %w", path, err)
	}
	r, err := sql.Open(sqliteDriver, dsn("_query_only=1"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening SQLite readers %s: %w", path, err)
	}
	r.SetMaxOpenConns(o.MaxConns)
	r.SetMaxIdleConns(o.MaxConns)
	s := &Store{w: w, r: r, writes: make(chan *writeReq, maxGroup), stopped: make(chan struct{}),
		stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
	started := make(chan error, 1)
	go s.groupCommitter(o.WriterNice, started)
	s.writerNiceErr = <-started
	return s, nil
}

// Kind is "sqlite" or "postgres".
func (s *Store) Kind() string {
	if s.pg {
		return "postgres"
	}
	return "sqlite"
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging %s: %w", s.Kind(), err)
	}
	return nil
}

// Close closes all connections. Writes must have returned.
func (s *Store) Close() {
	s.stopQuoteCache()
	s.closeMu.Do(func() {
		if s.writes != nil {
			close(s.writes)
			<-s.stopped
		}
	})
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmtMu.Unlock()
	s.w.Close()
	if s.r != s.w {
		s.r.Close()
	}
}

// q rewrites ? placeholders to $n for PostgreSQL. Queries never contain a
// literal question mark.
func (s *Store) q(query string) string {
	if !s.pg {
		return query
	}
	if v, ok := rewritten.Load(query); ok {
		return v.(string)
	}
	v := rewrite(query)
	rewritten.Store(query, v)
	return v
}

// rewritten caches rewrite by query text: the statements are a bounded set
// (chunked lists have a few fixed sizes), and every statement of every
// transaction passes through q.
var rewritten sync.Map // string -> string

func rewrite(query string) string {
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// forUpdate locks selected rows on PostgreSQL; SQLite's single writer already
// serialises write transactions.
func (s *Store) forUpdate() string {
	if s.pg {
		return " FOR UPDATE"
	}
	return ""
}

// inTx runs fn in a write transaction and commits it, or rolls back on error.
// On SQLite it joins the group commit; it returns only once the outcome is
// durable, even if ctx is cancelled meanwhile, so a nil error always means
// committed.
func (s *Store) inTx(ctx context.Context, fn func(*txn) error) error {
	if s.writes != nil {
		req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
		select {
		case s.writes <- req:
		case <-ctx.Done():
			return ctx.Err()
		}
		return <-req.done
	}
	return s.runTx(ctx, fn)
}

func (s *Store) runTx(ctx context.Context, fn func(*txn) error) error {
	if s.pg {
		return s.runPGTx(ctx, fn)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	t := &txn{tx: tx, s: s}
	err = fn(t)
	if err == nil && len(t.events) > 0 {
		err = s.writeEvents(ctx, t, t.events)
	}
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// retryUnique retries fn when a concurrent writer inserted the same row
// first (PostgreSQL); the retry then sees that row and replays.
func (s *Store) retryUnique(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || attempt >= 3 || !isUniqueViolation(err) || ctx.Err() != nil {
			return err
		}
	}
}

// scanner is a row to scan: *sql.Row, *sql.Rows or a PostgreSQL
// transaction's row.
type scanner interface{ Scan(dest ...any) error }

// rows are a query's rows: *sql.Rows or a PostgreSQL transaction's.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// querier runs a query: the read pool (placeholders already rewritten with
// s.q) or a write transaction (which rewrites them itself).
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (rows, error)
}

// rowQuerier reads one row, from the read pool or a write transaction.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) scanner
}

// reads is the read pool as a querier and rowQuerier.
type reads struct{ db *sql.DB }

func (r reads) QueryContext(ctx context.Context, query string, args ...any) (rows, error) {
	return r.db.QueryContext(ctx, query, args...)
}

func (r reads) QueryRowContext(ctx context.Context, query string, args ...any) scanner {
	return r.db.QueryRowContext(ctx, query, args...)
}

// list runs query and scans each row with scan. The result is never nil, so
// an empty list encodes as [] in JSON.
func list[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// scanString scans a one-column row of text.
func scanString(r scanner) (string, error) {
	var v string
	err := r.Scan(&v)
	return v, err
}

// chunk is how many of n remaining rows the next statement takes: 64, 32,
// ... or 1, so a few statements cover any count and each stays prepared.
func chunk(n int) int {
	c := 64
	for c > n {
		c /= 2
	}
	return c
}

// insertRows runs head (an INSERT ... VALUES) over rows of ncols values,
// in chunks (see chunk).
func (s *Store) insertRows(ctx context.Context, tx *txn, head string, ncols int, rows [][]any) error {
	for len(rows) > 0 {
		n := chunk(len(rows))
		args := make([]any, 0, n*ncols)
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if err := tx.later(ctx, "inserting rows", nil, head+valuesList(n, ncols), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

var valuesLists sync.Map // [2]int{rows, cols} -> string

// valuesList is "(?, ?), (?, ?)" for rows × cols placeholders.
func valuesList(rows, cols int) string {
	k := [2]int{rows, cols}
	if v, ok := valuesLists.Load(k); ok {
		return v.(string)
	}
	one := "(" + placeholders(cols) + ")"
	v := strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
	valuesLists.Store(k, v)
	return v
}

// placeholders is "?, ?, ?" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// isUniqueViolation reports a primary-key or unique conflict, which on
// PostgreSQL means a concurrent writer won a race and the caller should retry.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func micros(t time.Time) int64 { return t.UnixMicro() }
func fromMicros(v int64) time.Time {
	return time.UnixMicro(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// prioritise adjusts the calling thread's nice value by adjust, as nice -n
// does, within -20 to 19; the caller has locked its goroutine to the thread,
// so the value applies to everything the goroutine runs. It returns what
// gives the thread back when the writer stops: its value, then Go's pool.
func prioritise(adjust int) (restore func(), err error) {
	if adjust == 0 {
		return runtime.UnlockOSThread, nil
	}
	before, err := threadNice()
	if err != nil {
		return runtime.UnlockOSThread, err
	}
	if err := setThreadNice(min(max(before+adjust, -20), 19)); err != nil {
		return runtime.UnlockOSThread, err
	}
	return func() {
		// Going back to a higher priority may be refused (an unprivileged
		// positive adjustment): the goroutine then ends locked, and Go ends
		// its thread with it, or parks it for good if it is the main thread.
		if setThreadNice(before) == nil {
			runtime.UnlockOSThread()
		}
	}, nil
}

// WriterPriority reports whether the SQLite writer's thread runs at the
// priority asked for (Options.WriterNice): nil when it does, or when none
// was asked for or the store is PostgreSQL; otherwise why not (typically a
// missing CAP_SYS_NICE), in which case it runs at the process's priority.
func (s *Store) WriterPriority() error { return s.writerNiceErr }

// groupCommitter is SQLite's single writer. It takes whatever writes are
// queued (at least one, at most maxGroup), runs each in its own savepoint so
// a failing write rolls back alone, and commits them together.
//
// It keeps one OS thread for itself, so every write transaction runs on
// that thread at its priority (nice value, see prioritise). Go never starts
// new threads from a locked one, so the value passes to no other thread; the
// thread may be the process's main thread, which then shows as the process
// in ps and top. It keeps the thread even with no priority to set: measured
// unprivileged, checkout ran about a fifth faster with the writer on a
// thread of its own than without (BENCHMARKS.md). started receives the
// result before the first write is taken. When the writer stops, the thread
// gets its value back and returns to Go's pool.
func (s *Store) groupCommitter(nice int, started chan<- error) {
	defer close(s.stopped)
	runtime.LockOSThread()
	restore, err := prioritise(nice)
	defer restore()
	started <- err
	for first := range s.writes {
		batch := []*writeReq{first}
	fill:
		for len(batch) < maxGroup {
			select {
			case req, ok := <-s.writes:
				if !ok {
					break fill
				}
				batch = append(batch, req)
			default:
				break fill
			}
		}
		s.commitGroup(batch)
		s.preparePending()
	}
}

func (s *Store) commitGroup(batch []*writeReq) {
	if len(batch) == 1 {
		req := batch[0]
		if err := req.ctx.Err(); err != nil {
			req.done <- err
			return
		}
		req.done <- s.runTx(context.WithoutCancel(req.ctx), req.fn)
		return
	}
	// Optimistic first: every write in one transaction with no savepoints
	// (three statements fewer per write). If any write fails, roll the
	// whole batch back and run it again with a savepoint per write, so the
	// failure undoes only its own changes.
	results := make([]error, len(batch))
	ctx := context.Background()
	failed := false
	err := s.runTx(ctx, func(tx *txn) error {
		for i, req := range batch {
			if results[i] = req.ctx.Err(); results[i] != nil {
				continue
			}
			if results[i] = req.fn(tx); results[i] != nil {
				failed = true
				return errBatchRetry
			}
		}
		return nil
	})
	if failed {
		clear(results)
		err = s.runTx(ctx, func(tx *txn) error {
			for i, req := range batch {
				if results[i] = req.ctx.Err(); results[i] != nil {
					continue
				}
				if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
					return fmt.Errorf("savepoint: %w", err)
				}
				if results[i] = req.fn(tx); results[i] != nil {
					if _, err := tx.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
						return fmt.Errorf("rolling back to savepoint: %w", err)
					}
				}
				if _, err := tx.ExecContext(ctx, "RELEASE w"); err != nil {
					return fmt.Errorf("releasing savepoint: %w", err)
				}
			}
			return nil
		})
	}
	for i, req := range batch {
		if err != nil && results[i] == nil {
			results[i] = err
		}
		req.done <- results[i]
	}
}

// errBatchRetry aborts an optimistic group commit so it reruns with savepoints.
var errBatchRetry = errors.New("a write in the batch failed")

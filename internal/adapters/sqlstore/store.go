package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Options tune the store.
type Options struct {
	// SQLiteSynchronous is FULL (fsync on every commit, the default) or NORMAL.
	SQLiteSynchronous string
	// MaxConns bounds PostgreSQL connections and SQLite readers.
	MaxConns int
}

// Store is the system of record.
type Store struct {
	pg bool
	w  *sql.DB // writes; on SQLite exactly one connection
	r  *sql.DB // reads; on SQLite a separate read-only pool (WAL readers never block the writer)
}

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
		s = &Store{pg: true, w: db, r: db}
	default:
		return nil, fmt.Errorf("unknown store kind %q", kind)
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
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+sync+")")
		q.Add("_pragma", "foreign_keys(1)")
		for _, e := range extra {
			k, v, _ := strings.Cut(e, "=")
			q.Add(k, v)
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn("_txlock=immediate"))
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
	r, err := sql.Open("sqlite", dsn("_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening SQLite readers %s: %w", path, err)
	}
	r.SetMaxOpenConns(o.MaxConns)
	r.SetMaxIdleConns(o.MaxConns)
	return &Store{w: w, r: r}, nil
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

// Close closes all connections.
func (s *Store) Close() {
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
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
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

package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/outbox"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// relayLock is the advisory lock key the PostgreSQL store's relay lease takes.
const relayLock = 727002

// A relay lease whose connection is killed while the process lives must
// say so, and the lock must be free for another relay.
func TestPostgresRelayLeaseLostWhenItsSessionDies(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := testenv.PostgresDB(t)
	first, second := open(t, "postgres", url), open(t, "postgres", url)
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	lease, err := first.AcquireRelayLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	if err := lease.Check(ctx); err != nil {
		t.Fatalf("check of a held lease: %v", err)
	}
	pid := testenv.AdvisoryLockHolder(t, admin, relayLock)
	if pid == 0 {
		t.Fatal("no session holds the relay lock")
	}
	var killed bool
	if err := admin.QueryRowContext(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminating the lease's backend: %v %v", killed, err)
	}
	if err := lease.Check(ctx); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Fatalf("check after the lease's session died = %v, want ErrLeaseLost", err)
	}
	// The rest of the pool lives on: a check that pinged any pooled
	// connection instead of the lock's own would have passed.
	if err := first.Ping(ctx); err != nil {
		t.Fatalf("the store is unusable after losing its lease: %v", err)
	}

	c, cancelAcquire := context.WithTimeout(ctx, 10*time.Second)
	defer cancelAcquire()
	lease2, err := second.AcquireRelayLease(c)
	if err != nil {
		t.Fatalf("a second relay could not take the lost lease: %v", err)
	}
	defer lease2.Release()
	if err := lease2.Check(ctx); err != nil {
		t.Fatalf("check of the second lease: %v", err)
	}
	if err := lease.Check(ctx); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Fatalf("the lost lease checks as held again: %v", err)
	}
	lease.Release() // after loss: harmless, and must not free the second lease
	if err := lease2.Check(ctx); err != nil {
		t.Fatalf("second lease after the first was released: %v", err)
	}
	lease2.Release()
	if pid := testenv.AdvisoryLockHolder(t, admin, relayLock); pid != 0 {
		t.Fatalf("backend %d still holds the relay lock after release", pid)
	}
}

// The outbox payload is compressed with lz4 on a server built with it.
func TestPostgresOutboxPayloadUsesLZ4(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := testenv.PostgresDB(t)
	open(t, "postgres", url)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var hasLZ4 bool
	if err := db.QueryRowContext(ctx, `SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'`).Scan(&hasLZ4); err != nil {
		t.Fatal(err)
	}
	var method string
	if err := db.QueryRowContext(ctx, `SELECT attcompression::text FROM pg_attribute WHERE attrelid = 'outbox'::regclass AND attname = 'payload'`).Scan(&method); err != nil {
		t.Fatal(err)
	}
	want := ""
	if hasLZ4 {
		want = "l"
	}
	if method != want {
		t.Fatalf("outbox.payload compression %q, want %q (server has lz4: %v)", method, want, hasLZ4)
	}
}

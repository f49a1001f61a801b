package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/idempotency"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/testenv"
)

func TestHousekeepingDeletesOnlyWhatIsOld(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testHousekeeping(t, open(t, "sqlite", filepath.Join(t.TempDir(), "h.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testHousekeeping(t, open(t, "postgres", testenv.PostgresDB(t)))
	})
}

func testHousekeeping(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	env := inventoryEnv(s)
	env.CreateSKU(t, "A", 10, 0)
	if err := s.Reserve(ctx, "closed", []inventory.Item{{SKU: "A", Qty: 1}}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "closed"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(ctx, "held", []inventory.Item{{SKU: "A", Qty: 1}}, time.Hour); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := s.Begin(ctx, "c", "k-old", "h", now.Add(-48*time.Hour), time.Hour, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, "c", "k-old", 201, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(ctx, "c", "k-new", "h", now, 24*time.Hour, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordDemand(ctx, "e1", "A", now, 1); err != nil {
		t.Fatal(err)
	}
	n, err := s.Housekeep(ctx, now.Add(8*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Both keys have expired by then and the released reservation is over a
	// week old: they go. The held reservation and the recent demand id stay.
	if n != 3 {
		t.Errorf("deleted %d rows, want 3", n)
	}
	if _, st, err := s.ReservationItems(ctx, "held"); err != nil || st != inventory.StateHeld {
		t.Errorf("held reservation: %q %v", st, err)
	}
	if added, _ := s.RecordDemand(ctx, "e1", "A", now, 1); added {
		t.Error("a recent demand event id was forgotten")
	}
}

// A backlog larger than one housekeeping transaction is deleted whole, in
// several transactions.
func TestHousekeepingDeletesABacklogInBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, "sqlite", filepath.Join(t.TempDir(), "h.db"))
	const keys = 2500 // more than two transactions' worth
	old := time.Now().Add(-48 * time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, keys)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < keys; i += 16 {
				if err := s.Settle(ctx, "c", fmt.Sprintf("k%04d", i), idempotency.Claim{Hash: "h", At: old, Expires: old.Add(time.Hour)}, 201, []byte("{}")); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n, err := s.Housekeep(ctx, time.Now())
	if err != nil || n != keys {
		t.Fatalf("Housekeep = %d, %v; want %d", n, err, keys)
	}
	for _, k := range []string{"k0000", "k1234", "k2499"} {
		if ok, err := s.Exists(ctx, "c", k); ok || err != nil {
			t.Errorf("key %s still there (%v)", k, err)
		}
	}
}

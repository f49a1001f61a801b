package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/idempotency"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/replenishment"
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
	if _, err := s.RecordDemands(ctx, []replenishment.Demand{{EventID: "e1", SKU: "A", At: now, Units: 1}}); err != nil {
		t.Fatal(err)
	}
	// An order whose timeline is past its retention, one within it, and a
	// stock refusal of each age.
	for _, o := range []struct {
		id string
		at time.Time
	}{{"ord-old", now.Add(-sqlstore.OrderEventRetention)}, {"ord-new", now}} {
		env, err := event.New(event.TypeOrderCreated, "housekeeping_test", o.id, o.at, map[string]string{"order_id": o.id})
		if err != nil {
			t.Fatal(err)
		}
		err = s.CreateOrder(ctx, orders.Order{ID: o.id, CustomerID: "c", Status: orders.StatusPending, Items: []orders.Line{{SKU: "A", Quantity: 1, UnitPrice: 100}},
			Total: 100, Version: 1, CreatedAt: o.at, UpdatedAt: o.at}, orders.IdemRef{}, []event.Message{{Topic: event.TopicOrders, Envelope: env}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RecordRefusal(ctx, orders.Refusal{Reason: orders.RefusalOutOfStock, SKUs: []string{"A"}, At: o.at}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Housekeep(ctx, now.Add(8*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Both keys have expired by then, the released reservation is over a
	// week old, and the old order's event and refusal are past their
	// retention: they go. The held reservation, the recent demand id, the
	// new order's timeline and both orders stay.
	if n != 5 {
		t.Errorf("deleted %d rows, want 5", n)
	}
	if evs, err := s.OrderEvents(ctx, "ord-old"); err != nil || len(evs) != 0 {
		t.Errorf("old timeline: %d events, %v", len(evs), err)
	}
	if evs, err := s.OrderEvents(ctx, "ord-new"); err != nil || len(evs) != 1 {
		t.Errorf("new timeline: %d events, %v", len(evs), err)
	}
	if _, err := s.GetOrder(ctx, "ord-old"); err != nil {
		t.Errorf("the old order itself went: %v", err)
	}
	if _, st, err := s.ReservationItems(ctx, "held"); err != nil || st != inventory.StateHeld {
		t.Errorf("held reservation: %q %v", st, err)
	}
	if added, _ := s.RecordDemands(ctx, []replenishment.Demand{{EventID: "e1", SKU: "A", At: now, Units: 1}}); added != 0 {
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
				if _, err := s.Settle(ctx, "c", fmt.Sprintf("k%04d", i), idempotency.Claim{Hash: "h", At: old, Expires: old.Add(time.Hour)}, 201, []byte("{}")); err != nil {
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

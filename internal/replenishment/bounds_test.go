package replenishment_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/money"
	"github.com/mercato-platform/mercato/internal/replenishment"
)

// Receiving a purchase order adds stock, so it obeys the stock limit like
// any adjustment: refused whole, the order stays shipped, and it can be
// received once there is room.
func TestReceivingPastTheStockLimitIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.product(t, "WATER", 100, 3)
	f.demand(t, "WATER", 28, 20)
	po, err := f.svc.Consider(ctx, "WATER", 50, 0, 0, "e1:WATER", f.now)
	if err != nil || po == nil {
		t.Fatalf("below ROP: %v %v", po, err)
	}
	for _, to := range []replenishment.Status{"confirmed", "shipped"} {
		if _, err := f.svc.Transition(ctx, po.ID, to); err != nil {
			t.Fatalf("-> %s: %v", to, err)
		}
	}
	// A stock count fills the SKU to just under the limit meanwhile.
	full := money.MaxStock - po.Quantity + 1
	f.product(t, "WATER", full, 3)
	before, _ := f.store.Levels(ctx, "WATER")

	if _, err := f.svc.Transition(ctx, po.ID, replenishment.StatusReceived); !errors.Is(err, inventory.ErrStockLimit) {
		t.Fatalf("receiving past the limit: err = %v, want ErrStockLimit", err)
	}
	if got, err := f.svc.Get(ctx, po.ID); err != nil || got.Status != replenishment.StatusShipped {
		t.Errorf("po after a refused receipt: %+v %v", got, err)
	}
	if after, _ := f.store.Levels(ctx, "WATER"); after != before {
		t.Errorf("a refused receipt changed stock: %+v, was %+v", after, before)
	}

	f.product(t, "WATER", full-1, 3)
	if _, err := f.svc.Transition(ctx, po.ID, replenishment.StatusReceived); err != nil {
		t.Fatalf("receiving with room: %v", err)
	}
	if l, _ := f.store.Levels(ctx, "WATER"); l.OnHand != money.MaxStock {
		t.Errorf("on_hand after receipt = %d, want %d", l.OnHand, money.MaxStock)
	}
}

package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/inventory"
)

func TestHousekeepingDeletesOnlyWhatIsOld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, "sqlite", filepath.Join(t.TempDir(), "h.db"))
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

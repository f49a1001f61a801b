package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
)

// The store stamps holds, their expiry and their events with its own clock
// (Options.Now), batched reservations included.
func TestStoreClockStampsReservationsAndEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	s, err := sqlstore.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "clock.db"), sqlstore.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	inventoryEnv(s).CreateSKU(t, "C-1", 10, 0)
	before, err := s.PendingOutbox(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(ctx, "r1", []inventory.Item{{SKU: "C-1", Qty: 1}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if errs := s.ReserveBatch(ctx, []inventory.ReserveRequest{{ID: "r2", Items: []inventory.Item{{SKU: "C-1", Qty: 1}}, TTL: time.Minute}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if err := s.Commit(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.ExpiredReservations(ctx, at.Add(2*time.Minute), 10); err != nil || fmt.Sprint(ids) != "[r2]" {
		t.Fatalf("expired a minute after the store's clock: %v %v, want [r2]", ids, err)
	}
	rows, err := s.PendingOutbox(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(before)+3 {
		t.Fatalf("%d new events, want 3 (two holds, one sale)", len(rows)-len(before))
	}
	for _, r := range rows[len(before):] {
		env, err := event.Decode(r.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if !env.Time.Equal(at) {
			t.Errorf("%s event at %s, want the store's clock %s", env.Type, env.Time, at)
		}
	}
}

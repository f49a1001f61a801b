package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/pricing"
	"github.com/mercato-platform/mercato/internal/pricing/pricebook"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// RecentPrices keeps each SKU's newest n prices, oldest first, for a whole
// page of SKUs in one call.
func TestRecentPrices(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) *sqlstore.Store{
		"sqlite":   func(t *testing.T) *sqlstore.Store { return open(t, "sqlite", filepath.Join(t.TempDir(), "m.db")) },
		"postgres": func(t *testing.T) *sqlstore.Store { return open(t, "postgres", testenv.PostgresDB(t)) },
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			ctx := context.Background()
			t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
			var changes []pricebook.Change
			for i := range 30 {
				changes = append(changes, pricebook.Change{EventID: fmt.Sprintf("a-%02d", i),
					PriceRecord: pricing.PriceRecord{SKU: "A", Price: int64(1000 + i), BasePrice: 1000, UpdatedAt: t0.Add(time.Duration(i) * time.Minute)}})
			}
			changes = append(changes,
				pricebook.Change{EventID: "b-2", PriceRecord: pricing.PriceRecord{SKU: "B", Price: 520, BasePrice: 500, UpdatedAt: t0.Add(2 * time.Minute)}},
				pricebook.Change{EventID: "b-1", PriceRecord: pricing.PriceRecord{SKU: "B", Price: 510, BasePrice: 500, UpdatedAt: t0.Add(time.Minute)}},
				pricebook.Change{EventID: "c-1", PriceRecord: pricing.PriceRecord{SKU: "C", Price: 90, BasePrice: 100, UpdatedAt: t0}},
			)
			if err := s.SavePrices(ctx, changes); err != nil {
				t.Fatal(err)
			}
			got, err := s.RecentPrices(ctx, []string{"A", "B", "NONE"}, 24)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || len(got["A"]) != 24 || len(got["B"]) != 2 {
				t.Fatalf("RecentPrices = %v, want 24 of A and 2 of B", got)
			}
			if a := got["A"]; a[0].Price != 1006 || a[23].Price != 1029 || !a[23].At.Equal(t0.Add(29*time.Minute)) {
				t.Errorf("A = %v, want prices 1006..1029, oldest first", a)
			}
			if b := got["B"]; b[0].Price != 510 || b[1].Price != 520 {
				t.Errorf("B = %v, want 510 then 520", b)
			}
			if empty, err := s.RecentPrices(ctx, nil, 24); err != nil || len(empty) != 0 {
				t.Errorf("RecentPrices(no SKUs) = %v, %v", empty, err)
			}
		})
	}
}

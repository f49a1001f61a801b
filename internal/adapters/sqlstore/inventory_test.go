package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/inventorytest"
	"github.com/mercato-platform/mercato/internal/storetest"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// InventoryEnv adapts a store to the inventory contract suite.
func inventoryEnv(s *sqlstore.Store) inventorytest.Env {
	return inventorytest.Env{
		Store: s,
		CreateSKU: func(t testing.TB, sku string, stock, threshold int64) {
			t.Helper()
			p := storetest.Product(sku, "test")
			p.LowStockThreshold = threshold
			_, _, err := s.PutProduct(context.Background(), sku, func(*catalog.Current) (catalog.Write, error) {
				return catalog.Write{Product: p, StockDelta: stock, StockReason: "initial_stock"}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
		},
		Alerts: inventorytest.AlertsOf(s),
		Lister: s,
	}
}

func TestSQLiteInventoryContract(t *testing.T) {
	t.Parallel()
	inventorytest.Run(t, func(t *testing.T) inventorytest.Env {
		return inventoryEnv(open(t, "sqlite", filepath.Join(t.TempDir(), "inv.db")))
	})
}

func TestPostgresInventoryContract(t *testing.T) {
	t.Parallel()
	inventorytest.Run(t, func(t *testing.T) inventorytest.Env {
		return inventoryEnv(open(t, "postgres", testenv.PostgresDB(t)))
	})
}

// A batch writes what the same reservations made one by one write: one
// ledger entry and one inventory.reserved event per held SKU, each event
// with the levels its own hold produced, in order per SKU.
func TestReserveBatchLedgerAndEvents(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dsn := filepath.Join(t.TempDir(), "b.db")
			if kind == "postgres" {
				dsn = testenv.PostgresDB(t)
			}
			s := open(t, kind, dsn)
			e := inventoryEnv(s)
			e.CreateSKU(t, "A", 10, 0)
			e.CreateSKU(t, "B", 10, 0)
			ctx := context.Background()
			before, _ := s.PendingOutbox(ctx, 1000)
			errs := s.ReserveBatch(ctx, []inventory.ReserveRequest{
				{ID: "r1", Items: []inventory.Item{{SKU: "A", Qty: 2}, {SKU: "B", Qty: 1}}, TTL: time.Minute},
				{ID: "r2", Items: []inventory.Item{{SKU: "A", Qty: 20}}, TTL: time.Minute}, // refused
				{ID: "r3", Items: []inventory.Item{{SKU: "A", Qty: 3}}, TTL: time.Minute},
			})
			if errs[0] != nil || !errors.Is(errs[1], inventory.ErrInsufficientStock) || errs[2] != nil {
				t.Fatalf("outcomes %v", errs)
			}
			for sku, want := range map[string]int64{"A": 5, "B": 1} {
				onHand, reserved, err := s.LedgerTotals(ctx, sku)
				if err != nil || onHand != 10 || reserved != want {
					t.Fatalf("ledger of %s: on_hand %d reserved %d (%v), want 10 and %d", sku, onHand, reserved, err, want)
				}
			}
			rows, _ := s.PendingOutbox(ctx, 1000)
			var got []string
			for _, r := range rows[len(before):] {
				var env struct {
					Type string          `json:"type"`
					Data inventory.Event `json:"data"`
				}
				if err := json.Unmarshal(r.Payload, &env); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%s %s %s reserved=%d", env.Type, env.Data.Ref, env.Data.SKU, env.Data.Reserved))
			}
			want := "[inventory.reserved r1 A reserved=2 inventory.reserved r3 A reserved=5 inventory.reserved r1 B reserved=1]"
			if fmt.Sprint(got) != want {
				t.Fatalf("events %v\nwant %s", got, want)
			}
		})
	}
}

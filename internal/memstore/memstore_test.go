package memstore_test

import (
	"context"
	"testing"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/inventorytest"
	"github.com/mercato-platform/mercato/internal/memstore"
	"github.com/mercato-platform/mercato/internal/reports"
	"github.com/mercato-platform/mercato/internal/storetest"
)

func newStore(*testing.T) *memstore.Store { return memstore.New(memstore.Options{}) }

func TestCatalogContract(t *testing.T) {
	t.Parallel()
	storetest.RunCatalog(t, func(t *testing.T) storetest.Catalog { return newStore(t) })
}

func TestOutboxContract(t *testing.T) {
	t.Parallel()
	// Relays of one store take turns, as they do on PostgreSQL.
	storetest.RunOutbox(t, storetest.Features{ExclusiveRelayLease: true}, func(t *testing.T) storetest.Outbox { return newStore(t) })
}

func TestReportRunsContract(t *testing.T) {
	t.Parallel()
	storetest.RunReportRuns(t, func(t *testing.T) reports.RunStore { return newStore(t) })
}

func TestPurchaseOrdersContract(t *testing.T) {
	t.Parallel()
	storetest.RunPurchaseOrders(t, func(t *testing.T) storetest.PurchaseOrders { return newStore(t) })
}

func TestInventoryContract(t *testing.T) {
	t.Parallel()
	inventorytest.Run(t, func(t *testing.T) inventorytest.Env {
		s := newStore(t)
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
	})
}

package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/catalog"
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

package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/storetest"
	"github.com/mercato-platform/mercato/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func open(t *testing.T, kind, dsn string) *sqlstore.Store {
	t.Helper()
	return openWith(t, kind, dsn, sqlstore.Options{})
}

func openWith(t *testing.T, kind, dsn string, o sqlstore.Options) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := sqlstore.Open(ctx, kind, dsn, o)
	if err != nil {
		t.Fatalf("opening %s store: %v", kind, err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestSQLiteContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Features{}, func(t *testing.T) storetest.Store {
		return open(t, "sqlite", filepath.Join(t.TempDir(), "mercato.db"))
	})
}

func TestPostgresContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Features{ExclusiveRelayLease: true}, func(t *testing.T) storetest.Store {
		return open(t, "postgres", testenv.PostgresDB(t))
	})
}

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "m.db")
	for range 2 {
		s := open(t, "sqlite", path)
		v, err := s.SchemaVersion(context.Background())
		if err != nil || v < 1 {
			t.Fatalf("schema version = %d, %v", v, err)
		}
		s.Close()
	}
}

// ProductQuote reads a SKU's base price, bounds and category; an unknown
// SKU is catalog.ErrNotFound.
func TestProductQuote(t *testing.T) {
	t.Parallel()
	s := open(t, "sqlite", filepath.Join(t.TempDir(), "q.db"))
	inventoryEnv(s).CreateSKU(t, "Q-1", 5, 0)
	q, err := s.ProductQuote(context.Background(), "Q-1")
	p := storetest.Product("Q-1", "test")
	if err != nil || q.Price != p.BasePrice || q.BasePrice != p.BasePrice || q.Floor != p.PriceFloor || q.Ceiling != p.PriceCeiling || q.Category != p.Category {
		t.Fatalf("quote = %+v %v, want the product %+v", q, err, p)
	}
	if _, err := s.ProductQuote(context.Background(), "NOPE"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("unknown SKU: %v", err)
	}
}

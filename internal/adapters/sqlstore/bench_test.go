package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/inventorytest"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// BenchmarkReserve: reservations/s and latency on SQLite (synchronous=FULL:
// every acknowledged reservation is fsync'd, group commit shares the fsync)
// and PostgreSQL (the test server runs with fsync=off; see BENCHMARKS.md).
func BenchmarkReserve(b *testing.B) {
	engines := map[string]func(testing.TB) *sqlstore.Store{
		"sqlite": func(tb testing.TB) *sqlstore.Store {
			s, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(tb.TempDir(), "b.db"), sqlstore.Options{})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(s.Close)
			return s
		},
		"postgres": func(tb testing.TB) *sqlstore.Store {
			s, err := sqlstore.Open(context.Background(), "postgres", testenv.PostgresDB(tb), sqlstore.Options{MaxConns: 64})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(s.Close)
			return s
		},
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, items := range []int{1, 3} {
			for _, callers := range []int{1, 8, 64} {
				b.Run(fmt.Sprintf("%s/items=%d/callers=%d", engine, items, callers), func(b *testing.B) {
					inventorytest.BenchReserve(b, func(tb testing.TB) inventorytest.Env {
						return inventoryEnv(engines[engine](tb))
					}, items, callers)
				})
			}
		}
	}
}

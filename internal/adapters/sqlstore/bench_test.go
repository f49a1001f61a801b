package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/inventorytest"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// servedNice is the SQLite writer's nice value as mercato serve runs it
// (--sqlite-writer-nice); unprivileged the writer runs at normal priority.
const servedNice = -10

// BenchmarkReserve: reservations/s and latency on SQLite (synchronous=FULL:
// every acknowledged reservation is fsync'd, group commit shares the fsync)
// and PostgreSQL (the test server runs with fsync=off; see BENCHMARKS.md).
func BenchmarkReserve(b *testing.B) {
	engines := map[string]func(testing.TB) *sqlstore.Store{
		"sqlite": func(tb testing.TB) *sqlstore.Store {
			s, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(tb.TempDir(), "b.db"), sqlstore.Options{WriterNice: servedNice})
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

// BenchmarkReserveBatch: reservations/s through ReserveBatch (the path the
// Redis adapter's batches take), batches of 64 one-item reservations from 4
// callers, on SQLite with synchronous=FULL.
func BenchmarkReserveBatch(b *testing.B) {
	s, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(b.TempDir(), "b.db"), sqlstore.Options{WriterNice: servedNice})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	e := inventoryEnv(s)
	const pool = 64
	for i := range pool {
		e.CreateSKU(b, fmt.Sprintf("B-%02d", i), 1_000_000_000, 0)
	}
	const batch, callers = 64, 4
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for {
				first := next.Add(batch) - batch
				if first >= int64(b.N) {
					return
				}
				reqs := make([]inventory.ReserveRequest, 0, batch)
				for i := first; i < first+batch && i < int64(b.N); i++ {
					reqs = append(reqs, inventory.ReserveRequest{ID: fmt.Sprintf("rb-%d", i), Items: []inventory.Item{{SKU: fmt.Sprintf("B-%02d", i%pool), Qty: 1}}, TTL: time.Hour})
				}
				for _, err := range s.ReserveBatch(context.Background(), reqs) {
					if err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reservations/s")
}

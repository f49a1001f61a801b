package inventorytest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/inventory"
)

// BenchReserve measures Reserve with callers concurrent goroutines, each
// reservation holding itemsPer SKUs (out of a pool of 64), and reports
// reservations/s and latency percentiles. newEnv is called once.
func BenchReserve(b *testing.B, newEnv func(testing.TB) Env, itemsPer, callers int) {
	e := newEnv(b)
	const pool = 64
	for i := range pool {
		e.CreateSKU(b, fmt.Sprintf("B-%02d", i), 1_000_000_000, 0)
	}
	ctx := context.Background()
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	b.ResetTimer()
	start := time.Now()
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			its := make([]inventory.Item, itemsPer)
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				for k := range its {
					its[k] = inventory.Item{SKU: fmt.Sprintf("B-%02d", (int(i)*7+k*13+c)%pool), Qty: 1}
				}
				t0 := time.Now()
				if err := e.Store.Reserve(ctx, fmt.Sprintf("%s-%d", run, i), its, time.Hour); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reservations/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

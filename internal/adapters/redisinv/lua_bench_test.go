package redisinv

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mercato-platform/mercato/internal/testenv"
)

// BenchmarkLuaAdmission measures the Redis half of a reservation alone: the
// reserve script over 1 or 3 SKUs, without the SQL ledger write. Compare it
// with BenchmarkRedisCeiling's EVAL rate on the same machine.
func BenchmarkLuaAdmission(b *testing.B) {
	addr := testenv.Redis(b)
	for _, items := range []int{1, 3} {
		for _, callers := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("items=%d/callers=%d", items, callers), func(b *testing.B) {
				rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: callers + 4})
				defer rdb.Close()
				s := New(rdb, nil, Options{Prefix: fmt.Sprintf("lb%d:", time.Now().UnixNano())})
				ctx := context.Background()
				for i := range 64 {
					if err := rdb.HSet(ctx, s.CounterKey(fmt.Sprintf("L-%02d", i)), "on_hand", 1_000_000_000, "reserved", 0).Err(); err != nil {
						b.Fatal(err)
					}
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for c := range callers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := next.Add(1) - 1
							if i >= int64(b.N) {
								return
							}
							keys := []string{s.recordKey(0, fmt.Sprintf("r%d", i))}
							args := []any{int64(60000)}
							for k := range items {
								keys = append(keys, s.CounterKey(fmt.Sprintf("L-%02d", (int(i)+k*13+c)%64)))
								args = append(args, 1)
							}
							if err := reserveScript.Run(ctx, rdb, keys, args...).Err(); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "scripts/s")
			})
		}
	}
}

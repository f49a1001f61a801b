package pricing

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// BenchmarkCoreLoop is purchase events through watermark, window update,
// baseline folds and the price rule at every boundary — no I/O, no JSON.
// 100,000 SKUs with a skewed popularity, 1,000 purchases per second of event
// time, so each 1-minute boundary evaluates tens of thousands of SKUs; once
// with the rule policy and once with learn.
//
//	go test -run '^$' -bench CoreLoop -cpu 1 ./internal/pricing/
func BenchmarkCoreLoop(b *testing.B) {
	b.Run("rule", func(b *testing.B) { coreLoop(b, heuristicRule()) })
	b.Run("learn", func(b *testing.B) { coreLoop(b, DefaultRule()) })
}

func coreLoop(b *testing.B, fallback Rule) {
	const nSKU = 100_000
	p := newTestPricerWith(b, fallback)
	skus := make([]string, nSKU)
	for i := range skus {
		skus[i] = fmt.Sprintf("SKU-%06d", i)
		if err := p.Product(skus[i], []string{"audio", "books", "toys"}[i%3], 12900, 9900, 15900); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int32, 1<<20)
	for i := range order {
		order[i] = int32(min(nSKU-1, int(rng.ExpFloat64()*nSKU/8)))
	}
	start := t0.UnixMilli()
	var changes []PriceChange
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// Arrives up to 3 ms out of order.
		at := time.UnixMilli(start + int64(i) - int64(i%4))
		if _, err := p.Purchase(skus[order[i&(len(order)-1)]], at, 1, wall); err != nil {
			b.Fatal(err)
		}
		if i&4095 == 0 {
			changes = p.TakeChanges(changes[:0])
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkStateMemory reports the heap held per SKU with 1,000,000 SKUs, each
// with a product, stock and a few purchases, and the changelog bytes per SKU.
//
//	go test -run '^$' -bench StateMemory -benchtime 1x ./internal/pricing/
func BenchmarkStateMemory(b *testing.B) {
	for range b.N {
		perSKU, encoded := stateMemory(b, 1_000_000)
		b.ReportMetric(perSKU, "heap-bytes/SKU")
		b.ReportMetric(encoded, "changelog-bytes/SKU")
	}
}

// TestStateMemoryPerSKU keeps the < 1 KiB per SKU goal from regressing
// (a smaller population, so the race detector stays quick).
func TestStateMemoryPerSKU(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100k SKUs")
	}
	perSKU, _ := stateMemory(t, 100_000)
	t.Logf("%.0f heap bytes per SKU", perSKU)
	if perSKU >= 1024 {
		t.Errorf("%.0f bytes per SKU, goal < 1024", perSKU)
	}
}

func stateMemory(tb testing.TB, n int) (heapPerSKU, encodedPerSKU float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := newTestPricer(tb)
	for i := range n {
		sku := fmt.Sprintf("SKU-%07d", i)
		if err := p.Product(sku, []string{"audio", "books", "toys"}[i%3], 12900, 9900, 15900); err != nil {
			tb.Fatal(err)
		}
		at := t0.Add(time.Duration(i%300_000) * time.Millisecond)
		if _, err := p.Inventory(sku, at, 100, "x", wall); err != nil {
			tb.Fatal(err)
		}
		for k := range 3 {
			if _, err := p.Purchase(sku, at.Add(time.Duration(k)*time.Second), 1, wall); err != nil {
				tb.Fatal(err)
			}
		}
	}
	p.TakeChanges(nil)
	p.TakeTouched(func(*SKUState) {})
	runtime.GC()
	runtime.ReadMemStats(&after)
	var encoded int
	var buf []byte
	p.Each(func(s *SKUState) {
		buf, _ = s.AppendBinary(buf[:0])
		encoded += len(buf)
	})
	runtime.KeepAlive(p)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n), float64(encoded) / float64(n)
}

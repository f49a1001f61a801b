package stream

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/pricing"

	"github.com/mercato-platform/mercato/internal/event"
)

// TestIdleTickClosesWindowsWithoutNewRecords: after a burst, every input
// goes silent. Once the idle timeout has passed on the wall clock, the idle
// tick moves the watermarks and the burst's window is priced, with no
// further record arriving.
func TestIdleTickClosesWindowsWithoutNewRecords(t *testing.T) {
	t.Parallel()
	b, c := broker(t)
	w := newWorkload(t, 1, 0)
	sku := w.skus[0]
	var burst []event.Message
	for i := range 40 {
		e, err := event.New(event.TypePurchase, "test", sku, t0.Add(time.Duration(i)*time.Second), event.Purchase{SKU: sku, Quantity: 20, UnitPrice: 12900, OrderID: "o"})
		if err != nil {
			t.Fatal(err)
		}
		burst = append(burst, event.Message{Topic: event.TopicPurchases, Envelope: e})
	}
	publish(t, c, w.setup)
	publish(t, c, burst)

	var now atomic.Int64
	now.Store(t0.Add(time.Minute).UnixNano())
	cfg := processorConfig()
	cfg.IdleTimeout = time.Second
	p, err := NewProcessor(ProcessorOptions{Client: c, Config: cfg, Fallback: pricing.DefaultRule(), InstanceID: "idle",
		Now: func() time.Time { return time.Unix(0, now.Load()) }, IdleTick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{p: p, cancel: cancel, finished: make(chan struct{})}
	go func() { r.err = p.Run(ctx); close(r.finished) }()
	t.Cleanup(func() { r.stop(t) })
	waitConsumed(t, c, r)
	// The burst's own window (ending at t0 + 1 min) is still open: the
	// watermark is the newest event time − 5 s.
	priced := func() (n int, burstPriced bool) {
		for _, v := range readCommitted(t, b.Addr(), event.TopicPrices)[sku] {
			env, err := event.Decode(v)
			if err != nil {
				t.Fatal(err)
			}
			var rec pricing.PriceRecord
			if err := env.DecodeData(&rec); err != nil {
				t.Fatal(err)
			}
			n++
			if !rec.UpdatedAt.Before(t0.Add(time.Minute)) && rec.Reason.DemandRatio > 1 {
				burstPriced = true
			}
		}
		return n, burstPriced
	}
	time.Sleep(200 * time.Millisecond) // idle ticks run, but the clock has not moved
	if _, done := priced(); done {
		t.Fatal("the burst was priced before its window could close")
	}
	// The wall clock moves on; nothing else arrives.
	now.Store(t0.Add(10 * time.Minute).UnixNano())
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, done := priced(); done {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	n, _ := priced()
	t.Fatalf("the idle tick never closed the burst's window (%d price records)", n)
}

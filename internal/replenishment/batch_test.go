package replenishment_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
)

// batchEvent builds an input record of the replenishment role.
func batchEvent(t *testing.T, typ, id, sku string, at time.Time, data any) event.Envelope {
	t.Helper()
	env, err := event.New(typ, "test", sku, at, data)
	if err != nil {
		t.Fatal(err)
	}
	env.ID = id
	return env
}

// waterAndRice is a fixture with two SKUs of stock units each, a two-day
// lead time and ten units sold a day for four weeks.
func waterAndRice(t *testing.T, stock int64) *fixture {
	t.Helper()
	f := newFixture(t)
	for _, sku := range []string{"WATER", "RICE"} {
		f.product(t, sku, stock, 2)
		f.demand(t, sku, 28, 10)
	}
	return f
}

// A batch records its demand once per event id and considers each SKU
// once, on the last levels it brought: a SKU whose stock fell through its
// reorder point and a little further gets one order, triggered by its
// last change, and a SKU whose last levels need nothing gets none.
func TestBatchConsidersEachSKUOnItsLastLevels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := waterAndRice(t, 500)
	b := f.svc.NewBatcher()
	add := func(topic, id, typ, sku string, data any) {
		t.Helper()
		if err := b.Add(topic, 0, batchEvent(t, typ, id, sku, f.now, data)); err != nil {
			t.Fatal(err)
		}
	}
	add(event.TopicPurchases, "p1", event.TypePurchase, "WATER", event.Purchase{SKU: "WATER", Quantity: 4})
	add(event.TopicPurchases, "p1", event.TypePurchase, "WATER", event.Purchase{SKU: "WATER", Quantity: 4}) // redelivered
	add(event.TopicPurchases, "p2", event.TypePurchase, "WATER", event.Purchase{SKU: "WATER", Quantity: 3})
	for i, onHand := range []int64{400, 10, 5} { // WATER falls through its reorder point
		add(event.TopicInventory, fmt.Sprintf("w%d", i), event.TypeStockCommitted, "WATER", inventory.Event{SKU: "WATER", OnHand: onHand})
	}
	for i, onHand := range []int64{5, 450} { // RICE dips, then is restocked
		add(event.TopicInventory, fmt.Sprintf("r%d", i), event.TypeStockCommitted, "RICE", inventory.Event{SKU: "RICE", OnHand: onHand})
	}
	raised, err := b.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(raised) != 1 || raised[0].SKU != "WATER" || raised[0].TriggerEvent != "w2:WATER" || raised[0].Reason.Position != 5 {
		t.Fatalf("raised %+v, want one order for WATER on its last levels (w2, position 5)", raised)
	}
	got, err := f.store.DailyDemand(ctx, "WATER", f.now, f.now.Add(24*time.Hour))
	if err != nil || len(got) != 1 || got[0] != 10+7 {
		t.Fatalf("today's demand of WATER = %v %v, want 17 (10 before, 4 + 3 now)", got, err)
	}
	// The batch is empty after a flush, and running it again raises nothing.
	if raised, err := b.Flush(ctx); err != nil || len(raised) != 0 {
		t.Fatalf("an empty batch raised %v %v", raised, err)
	}
	add(event.TopicInventory, "w2", event.TypeStockCommitted, "WATER", inventory.Event{SKU: "WATER", OnHand: 5})
	if raised, err := b.Flush(ctx); err != nil || len(raised) != 0 {
		t.Fatalf("a redelivered trigger raised %v %v", raised, err)
	}
}

// A lost partition's records leave the batch; the others' stay. A
// malformed record is refused and leaves the batch as it was.
func TestBatchDropsALostPartitionAndRefusesMalformedRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := waterAndRice(t, 5)
	b := f.svc.NewBatcher()
	for part, sku := range []string{"WATER", "RICE"} {
		if err := b.Add(event.TopicPurchases, int32(part), batchEvent(t, event.TypePurchase, "p-"+sku, sku, f.now, event.Purchase{SKU: sku, Quantity: 2})); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(event.TopicInventory, int32(part), batchEvent(t, event.TypeStockCommitted, "i-"+sku, sku, f.now, inventory.Event{SKU: sku, OnHand: 3})); err != nil {
			t.Fatal(err)
		}
	}
	for _, env := range []event.Envelope{
		batchEvent(t, event.TypePurchase, "bad1", "X", f.now, event.Purchase{SKU: "", Quantity: 2}),
		batchEvent(t, event.TypePurchase, "bad2", "X", f.now, event.Purchase{SKU: "X", Quantity: 0}),
	} {
		if err := b.Add(event.TopicPurchases, 0, env); !errors.Is(err, event.ErrMalformed) {
			t.Fatalf("a malformed purchase: %v, want ErrMalformed", err)
		}
	}
	bad := batchEvent(t, event.TypeStockCommitted, "bad3", "X", f.now, inventory.Event{})
	if err := b.Add(event.TopicInventory, 0, bad); !errors.Is(err, event.ErrMalformed) {
		t.Fatalf("an inventory event without a SKU: %v, want ErrMalformed", err)
	}
	b.Drop(map[string][]int32{event.TopicPurchases: {1}, event.TopicInventory: {1}})
	raised, err := b.Flush(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(raised) != 1 || raised[0].SKU != "WATER" {
		t.Fatalf("raised %+v, want one order, for WATER (RICE's partition was lost)", raised)
	}
	for sku, want := range map[string]float64{"WATER": 12, "RICE": 10} {
		got, err := f.store.DailyDemand(ctx, sku, f.now, f.now.Add(24*time.Hour))
		if err != nil || len(got) != 1 || got[0] != want {
			t.Errorf("today's demand of %s = %v %v, want %v", sku, got, err, want)
		}
	}
}

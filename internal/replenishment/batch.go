package replenishment

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
)

// Batcher gathers the role's input between flushes (a batching consumer:
// Add as its handler, Flush, Drop), so a busy shop costs the store one
// transaction of demand per batch instead of one per purchase, and a SKU
// whose stock moved many times in a batch is considered once, on its last
// levels. Considering every change in turn decides no differently: an
// open order blocks a second one, and the last levels are the ones a
// decision made now has to cover.
//
// A flush records the batch's demand first, then considers each SKU in
// the order its first change arrived; every step is idempotent (demand by
// event id, an order by its trigger or the SKU's open order), so a flush
// that failed part way is run again whole.
type Batcher struct {
	s *Service

	mu     sync.Mutex
	demand []fromPart[Demand]
	latest map[string]fromPart[stockChange] // by SKU
	skus   []string                         // in first-arrival order
}

// fromPart is an input with the partition it came from, so a lost
// partition's share of the batch can be dropped.
type fromPart[T any] struct {
	topic     string
	partition int32
	v         T
}

// stockChange is an inventory event as Consider takes it.
type stockChange struct {
	onHand, reserved, onOrder int64
	trigger                   string
	at                        time.Time
}

// NewBatcher returns an empty batch of s's input.
func (s *Service) NewBatcher() *Batcher {
	return &Batcher{s: s, latest: map[string]fromPart[stockChange]{}}
}

// Add takes one record of the role's input topics into the batch. A
// malformed record is event.ErrMalformed and leaves the batch as it was.
func (b *Batcher) Add(topic string, partition int32, env event.Envelope) error {
	switch topic {
	case event.TopicPurchases:
		if env.Type != event.TypePurchase {
			return nil
		}
		var p event.Purchase
		if err := lenient(env, &p); err != nil {
			return err
		}
		if p.SKU == "" || p.Quantity <= 0 {
			return fmt.Errorf("%w: purchase without sku or quantity", event.ErrMalformed)
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		b.demand = append(b.demand, fromPart[Demand]{topic, partition, Demand{EventID: env.ID, SKU: p.SKU, At: env.Time, Units: p.Quantity}})
	case event.TopicInventory:
		var l inventory.Event
		if err := lenient(env, &l); err != nil {
			return err
		}
		if l.SKU == "" {
			return fmt.Errorf("%w: inventory event without sku", event.ErrMalformed)
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.latest[l.SKU]; !ok {
			b.skus = append(b.skus, l.SKU)
		}
		b.latest[l.SKU] = fromPart[stockChange]{topic, partition, stockChange{
			onHand: l.OnHand, reserved: l.Reserved, onOrder: l.OnOrder, trigger: env.ID + ":" + l.SKU, at: env.Time}}
	}
	return nil
}

// Flush records the batch's demand and considers each SKU whose stock
// changed; on success the batch is empty. It returns the orders raised.
func (b *Batcher) Flush(ctx context.Context) ([]PurchaseOrder, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.demand) > 0 {
		ds := make([]Demand, len(b.demand))
		for i, d := range b.demand {
			ds[i] = d.v
		}
		if _, err := b.s.store.RecordDemands(ctx, ds); err != nil {
			return nil, err
		}
	}
	var raised []PurchaseOrder
	for _, sku := range b.skus {
		c := b.latest[sku].v
		po, err := b.s.Consider(ctx, sku, c.onHand, c.reserved, c.onOrder, c.trigger, c.at)
		if err != nil {
			return nil, err
		}
		if po != nil {
			raised = append(raised, *po)
		}
	}
	b.demand, b.skus = b.demand[:0], b.skus[:0]
	clear(b.latest)
	return raised, nil
}

// Drop forgets the batch's records of parts (logical topic → partitions):
// their offsets stay uncommitted, and the partition's new owner reads them.
func (b *Batcher) Drop(parts map[string][]int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	lost := func(topic string, partition int32) bool { return slices.Contains(parts[topic], partition) }
	b.demand = slices.DeleteFunc(b.demand, func(d fromPart[Demand]) bool { return lost(d.topic, d.partition) })
	b.skus = slices.DeleteFunc(b.skus, func(sku string) bool {
		c := b.latest[sku]
		if lost(c.topic, c.partition) {
			delete(b.latest, sku)
			return true
		}
		return false
	})
}

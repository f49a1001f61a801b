package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/replenishment"
)

// demandKey is a SKU's UTC day (days since the epoch).
type demandKey struct {
	sku string
	day int64
}

func epochDay(t time.Time) int64 { return t.UTC().Unix() / 86400 }

// CreatePurchaseOrder stores a new purchase order (replenishment.Store).
func (s *Store) CreatePurchaseOrder(ctx context.Context, po replenishment.PurchaseOrder, triggerKey string, events []event.Message) (bool, error) {
	// The justification must be storable as the SQL store stores it.
	if _, err := json.Marshal(po.Reason); err != nil {
		return false, fmt.Errorf("encoding justification: %w", err)
	}
	var created bool
	err := s.write(ctx, func(t *tx) error {
		if s.triggers[triggerKey] {
			return nil
		}
		for _, o := range s.pos {
			if o.SKU == po.SKU && o.Urgent == po.Urgent && o.Status.Open() {
				return replenishment.ErrOpenOrderExists
			}
		}
		if _, ok := s.pos[po.ID]; ok {
			return fmt.Errorf("inserting purchase order: %s exists", po.ID)
		}
		stored := po
		stored.TriggerEvent = triggerKey
		stored.CreatedAt, stored.ExpectedAt, stored.UpdatedAt = stamp(po.CreatedAt), stamp(po.ExpectedAt), stamp(po.UpdatedAt)
		set(t, s.pos, po.ID, stored)
		set(t, s.triggers, triggerKey, true)
		s.addOnOrder(t, po.SKU, po.Quantity)
		created = true
		return s.enqueue(t, events)
	})
	return created && err == nil, err
}

// addOnOrder moves a SKU's on_order by delta, if the SKU has stock.
func (s *Store) addOnOrder(t *tx, sku string, delta int64) {
	if r, ok := s.stock[sku]; ok {
		r.OnOrder += delta
		set(t, s.stock, sku, r)
	}
}

// GetPurchaseOrder returns one purchase order.
func (s *Store) GetPurchaseOrder(ctx context.Context, id string) (replenishment.PurchaseOrder, error) {
	if err := s.read(ctx); err != nil {
		return replenishment.PurchaseOrder{}, err
	}
	defer s.mu.RUnlock()
	po, ok := s.pos[id]
	if !ok {
		return replenishment.PurchaseOrder{}, fmt.Errorf("%w: %s", replenishment.ErrNotFound, id)
	}
	return po, nil
}

// ListPurchaseOrders lists orders, newest first, optionally by status and SKU.
func (s *Store) ListPurchaseOrders(ctx context.Context, status replenishment.Status, sku string, limit int) ([]replenishment.PurchaseOrder, error) {
	if err := s.read(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var out []replenishment.PurchaseOrder
	for _, po := range s.pos {
		if (status == "" || po.Status == status) && (sku == "" || po.SKU == sku) {
			out = append(out, po)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i].CreatedAt.UnixMicro(), out[j].CreatedAt.UnixMicro(); a != b {
			return a > b
		}
		return out[i].ID > out[j].ID
	})
	return upTo(out, limit), nil
}

// OpenPurchaseOrders lists a SKU's orders still on their way, oldest first.
func (s *Store) OpenPurchaseOrders(ctx context.Context, sku string) ([]replenishment.PurchaseOrder, error) {
	if err := s.read(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	out := []replenishment.PurchaseOrder{}
	for _, po := range s.pos {
		if po.SKU == sku && po.Status.Open() {
			out = append(out, po)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i].CreatedAt.UnixMicro(), out[j].CreatedAt.UnixMicro(); a != b {
			return a < b
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// UpdatePurchaseOrder changes an order under the lock (replenishment.Store):
// only a change of status is stored, with its time and fn's events.
func (s *Store) UpdatePurchaseOrder(ctx context.Context, id string, fn func(*replenishment.PurchaseOrder) ([]event.Message, error)) (replenishment.PurchaseOrder, error) {
	var out replenishment.PurchaseOrder
	err := s.write(ctx, func(t *tx) error {
		stored, ok := s.pos[id]
		if !ok {
			return fmt.Errorf("%w: %s", replenishment.ErrNotFound, id)
		}
		po := stored
		events, err := fn(&po)
		if err != nil {
			return err
		}
		out = po
		if po.Status == stored.Status {
			return nil
		}
		before := stored.Status
		stored.Status, stored.UpdatedAt = po.Status, stamp(po.UpdatedAt)
		set(t, s.pos, id, stored)
		if before.Open() && !po.Status.Open() {
			s.addOnOrder(t, po.SKU, -po.Quantity)
		}
		return s.enqueue(t, events)
	})
	return out, err
}

// RecordDemands records a batch of demand in one write, once per event id.
func (s *Store) RecordDemands(ctx context.Context, ds []replenishment.Demand) (int, error) {
	added := 0
	err := s.write(ctx, func(t *tx) error {
		added = 0
		for _, d := range replenishment.FirstOfEach(ds) {
			if s.demandSeen[d.EventID] {
				continue // seen before
			}
			set(t, s.demandSeen, d.EventID, true)
			k := demandKey{d.SKU, epochDay(d.At)}
			set(t, s.demand, k, s.demand[k]+d.Units)
			added++
		}
		return nil
	})
	return added, err
}

// DailyDemand returns units per day in [from, to), zero days included.
func (s *Store) DailyDemand(ctx context.Context, sku string, from, to time.Time) ([]float64, error) {
	first, last := epochDay(from), epochDay(to)
	if last <= first {
		return nil, nil
	}
	if err := s.read(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	out := make([]float64, last-first)
	for d := first; d < last; d++ {
		out[d-first] = float64(s.demand[demandKey{sku, d}])
	}
	return out, nil
}

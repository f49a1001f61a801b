package redisinv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
)

// OrderStore is the system of record that keeps the orders in the ledger's
// database (Options.Orders): its StockStore transactions record a
// reservation, or close one, together with the order.
type OrderStore interface {
	orders.Store
	orders.StockStore
}

// errNoOrders: a checkout method was called on an adapter built without
// Options.Orders (orders.Service never does: Orders is then nil).
var errNoOrders = errors.New("redis inventory: no order store (Options.Orders)")

// Orders is the order store checkout writes through (orders.JointStock),
// nil unless Options.Orders is set.
func (s *Store) Orders() orders.Store {
	if s.o.Orders == nil {
		return nil
	}
	return s.o.Orders
}

// CreateReservedOrder admits the order's stock in Redis, then reserves it
// in the ledger and stores the order in one SQL transaction
// (orders.StockStore). Checkout over Reserve and CreateOrder takes two SQL
// transactions (three with the key's claim) where this takes one. A
// transaction that fails, the key taken by a concurrent request included,
// has its Redis holds returned. The ledger decides again under its row
// locks, so cached counters that drifted can refuse a sale, never oversell.
func (s *Store) CreateReservedOrder(ctx context.Context, o orders.Order, idem orders.IdemRef, stock []inventory.Item, ttl time.Duration, events []event.Message) error {
	if s.o.Orders == nil {
		return errNoOrders
	}
	items, err := inventory.CheckReservation(o.ID, stock, ttl)
	if err != nil {
		return err
	}
	held, err := s.hold(ctx, o.ID, items, ttl)
	if err != nil {
		return err
	}
	if err := s.o.Orders.CreateReservedOrder(ctx, o, idem, items, ttl, events); err != nil {
		s.compensate(o.ID, held)
		return err
	}
	return nil
}

// CommitAndUpdateOrder marks the order and sells its reservation in one SQL
// transaction (orders.StockStore), then sells the hold in Redis.
func (s *Store) CommitAndUpdateOrder(ctx context.Context, id string, idem orders.IdemRef, fn func(o *orders.Order) ([]event.Message, error)) (orders.Order, error) {
	if s.o.Orders == nil {
		return orders.Order{}, errNoOrders
	}
	return s.closeWithOrder(ctx, id, inventory.StateCommitted, fn, func(fn func(*orders.Order) ([]event.Message, error)) (orders.Order, error) {
		return s.o.Orders.CommitAndUpdateOrder(ctx, id, idem, fn)
	})
}

// ReleaseAndUpdateOrder marks the order and returns its reservation's
// stock in one SQL transaction (orders.StockStore), then returns the hold
// in Redis.
func (s *Store) ReleaseAndUpdateOrder(ctx context.Context, id string, fn func(o *orders.Order) ([]event.Message, error)) (orders.Order, error) {
	if s.o.Orders == nil {
		return orders.Order{}, errNoOrders
	}
	return s.closeWithOrder(ctx, id, inventory.StateReleased, fn, func(fn func(*orders.Order) ([]event.Message, error)) (orders.Order, error) {
		return s.o.Orders.ReleaseAndUpdateOrder(ctx, id, fn)
	})
}

// closeWithOrder runs update with fn and, when the transaction changed the
// order (and so closed its reservation), closes the hold in Redis to the
// same state. The ledger has the sale or release by then, so a Redis
// failure is logged, not returned: the order stands, and the cached
// counters only hold back stock until reconcile repairs them.
func (s *Store) closeWithOrder(ctx context.Context, id, to string, fn func(*orders.Order) ([]event.Message, error),
	update func(func(*orders.Order) ([]event.Message, error)) (orders.Order, error)) (orders.Order, error) {
	changed := false
	o, err := update(func(cur *orders.Order) ([]event.Message, error) {
		// A group commit may run fn again; the last run is the one stored.
		before := cur.Version
		msgs, err := fn(cur)
		changed = err == nil && cur.Version != before
		return msgs, err
	})
	if err != nil || !changed {
		return o, err
	}
	// The reservation's id is the order's and it holds the order's lines.
	lines := make([]inventory.Item, len(o.Items))
	for i, l := range o.Items {
		lines[i] = inventory.Item{SKU: l.SKU, Qty: l.Quantity}
	}
	items, err := inventory.Normalize(lines)
	if err != nil {
		s.o.Logger.Warn("closing the Redis hold of an order; run inventory reconcile", "order", id, "err", err)
		return o, nil
	}
	// The ledger's change stands even if the caller has gone: follow it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, g := range s.groups(items) {
		keys, args := s.keysArgs(g, id, to)
		res, err := closeScript.Run(cctx, s.rdb, keys, args...).Result()
		if err != nil {
			s.o.Logger.Warn("closing the Redis hold of an order (recorded in the ledger); run inventory reconcile", "order", id, "err", err)
			continue
		}
		// A release of a reservation never held leaves no record; anything
		// else that is not a first close or a replay means Redis and the
		// ledger disagree.
		if parts, tag, _ := reply(res); tag == "closed" || (tag == "missing" && to == inventory.StateCommitted) {
			s.o.Logger.Warn("Redis and the ledger disagree on a reservation; run inventory reconcile", "reservation", id, "redis", fmt.Sprint(parts))
		}
	}
	return o, nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
)

const orderColumns = `id, customer_id, status, items, total, payment_token, payment_id, failure_reason, version, created_at, updated_at`

func scanOrder(row scanner) (orders.Order, error) {
	var (
		o                orders.Order
		status, items    string
		created, updated int64
	)
	if err := row.Scan(&o.ID, &o.CustomerID, &status, &items, &o.Total, &o.PaymentToken, &o.PaymentID, &o.FailureReason, &o.Version, &created, &updated); err != nil {
		return orders.Order{}, err
	}
	o.Status = orders.Status(status)
	if err := json.Unmarshal([]byte(items), &o.Items); err != nil {
		return orders.Order{}, fmt.Errorf("decoding items of %s: %w", o.ID, err)
	}
	o.CreatedAt, o.UpdatedAt = fromMicros(created), fromMicros(updated)
	return o, nil
}

// CreateOrder stores a new order with its events and ties it to the
// idempotency key that created it.
func (s *Store) CreateOrder(ctx context.Context, o orders.Order, idem orders.IdemRef, events []event.Message) error {
	items, err := json.Marshal(o.Items)
	if err != nil {
		return fmt.Errorf("encoding items: %w", err)
	}
	return s.inTx(ctx, func(tx *txn) error {
		if err := s.claimKeyTx(ctx, tx, o.ID, idem); err != nil {
			return err
		}
		return s.createOrderTx(ctx, tx, o, string(items), idem, events)
	})
}

func (s *Store) createOrderTx(ctx context.Context, tx *txn, o orders.Order, items string, idem orders.IdemRef, events []event.Message) error {
	if err := tx.later(ctx, "inserting order "+o.ID, nil, `INSERT INTO orders (`+orderColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, o.CustomerID, string(o.Status), items, o.Total, o.PaymentToken, o.PaymentID, o.FailureReason, o.Version, micros(o.CreatedAt), micros(o.UpdatedAt)); err != nil {
		return err
	}
	if idem.Key != "" && idem.Claim == nil { // a deferred claim links itself (claimKeyTx)
		if err := tx.later(ctx, "linking order "+o.ID+" to its idempotency key", nil, `UPDATE idempotency_keys SET resource_id = ? WHERE scope = ? AND key = ?`, o.ID, idem.Scope, idem.Key); err != nil {
			return err
		}
	}
	return s.enqueue(ctx, tx, events)
}

// CreateReservedOrder reserves an order's stock and stores the order, its
// events and its idempotency link in one transaction (orders.StockStore):
// checkout's first durable step when the stock lives in this database.
// With Options.CheckoutBatches on PostgreSQL, concurrent calls share a
// transaction (pgbatch.go); the call then waits for its outcome even if
// ctx ends, so the caller never takes a stored order for a failed one.
func (s *Store) CreateReservedOrder(ctx context.Context, o orders.Order, idem orders.IdemRef, stock []inventory.Item, ttl time.Duration, events []event.Message) error {
	stock, err := inventory.Normalize(stock)
	if err != nil {
		return err
	}
	if ttl <= 0 {
		return fmt.Errorf("%w: a reservation needs a positive ttl", inventory.ErrInvalid)
	}
	reserved, err := json.Marshal(stock)
	if err != nil {
		return fmt.Errorf("encoding reservation: %w", err)
	}
	items, err := json.Marshal(o.Items)
	if err != nil {
		return fmt.Errorf("encoding items: %w", err)
	}
	r := &createReq{o: o, idem: idem, stock: stock, ttl: ttl, events: events, reserved: string(reserved), items: string(items)}
	if s.batches {
		return s.creates.Do(context.WithoutCancel(ctx), r)
	}
	return s.createOne(ctx, r)
}

// createOne is CreateReservedOrder in a transaction of its own.
func (s *Store) createOne(ctx context.Context, r *createReq) error {
	return s.retryUnique(ctx, func() error {
		return s.inTxReserving(ctx, func(tx *txn, existing bool) error {
			if err := s.claimKeyTx(ctx, tx, r.o.ID, r.idem); err != nil {
				return err
			}
			if err := s.reserveTx(ctx, tx, r.o.ID, r.stock, r.reserved, r.ttl, existing); err != nil {
				return err
			}
			return s.createOrderTx(ctx, tx, r.o, r.items, r.idem, r.events)
		})
	})
}

// CommitAndUpdateOrder changes the order with fn and, when fn changed it,
// sells its reservation, in one transaction (orders.StockStore). The order
// row is locked first, as in ReleaseAndUpdateOrder, so the two never wait
// on each other in opposite orders. With Options.CheckoutBatches on
// PostgreSQL, concurrent calls share a transaction (pgbatch.go), and fn
// may run more than once (the last run is the one stored); the call then
// waits for its outcome even if ctx ends.
func (s *Store) CommitAndUpdateOrder(ctx context.Context, id string, idem orders.IdemRef, fn func(*orders.Order) ([]event.Message, error)) (orders.Order, error) {
	if s.batches {
		r := &payReq{id: id, idem: idem, fn: fn}
		err := s.pays.Do(context.WithoutCancel(ctx), r)
		return r.out, err
	}
	return s.commitOne(ctx, id, idem, fn)
}

// commitOne is CommitAndUpdateOrder in a transaction of its own.
func (s *Store) commitOne(ctx context.Context, id string, idem orders.IdemRef, fn func(*orders.Order) ([]event.Message, error)) (orders.Order, error) {
	return s.updateOrderThen(ctx, id, fn, func(tx *txn, out orders.Order) error {
		if err := s.closeReservationTx(ctx, tx, id, inventory.StateCommitted); err != nil {
			return err
		}
		if idem.Key == "" || idem.Respond == nil || out.Status != orders.StatusPaid {
			return nil
		}
		status, body := idem.Respond(out)
		return s.finishTx(ctx, tx, idem.Scope, idem.Key, status, body)
	})
}

// ReleaseAndUpdateOrder changes the order with fn and, when fn changed it,
// returns its reserved stock, in one transaction (orders.StockStore). A
// reservation released already (by the expiry sweeper) stays released; a
// sold one fails the transaction: here only a paid order's stock is sold.
func (s *Store) ReleaseAndUpdateOrder(ctx context.Context, id string, fn func(*orders.Order) ([]event.Message, error)) (orders.Order, error) {
	return s.updateOrderThen(ctx, id, fn, func(tx *txn, _ orders.Order) error {
		err := s.closeReservationTx(ctx, tx, id, inventory.StateReleased)
		if errors.Is(err, inventory.ErrUnknownReservation) {
			return nil // nothing was held
		}
		return err
	})
}

// updateOrderThen changes the order with fn and, when fn changed it, runs
// then in the same transaction.
func (s *Store) updateOrderThen(ctx context.Context, id string, fn func(*orders.Order) ([]event.Message, error), then func(*txn, orders.Order) error) (orders.Order, error) {
	var out orders.Order
	err := s.inTx(ctx, func(tx *txn) error {
		var (
			changed bool
			err     error
		)
		if out, changed, err = s.updateOrderTx(ctx, tx, id, fn); err != nil || !changed {
			return err
		}
		return then(tx, out)
	})
	return out, err
}

// GetOrder returns an order.
func (s *Store) GetOrder(ctx context.Context, id string) (orders.Order, error) {
	o, err := scanOrder(s.r.QueryRowContext(ctx, s.q(`SELECT `+orderColumns+` FROM orders WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return orders.Order{}, fmt.Errorf("%w: %s", orders.ErrNotFound, id)
	}
	if err != nil {
		return orders.Order{}, fmt.Errorf("reading order %s: %w", id, err)
	}
	return o, nil
}

// UpdateOrder changes an order under its row lock, with its events.
func (s *Store) UpdateOrder(ctx context.Context, id string, fn func(*orders.Order) ([]event.Message, error)) (orders.Order, error) {
	var out orders.Order
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		out, _, err = s.updateOrderTx(ctx, tx, id, fn)
		return err
	})
	return out, err
}

// updateOrderTx runs fn on the order, read under its row lock, and stores
// the result and fn's events when fn changed it (moved its version).
func (s *Store) updateOrderTx(ctx context.Context, tx *txn, id string, fn func(*orders.Order) ([]event.Message, error)) (orders.Order, bool, error) {
	o, err := scanOrder(tx.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = ?`+s.forUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return orders.Order{}, false, fmt.Errorf("%w: %s", orders.ErrNotFound, id)
	}
	if err != nil {
		return orders.Order{}, false, fmt.Errorf("reading order %s: %w", id, err)
	}
	before := o.Version
	events, err := fn(&o)
	if err != nil {
		return orders.Order{}, false, err
	}
	if o.Version == before {
		return o, false, nil // nothing changed
	}
	if err := tx.later(ctx, "updating order "+id, nil, `UPDATE orders SET status = ?, payment_id = ?, failure_reason = ?, version = ?, updated_at = ? WHERE id = ?`,
		string(o.Status), o.PaymentID, o.FailureReason, o.Version, micros(o.UpdatedAt), id); err != nil {
		return orders.Order{}, false, err
	}
	return o, true, s.enqueue(ctx, tx, events)
}

// StaleOrders lists orders in status last updated before a time.
func (s *Store) StaleOrders(ctx context.Context, status orders.Status, before time.Time, limit int) ([]string, error) {
	out, err := list(ctx, reads{s.r}, scanString, s.q(`SELECT id FROM orders WHERE status = ? AND updated_at < ? ORDER BY updated_at LIMIT ?`), string(status), micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("listing stale orders: %w", err)
	}
	return out, nil
}

// CountOrders counts orders by status (for tests, tools and the dashboard).
func (s *Store) CountOrders(ctx context.Context) (map[orders.Status]int64, error) {
	type count struct {
		status string
		n      int64
	}
	counts, err := list(ctx, reads{s.r}, func(r scanner) (count, error) {
		var c count
		err := r.Scan(&c.status, &c.n)
		return c, err
	}, `SELECT status, COUNT(*) FROM orders GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("counting orders: %w", err)
	}
	out := make(map[orders.Status]int64, len(counts))
	for _, c := range counts {
		out[orders.Status(c.status)] = c.n
	}
	return out, nil
}

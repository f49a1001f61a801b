package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/orders"
)

// keepsOrderEvent reports whether m is one of an order's own events (its
// subject is the order id), kept in order_events for the order's timeline:
// the outbox deletes a row once it is published.
func keepsOrderEvent(m event.Message) bool {
	return m.Topic == event.TopicOrders || m.Topic == event.TopicPayments
}

// ListOrders returns up to q.Limit orders, newest first (creation time,
// then id), below q.After (orders.Reader).
func (s *Store) ListOrders(ctx context.Context, q orders.ListQuery) ([]orders.Order, error) {
	query := `SELECT ` + orderColumns + ` FROM orders WHERE 1 = 1`
	var args []any
	if q.Status != "" {
		query += ` AND status = ?`
		args = append(args, string(q.Status))
	}
	if q.After != nil {
		at := micros(q.After.CreatedAt)
		query += ` AND (created_at < ? OR (created_at = ? AND id < ?))`
		args = append(args, at, at, q.After.ID)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, q.Limit)
	out, err := list(ctx, reads{s.r}, scanOrder, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("listing orders: %w", err)
	}
	return out, nil
}

// OrderEvents returns an order's kept events in the order they were
// written (orders.Reader).
func (s *Store) OrderEvents(ctx context.Context, id string) ([]orders.StoredEvent, error) {
	out, err := list(ctx, reads{s.r}, func(r scanner) (orders.StoredEvent, error) {
		var (
			e    orders.StoredEvent
			at   int64
			data string
		)
		if err := r.Scan(&e.ID, &e.Type, &at, &data); err != nil {
			return orders.StoredEvent{}, err
		}
		e.At, e.Data = fromMicros(at), json.RawMessage(data)
		return e, nil
	}, s.q(`SELECT event_id, event_type, at, data FROM order_events WHERE order_id = ? ORDER BY id`), id)
	if err != nil {
		return nil, fmt.Errorf("reading events of order %s: %w", id, err)
	}
	return out, nil
}

// RecordRefusal keeps a checkout refused before any order was stored
// (orders.RefusalRecorder).
func (s *Store) RecordRefusal(ctx context.Context, r orders.Refusal) error {
	skus, err := json.Marshal(r.SKUs)
	if err != nil {
		return fmt.Errorf("encoding refused skus: %w", err)
	}
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkout_refusals (reason, skus, at) VALUES (?, ?, ?)`, r.Reason, string(skus), micros(r.At)); err != nil {
			return fmt.Errorf("recording a refused checkout: %w", err)
		}
		return nil
	})
}

var (
	_ orders.Reader          = (*Store)(nil)
	_ orders.RefusalRecorder = (*Store)(nil)
)

// paidLines sums, per SKU, the units and revenue of the lines of orders
// still paid created in [from, to), each SKU with its product's reorder
// unit cost; the order lines are JSON, expanded by each engine's own JSON
// functions.
func (s *Store) paidLines() string {
	if s.pg {
		return `SELECT x.units * (p.reorder::jsonb->>'unit_cost')::bigint, x.revenue FROM (
  SELECT l->>'sku' AS sku, SUM((l->>'quantity')::bigint) AS units, SUM((l->>'quantity')::bigint * (l->>'unit_price')::bigint) AS revenue
  FROM orders o CROSS JOIN LATERAL jsonb_array_elements(o.items::jsonb) l
  WHERE o.created_at >= ? AND o.created_at < ? AND o.status = ?
  GROUP BY l->>'sku') x
JOIN products p ON p.sku = x.sku
WHERE (p.reorder::jsonb->>'unit_cost')::bigint > 0`
	}
	return `SELECT x.units * json_extract(p.reorder, '$.unit_cost'), x.revenue FROM (
  SELECT json_extract(l.value, '$.sku') AS sku, SUM(json_extract(l.value, '$.quantity')) AS units,
         SUM(json_extract(l.value, '$.quantity') * json_extract(l.value, '$.unit_price')) AS revenue
  FROM orders o, json_each(o.items) l
  WHERE o.created_at >= ? AND o.created_at < ? AND o.status = ?
  GROUP BY 1) x
JOIN products p ON p.sku = x.sku
WHERE json_extract(p.reorder, '$.unit_cost') > 0`
}

// Sales sums the orders created in [from, to) (orders.SalesReader): three
// reads over the orders_created and checkout_refusals_at ranges.
func (s *Store) Sales(ctx context.Context, from, to time.Time) (orders.Sales, error) {
	var out orders.Sales
	lo, hi := micros(from), micros(to)
	type byStatus struct {
		status     string
		n, revenue int64
	}
	rows, err := list(ctx, reads{s.r}, func(r scanner) (byStatus, error) {
		var b byStatus
		err := r.Scan(&b.status, &b.n, &b.revenue)
		return b, err
	}, s.q(`SELECT status, COUNT(*), COALESCE(SUM(total), 0) FROM orders WHERE created_at >= ? AND created_at < ? GROUP BY status`), lo, hi)
	if err != nil {
		return orders.Sales{}, fmt.Errorf("summing orders: %w", err)
	}
	for _, b := range rows {
		switch orders.Status(b.status) {
		case orders.StatusPaid:
			out.Paid += b.n
			out.Revenue += b.revenue
		case orders.StatusCancelled:
			out.Paid += b.n
		case orders.StatusPaymentFailed, orders.StatusFailing:
			out.PaymentFailed += b.n
		}
	}
	lines, err := list(ctx, reads{s.r}, func(r scanner) ([2]int64, error) {
		var v [2]int64
		err := r.Scan(&v[0], &v[1])
		return v, err
	}, s.q(s.paidLines()), lo, hi, string(orders.StatusPaid))
	if err != nil {
		return orders.Sales{}, fmt.Errorf("costing paid orders: %w", err)
	}
	for _, v := range lines {
		out.Cost += v[0]
		out.CostedRevenue += v[1]
	}
	if err := s.r.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM checkout_refusals WHERE at >= ? AND at < ? AND reason = ?`),
		lo, hi, orders.RefusalOutOfStock).Scan(&out.OutOfStockRefusals); err != nil {
		return orders.Sales{}, fmt.Errorf("counting refused checkouts: %w", err)
	}
	return out, nil
}

// SalesByMinute sums the orders created in [from, to) by UTC minute
// (orders.SalesReader).
func (s *Store) SalesByMinute(ctx context.Context, from, to time.Time) ([]orders.MinuteSales, error) {
	const minute = int64(time.Minute / time.Microsecond)
	out, err := list(ctx, reads{s.r}, func(r scanner) (orders.MinuteSales, error) {
		var (
			m  orders.MinuteSales
			at int64
		)
		if err := r.Scan(&at, &m.Orders, &m.Revenue); err != nil {
			return orders.MinuteSales{}, err
		}
		m.Minute = fromMicros(at * minute)
		return m, nil
	}, s.q(`SELECT created_at / ? AS m, COUNT(*), COALESCE(SUM(CASE WHEN status = ? THEN total ELSE 0 END), 0)
FROM orders WHERE created_at >= ? AND created_at < ? AND status IN (?, ?)
GROUP BY 1 ORDER BY 1`), minute, string(orders.StatusPaid), micros(from), micros(to), string(orders.StatusPaid), string(orders.StatusCancelled))
	if err != nil {
		return nil, fmt.Errorf("summing orders by minute: %w", err)
	}
	return out, nil
}

var _ orders.SalesReader = (*Store)(nil)

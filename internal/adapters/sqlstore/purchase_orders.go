package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/replenishment"
)

const poColumns = `id, sku, quantity, status, supplier, urgent, trigger_key, justification, created_at, expected_at, updated_at`

func scanPO(row scanner) (replenishment.PurchaseOrder, error) {
	var (
		po                         replenishment.PurchaseOrder
		status, just               string
		urgent                     int
		created, expected, updated int64
	)
	if err := row.Scan(&po.ID, &po.SKU, &po.Quantity, &status, &po.Supplier, &urgent, &po.TriggerEvent, &just, &created, &expected, &updated); err != nil {
		return po, err
	}
	po.Status, po.Urgent = replenishment.Status(status), urgent == 1
	if err := json.Unmarshal([]byte(just), &po.Reason); err != nil {
		return po, fmt.Errorf("decoding justification of %s: %w", po.ID, err)
	}
	po.CreatedAt, po.ExpectedAt, po.UpdatedAt = fromMicros(created), fromMicros(expected), fromMicros(updated)
	return po, nil
}

// CreatePurchaseOrder stores a new purchase order (see replenishment.Store).
func (s *Store) CreatePurchaseOrder(ctx context.Context, po replenishment.PurchaseOrder, triggerKey string, events []event.Message) (bool, error) {
	just, err := json.Marshal(po.Reason)
	if err != nil {
		return false, fmt.Errorf("encoding justification: %w", err)
	}
	var created bool
	err = s.retryUnique(ctx, func() error {
		return s.inTx(ctx, func(tx *txn) error {
			created = false
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM purchase_orders WHERE trigger_key = ?`, triggerKey).Scan(&n); err != nil {
				return fmt.Errorf("checking trigger %s: %w", triggerKey, err)
			}
			if n > 0 {
				return nil
			}
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM purchase_orders WHERE sku = ? AND urgent = ? AND status IN ('requested', 'confirmed', 'shipped')`,
				po.SKU, b2i(po.Urgent)).Scan(&n); err != nil {
				return fmt.Errorf("checking open orders of %s: %w", po.SKU, err)
			}
			if n > 0 {
				return replenishment.ErrOpenOrderExists
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO purchase_orders (`+poColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				po.ID, po.SKU, po.Quantity, string(po.Status), po.Supplier, b2i(po.Urgent), triggerKey, string(just),
				micros(po.CreatedAt), micros(po.ExpectedAt), micros(po.UpdatedAt)); err != nil {
				return fmt.Errorf("inserting purchase order: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE inventory SET on_order = on_order + ? WHERE sku = ?`, po.Quantity, po.SKU); err != nil {
				return fmt.Errorf("raising on_order of %s: %w", po.SKU, err)
			}
			created = true
			return s.enqueue(ctx, tx, events)
		})
	})
	return created, err
}

// GetPurchaseOrder returns one purchase order.
func (s *Store) GetPurchaseOrder(ctx context.Context, id string) (replenishment.PurchaseOrder, error) {
	po, err := scanPO(s.r.QueryRowContext(ctx, s.q(`SELECT `+poColumns+` FROM purchase_orders WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return po, fmt.Errorf("%w: %s", replenishment.ErrNotFound, id)
	}
	if err != nil {
		return po, fmt.Errorf("reading purchase order %s: %w", id, err)
	}
	return po, nil
}

// ListPurchaseOrders lists orders, newest first, optionally by status and SKU.
func (s *Store) ListPurchaseOrders(ctx context.Context, status replenishment.Status, sku string, limit int) ([]replenishment.PurchaseOrder, error) {
	query := `SELECT ` + poColumns + ` FROM purchase_orders WHERE 1 = 1`
	var args []any
	if status != "" {
		query += ` AND status = ?`
		args = append(args, string(status))
	}
	if sku != "" {
		query += ` AND sku = ?`
		args = append(args, sku)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	out, err := list(ctx, reads{s.r}, scanPO, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("listing purchase orders: %w", err)
	}
	return out, nil
}

// OpenPurchaseOrders lists a SKU's orders still on their way.
func (s *Store) OpenPurchaseOrders(ctx context.Context, sku string) ([]replenishment.PurchaseOrder, error) {
	out, err := list(ctx, reads{s.r}, scanPO, s.q(`SELECT `+poColumns+` FROM purchase_orders
  WHERE sku = ? AND status IN ('requested', 'confirmed', 'shipped') ORDER BY created_at`), sku)
	if err != nil {
		return nil, fmt.Errorf("listing open purchase orders of %s: %w", sku, err)
	}
	return out, nil
}

// UpdatePurchaseOrder changes an order under its lock (see replenishment.Store).
func (s *Store) UpdatePurchaseOrder(ctx context.Context, id string, fn func(*replenishment.PurchaseOrder) ([]event.Message, error)) (replenishment.PurchaseOrder, error) {
	var out replenishment.PurchaseOrder
	err := s.inTx(ctx, func(tx *txn) error {
		po, err := scanPO(tx.QueryRowContext(ctx, `SELECT `+poColumns+` FROM purchase_orders WHERE id = ?`+s.forUpdate(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s", replenishment.ErrNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("reading purchase order %s: %w", id, err)
		}
		before := po.Status
		events, err := fn(&po)
		if err != nil {
			return err
		}
		out = po
		if po.Status == before {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE purchase_orders SET status = ?, updated_at = ? WHERE id = ?`, string(po.Status), micros(po.UpdatedAt), id); err != nil {
			return fmt.Errorf("updating purchase order %s: %w", id, err)
		}
		if before.Open() && !po.Status.Open() {
			if _, err := tx.ExecContext(ctx, `UPDATE inventory SET on_order = on_order - ? WHERE sku = ?`, po.Quantity, po.SKU); err != nil {
				return fmt.Errorf("lowering on_order of %s: %w", po.SKU, err)
			}
		}
		return s.enqueue(ctx, tx, events)
	})
	return out, err
}

func epochDay(t time.Time) int64 { return t.UTC().Unix() / 86400 }

// RecordDemands records a batch of demand in one transaction, once per
// event id. On PostgreSQL that is one statement: the ids not seen before
// are inserted, and only their units are added to their SKUs' days.
func (s *Store) RecordDemands(ctx context.Context, ds []replenishment.Demand) (int, error) {
	ds = replenishment.FirstOfEach(ds)
	if len(ds) == 0 {
		return 0, nil
	}
	at := micros(s.now())
	if s.pg {
		ids, skus := make([]string, len(ds)), make([]string, len(ds))
		days, units := make([]int64, len(ds)), make([]int64, len(ds))
		for i, d := range ds {
			ids[i], skus[i], days[i], units[i] = d.EventID, d.SKU, epochDay(d.At), d.Units
		}
		var added int
		err := s.w.QueryRowContext(ctx, s.q(`WITH d AS (SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[], ?::bigint[]) AS d(id, sku, day, units)),
  e AS (INSERT INTO demand_events (event_id, at) SELECT id, ? FROM d ON CONFLICT (event_id) DO NOTHING RETURNING event_id),
  u AS (INSERT INTO demand_daily (sku, day, units) SELECT d.sku, d.day, sum(d.units) FROM d JOIN e ON e.event_id = d.id GROUP BY d.sku, d.day
    ORDER BY d.sku, d.day ON CONFLICT (sku, day) DO UPDATE SET units = demand_daily.units + excluded.units)
SELECT count(*) FROM e`), ids, skus, days, units, at).Scan(&added)
		if err != nil {
			return 0, fmt.Errorf("recording demand: %w", err)
		}
		return added, nil
	}
	added := 0
	err := s.inTx(ctx, func(tx *txn) error {
		added = 0
		for _, d := range ds {
			res, err := tx.ExecContext(ctx, `INSERT INTO demand_events (event_id, at) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING`, d.EventID, at)
			if err != nil {
				return fmt.Errorf("recording demand event: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue // seen before
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO demand_daily (sku, day, units) VALUES (?, ?, ?)
  ON CONFLICT (sku, day) DO UPDATE SET units = demand_daily.units + excluded.units`, d.SKU, epochDay(d.At), d.Units); err != nil {
				return fmt.Errorf("recording demand of %s: %w", d.SKU, err)
			}
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
	type dayUnits struct{ day, units int64 }
	days, err := list(ctx, reads{s.r}, func(r scanner) (dayUnits, error) {
		var d dayUnits
		err := r.Scan(&d.day, &d.units)
		return d, err
	}, s.q(`SELECT day, units FROM demand_daily WHERE sku = ? AND day >= ? AND day < ?`), sku, first, last)
	if err != nil {
		return nil, fmt.Errorf("reading demand of %s: %w", sku, err)
	}
	out := make([]float64, last-first)
	for _, d := range days {
		out[d.day-first] = float64(d.units)
	}
	return out, nil
}

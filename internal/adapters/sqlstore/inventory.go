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
	"github.com/mercato-platform/mercato/internal/money"
)

type stockRow struct {
	inventory.Levels
	flags inventory.AlertFlags
}

// stockColumns are what scanStock reads, in its order.
const stockColumns = `on_hand, reserved, on_order, low_stock_threshold, low_alerted, out_alerted, version`

const stockReturning = ` RETURNING ` + stockColumns

func scanStock(row scanner, sku string) (stockRow, error) {
	var r stockRow
	var low, out int
	if err := row.Scan(&r.OnHand, &r.Reserved, &r.OnOrder, &r.LowStockThreshold, &low, &out, &r.Version); err != nil {
		return stockRow{}, err
	}
	r.SKU, r.Available = sku, r.OnHand-r.Reserved
	r.flags = inventory.AlertFlags{Low: low == 1, Out: out == 1}
	return r, nil
}

func (s *Store) readStock(ctx context.Context, q rowQuerier, sku string) (stockRow, error) {
	r, err := scanStock(q.QueryRowContext(ctx, s.q(`SELECT `+stockColumns+` FROM inventory WHERE sku = ?`), sku), sku)
	if errors.Is(err, sql.ErrNoRows) {
		return stockRow{}, fmt.Errorf("%w: %s", inventory.ErrUnknownSKU, sku)
	}
	if err != nil {
		return stockRow{}, fmt.Errorf("reading stock of %s: %w", sku, err)
	}
	return r, nil
}

// Levels returns a SKU's stock.
func (s *Store) Levels(ctx context.Context, sku string) (inventory.Levels, error) {
	r, err := s.readStock(ctx, reads{s.r}, sku)
	return r.Levels, err
}

// change applies one conditional counter update and records it: ledger
// entry, inventory event, and any alert the new availability fires.
type change struct {
	kind, eventType, reason, ref string
	sku                          string
	onHand, reserved             int64
	// guard is the SQL condition the row must meet, e.g. enough available.
	guard string
	args  []any
}

func (s *Store) apply(ctx context.Context, tx *txn, c change, at time.Time, msgs *[]event.Message) (stockRow, bool, error) {
	query := `UPDATE inventory SET on_hand = on_hand + ?, reserved = reserved + ?, version = version + 1, updated_at = ? WHERE sku = ?`
	args := []any{c.onHand, c.reserved, micros(at), c.sku}
	if c.guard != "" {
		query += " AND " + c.guard
		args = append(args, c.args...)
	}
	ledger := []any{c.sku, c.kind, c.onHand, c.reserved, c.reason, c.ref, micros(at)}
	if s.pg {
		// One round trip instead of two: the ledger entry is written by the
		// same statement, only when the guarded update took the row.
		query = `WITH u AS (` + query + stockReturning + `), l AS (INSERT INTO inventory_ledger (sku, kind, on_hand_delta, reserved_delta, reason, ref, at)
  SELECT ?::text, ?::text, ?::bigint, ?::bigint, ?::text, ?::text, ?::bigint FROM u) SELECT ` + stockColumns + ` FROM u`
		args = append(args, ledger...)
	} else {
		query += stockReturning
	}
	r, err := scanStock(tx.QueryRowContext(ctx, query, args...), c.sku)
	if errors.Is(err, sql.ErrNoRows) {
		return stockRow{}, false, nil
	}
	if err != nil {
		return stockRow{}, false, fmt.Errorf("updating stock of %s: %w", c.sku, err)
	}
	if !s.pg {
		if err := s.appendLedger(ctx, tx, c.sku, c.kind, c.onHand, c.reserved, c.reason, c.ref, micros(at)); err != nil {
			return stockRow{}, false, err
		}
	}
	m, err := inventory.LevelsMessage(c.eventType, r.Levels, c.onHand, c.reserved, c.reason, c.ref, at)
	if err != nil {
		return stockRow{}, false, err
	}
	*msgs = append(*msgs, m)
	if err := s.evaluateAlerts(ctx, tx, r, at, msgs); err != nil {
		return stockRow{}, false, err
	}
	return r, true, nil
}

// evaluateAlerts fires edge-triggered alerts in the same transaction as the
// change, so concurrent orders produce exactly one alert per crossing.
func (s *Store) evaluateAlerts(ctx context.Context, tx *txn, r stockRow, at time.Time, msgs *[]event.Message) error {
	next, fired, err := s.fireAlerts(ctx, tx, r.flags, r.Levels, at, *msgs)
	*msgs = fired
	if err != nil {
		return err
	}
	if next != r.flags {
		return tx.later(ctx, "updating alert state of "+r.SKU, nil, `UPDATE inventory SET low_alerted = ?, out_alerted = ? WHERE sku = ?`, b2i(next.Low), b2i(next.Out), r.SKU)
	}
	return nil
}

// fireAlerts stores the alerts that levels l cross from the alert state
// flags and appends their events to msgs; it returns the SKU's alert state
// after l, for the caller to store.
func (s *Store) fireAlerts(ctx context.Context, tx *txn, flags inventory.AlertFlags, l inventory.Levels, at time.Time, msgs []event.Message) (inventory.AlertFlags, []event.Message, error) {
	fired, next := inventory.EvaluateAlerts(flags, l.Available, l.LowStockThreshold, s.hysteresis)
	for _, typ := range fired {
		var err error
		if msgs, err = s.storeAlert(ctx, tx, typ, l, at, msgs); err != nil {
			return flags, msgs, err
		}
	}
	return next, msgs, nil
}

// storeAlert stores a fired alert and appends its event to msgs.
func (s *Store) storeAlert(ctx context.Context, tx *txn, typ string, l inventory.Levels, at time.Time, msgs []event.Message) ([]event.Message, error) {
	a, m, err := inventory.AlertMessage(typ, l, at)
	if err != nil {
		return msgs, err
	}
	if err := tx.later(ctx, "storing "+typ+" alert for "+l.SKU, nil, `INSERT INTO alerts (alert_id, type, sku, available, threshold, at) VALUES (?, ?, ?, ?, ?, ?)`,
		a.ID, a.Type, a.SKU, a.Available, a.Threshold, micros(a.At)); err != nil {
		return msgs, err
	}
	return append(msgs, m), nil
}

type reservation struct {
	state string
	items []inventory.Item
}

func (s *Store) reservation(ctx context.Context, tx *txn, id string) (*reservation, error) {
	var (
		r     reservation
		items string
	)
	err := tx.QueryRowContext(ctx, (`SELECT state, items FROM reservations WHERE id = ?`+s.forUpdate()), id).Scan(&r.state, &items)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading reservation %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(items), &r.items); err != nil {
		return nil, fmt.Errorf("decoding reservation %s: %w", id, err)
	}
	return &r, nil
}

// Reserve holds every item or none. Items are updated in SKU order, the same
// lock order for every transaction, so PostgreSQL never deadlocks on them.
//
// Concurrent calls are decided together (ReserveBatch): the calls that
// arrive while a batch is being written go in the next one. If ctx ends
// while the call waits, it returns ctx's error and its reservation may
// still be made: a retry with the same id replays it, and an abandoned one
// expires with its TTL.
func (s *Store) Reserve(ctx context.Context, id string, items []inventory.Item, ttl time.Duration) error {
	if _, err := inventory.CheckReservation(id, items, ttl); err != nil {
		return err // answered here, without waiting for a batch
	}
	return s.reserver.Do(ctx, inventory.ReserveRequest{ID: id, Items: items, TTL: ttl})
}

// reserveOne is Reserve without batching, in a transaction of its own.
func (s *Store) reserveOne(ctx context.Context, id string, items []inventory.Item, ttl time.Duration) error {
	items, err := inventory.CheckReservation(id, items, ttl)
	if err != nil {
		return err
	}
	encoded, err := json.Marshal(items)
	if err != nil {
		return fmt.Errorf("encoding reservation: %w", err)
	}
	return s.retryUnique(ctx, func() error {
		return s.inTxReserving(ctx, func(tx *txn, existing bool) error {
			return s.reserveTx(ctx, tx, id, items, string(encoded), ttl, existing)
		})
	})
}

// errReservationExists fails a PostgreSQL transaction that reserved
// under an id that exists already (see reserveTx).
var errReservationExists = errors.New("reservation id exists")

// inTxReserving runs fn, a transaction that calls reserveTx, with
// existing false; if the reservation turned out to exist it runs fn again,
// existing true, in a new transaction.
func (s *Store) inTxReserving(ctx context.Context, fn func(tx *txn, existing bool) error) error {
	err := s.inTx(ctx, func(tx *txn) error { return fn(tx, false) })
	if errors.Is(err, errReservationExists) {
		err = s.inTx(ctx, func(tx *txn) error { return fn(tx, true) })
	}
	return err
}

// reserveTx is Reserve inside a transaction; items are normalised and
// encoded is their JSON. existing says the id may exist already (a
// replay): see inTxReserving.
func (s *Store) reserveTx(ctx context.Context, tx *txn, id string, items []inventory.Item, encoded string, ttl time.Duration, existing bool) error {
	now := s.now()
	if tx.pc != nil && !existing {
		// PostgreSQL, a new id (the common case): the insert travels with
		// the stock updates, in one round trip; if the id existed, the
		// transaction fails and runs again the way below.
		if err := tx.later(ctx, "storing reservation "+id, func(n int64) error {
			if n == 0 {
				return errReservationExists
			}
			return nil
		}, `INSERT INTO reservations (id, state, items, expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (id) DO NOTHING`, id, inventory.StateHeld, encoded, micros(now.Add(ttl)), micros(now), micros(now)); err != nil {
			return err
		}
		return s.reserveItems(ctx, tx, id, items, now)
	}
	// Claim the id first: the common case (a new reservation) costs no
	// lookup, and a failure below rolls the claim back.
	res, err := tx.ExecContext(ctx, `INSERT INTO reservations (id, state, items, expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (id) DO NOTHING`, id, inventory.StateHeld, encoded, micros(now.Add(ttl)), micros(now), micros(now))
	if err != nil {
		return fmt.Errorf("storing reservation %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		existing, err := s.reservation(ctx, tx, id)
		if err != nil {
			return err
		}
		if existing != nil && existing.state == inventory.StateReleased {
			return fmt.Errorf("%w: %s was released", inventory.ErrReservationClosed, id)
		}
		return nil // replay of a reservation that holds or sold its stock
	}
	return s.reserveItems(ctx, tx, id, items, now)
}

// reserveItems holds each item's stock for reservation id, stored already.
func (s *Store) reserveItems(ctx context.Context, tx *txn, id string, items []inventory.Item, now time.Time) error {
	var msgs []event.Message
	for _, it := range items {
		_, ok, err := s.apply(ctx, tx, change{
			kind: kindReserve, eventType: inventory.TypeReserved, reason: "reserve", ref: id,
			sku: it.SKU, reserved: it.Qty, guard: "on_hand - reserved >= ?", args: []any{it.Qty},
		}, now, &msgs)
		if err != nil {
			return err
		}
		if !ok {
			cur, err := s.readStock(ctx, tx, it.SKU)
			if err != nil {
				return err
			}
			return &inventory.InsufficientStockError{SKU: it.SKU, Requested: it.Qty, Available: cur.Available}
		}
	}
	return s.enqueue(ctx, tx, msgs)
}

// Commit sells a held reservation.
func (s *Store) Commit(ctx context.Context, id string) error {
	return s.closeReservation(ctx, id, inventory.StateCommitted)
}

// Release returns a held reservation's stock.
func (s *Store) Release(ctx context.Context, id string) error {
	return s.closeReservation(ctx, id, inventory.StateReleased)
}

func (s *Store) closeReservation(ctx context.Context, id, to string) error {
	return s.inTx(ctx, func(tx *txn) error { return s.closeReservationTx(ctx, tx, id, to) })
}

func (s *Store) closeReservationTx(ctx context.Context, tx *txn, id, to string) error {
	now := s.now()
	r, err := s.reservation(ctx, tx, id)
	if err != nil {
		return err
	}
	var from string
	if r != nil {
		from = r.state
	}
	if replay, err := inventory.Closing(id, r != nil, from, to); replay || err != nil {
		return err
	}
	var msgs []event.Message
	for _, it := range r.items {
		c := change{kind: kindRelease, eventType: inventory.TypeReleased, reason: "release", ref: id, sku: it.SKU, reserved: -it.Qty}
		if to == inventory.StateCommitted {
			c = change{kind: kindCommit, eventType: inventory.TypeCommitted, reason: "sale", ref: id, sku: it.SKU, onHand: -it.Qty, reserved: -it.Qty}
		}
		if _, ok, err := s.apply(ctx, tx, c, now, &msgs); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: %s", inventory.ErrUnknownSKU, it.SKU)
		}
	}
	if err := tx.later(ctx, "closing reservation "+id, nil, `UPDATE reservations SET state = ?, updated_at = ? WHERE id = ?`, to, micros(now), id); err != nil {
		return err
	}
	return s.enqueue(ctx, tx, msgs)
}

// Adjust changes on_hand. With a ref (a PO id, a count id) it is idempotent:
// a second call with the same ref changes nothing.
func (s *Store) Adjust(ctx context.Context, sku string, delta int64, reason, ref string) (inventory.Levels, error) {
	if delta == 0 || reason == "" {
		return inventory.Levels{}, fmt.Errorf("%w: an adjustment needs a non-zero delta and a reason", inventory.ErrInvalid)
	}
	if err := inventory.CheckStockDelta(delta); err != nil {
		return inventory.Levels{}, err
	}
	ceiling := inventory.OnHandCeiling(delta)
	var out inventory.Levels
	err := s.retryUnique(ctx, func() error {
		return s.inTx(ctx, func(tx *txn) error {
			now := s.now()
			if ref != "" {
				var n int
				if err := tx.QueryRowContext(ctx, (`SELECT COUNT(*) FROM inventory_ledger WHERE sku = ? AND ref = ? AND kind = 'adjust' AND ref <> ''`), sku, ref).Scan(&n); err != nil {
					return fmt.Errorf("checking adjustment %s: %w", ref, err)
				}
				if n > 0 {
					cur, err := s.readStock(ctx, tx, sku)
					out = cur.Levels
					return err
				}
			}
			var msgs []event.Message
			r, ok, err := s.apply(ctx, tx, change{
				kind: inventory.KindAdjust, eventType: inventory.TypeAdjusted, reason: reason, ref: ref,
				// Both bounds are written so that neither side can overflow:
				// SQLite would turn an overflowing sum into a float.
				sku: sku, onHand: delta, guard: "reserved - ? <= on_hand AND on_hand <= ?", args: []any{delta, ceiling},
			}, now, &msgs)
			if err != nil {
				return err
			}
			if !ok {
				cur, err := s.readStock(ctx, tx, sku)
				if err != nil {
					return err
				}
				if cur.OnHand > ceiling {
					return fmt.Errorf("%w: %s has %d on hand; adding %d would pass the limit of %d", inventory.ErrStockLimit, sku, cur.OnHand, delta, money.MaxStock)
				}
				return fmt.Errorf("%w: %s has %d on hand and %d reserved, delta %d", inventory.ErrWouldGoNegative, sku, cur.OnHand, cur.Reserved, delta)
			}
			out = r.Levels
			return s.enqueue(ctx, tx, msgs)
		})
	})
	return out, err
}

// ExpiredReservations lists held reservations past their TTL, oldest first.
func (s *Store) ExpiredReservations(ctx context.Context, now time.Time, limit int) ([]string, error) {
	out, err := list(ctx, reads{s.r}, scanString, s.q(`SELECT id FROM reservations WHERE state = 'held' AND expires_at < ? ORDER BY expires_at LIMIT ?`), micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("listing expired reservations: %w", err)
	}
	return out, nil
}

// Alerts lists stored alerts of a type (all types when empty) at or after
// since, oldest first.
func (s *Store) Alerts(ctx context.Context, typ string, since time.Time, limit int) ([]inventory.Alert, error) {
	query := `SELECT alert_id, type, sku, available, threshold, at FROM alerts WHERE at >= ?`
	args := []any{micros(since)}
	if typ != "" {
		query += ` AND type = ?`
		args = append(args, typ)
	}
	query += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	out, err := list(ctx, reads{s.r}, func(r scanner) (inventory.Alert, error) {
		var (
			a  inventory.Alert
			at int64
		)
		if err := r.Scan(&a.ID, &a.Type, &a.SKU, &a.Available, &a.Threshold, &at); err != nil {
			return inventory.Alert{}, err
		}
		a.At = fromMicros(at)
		return a, nil
	}, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("listing alerts: %w", err)
	}
	return out, nil
}

// NewestAlerts lists stored alerts of a type (all types when empty) newest
// first, below position before (0: from the newest). A position is the
// alert's row id: ids grow in the order alerts are stored, so the keyset
// pages stay correct while alerts keep arriving.
func (s *Store) NewestAlerts(ctx context.Context, typ string, before int64, limit int) (inventory.AlertPage, error) {
	query := `SELECT id, alert_id, type, sku, available, threshold, at FROM alerts WHERE 1 = 1`
	var args []any
	if before > 0 {
		query += ` AND id < ?`
		args = append(args, before)
	}
	if typ != "" {
		query += ` AND type = ?`
		args = append(args, typ)
	}
	// One row more than asked says whether another page follows.
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit+1)
	type positioned struct {
		pos int64
		a   inventory.Alert
	}
	rows, err := list(ctx, reads{s.r}, func(r scanner) (positioned, error) {
		var (
			p  positioned
			at int64
		)
		if err := r.Scan(&p.pos, &p.a.ID, &p.a.Type, &p.a.SKU, &p.a.Available, &p.a.Threshold, &at); err != nil {
			return positioned{}, err
		}
		p.a.At = fromMicros(at)
		return p, nil
	}, s.q(query), args...)
	if err != nil {
		return inventory.AlertPage{}, fmt.Errorf("listing newest alerts: %w", err)
	}
	page := inventory.AlertPage{Items: make([]inventory.Alert, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			page.Next = rows[limit-1].pos
			break
		}
		page.Items = append(page.Items, r.a)
	}
	return page, nil
}

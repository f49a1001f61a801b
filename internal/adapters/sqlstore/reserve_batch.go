package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
)

// errBulkFallback aborts a batch whose requests must run one by one (two
// writers inserted the same reservation id at once, on PostgreSQL).
var errBulkFallback = errors.New("batch needs the one-by-one path")

type batchEntry struct {
	at      int                      // index in reserveDistinct's requests
	req     inventory.ReserveRequest // normalised
	encoded string                   // its items as JSON
}

// ReserveBatch reserves each request as Reserve would, with the same
// outcome, records, ledger entries, events and alerts, in one transaction
// whose statements cover the whole batch: one read and one update per SKU
// and one multi-row insert per table. Requests are decided in order, each
// all-or-nothing against the stock the earlier ones left; invalid and
// repeated ids are answered as inventory.ReserveEach says. It returns one
// error per request.
func (s *Store) ReserveBatch(ctx context.Context, reqs []inventory.ReserveRequest) []error {
	return inventory.ReserveEach(reqs,
		func(distinct []inventory.ReserveRequest) []error { return s.reserveDistinct(ctx, distinct) },
		func(r inventory.ReserveRequest) error { return s.reserveOne(ctx, r.ID, r.Items, r.TTL) })
}

// reserveDistinct is ReserveBatch over valid, normalised requests with
// distinct ids.
func (s *Store) reserveDistinct(ctx context.Context, reqs []inventory.ReserveRequest) []error {
	errs := make([]error, len(reqs))
	entries := make([]batchEntry, 0, len(reqs))
	for i, r := range reqs {
		encoded, err := json.Marshal(r.Items)
		if err != nil {
			errs[i] = fmt.Errorf("encoding reservation: %w", err)
			continue
		}
		entries = append(entries, batchEntry{at: i, req: r, encoded: string(encoded)})
	}
	if len(entries) == 0 {
		return errs
	}
	outcome := make([]error, len(entries))
	err := s.inTx(ctx, func(tx *txn) error {
		clear(outcome)
		return s.reserveBulkTx(ctx, tx, entries, outcome)
	})
	switch {
	case err == nil:
		for k, e := range entries {
			errs[e.at] = outcome[k]
		}
	case errors.Is(err, errBulkFallback) || isUniqueViolation(err):
		var wg sync.WaitGroup
		for _, e := range entries {
			wg.Go(func() { errs[e.at] = s.reserveOne(ctx, e.req.ID, e.req.Items, e.req.TTL) })
		}
		wg.Wait()
	default:
		for _, e := range entries {
			errs[e.at] = err
		}
	}
	return errs
}

// skuDelta is one admitted reservation's hold on one SKU, in batch order.
type skuDelta struct {
	id  string
	qty int64
}

// reserveBulkTx decides and writes a batch; outcome gets each entry's
// result (nil: held, or held already by an earlier call).
func (s *Store) reserveBulkTx(ctx context.Context, tx *txn, entries []batchEntry, outcome []error) error {
	now := s.now()
	at := micros(now)
	// Ids that exist already are replays, answered as Reserve answers them.
	existing, err := s.reservationStates(ctx, tx, entries)
	if err != nil {
		return err
	}
	// New ids are written first, before any stock row is locked: the order
	// Reserve takes too, so the two never wait on each other crosswise.
	// Those the stock then refuses are deleted again below.
	var rows [][]any
	for _, e := range entries {
		if _, ok := existing[e.req.ID]; !ok {
			rows = append(rows, []any{e.req.ID, inventory.StateHeld, e.encoded, micros(now.Add(e.req.TTL)), at, at})
		}
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO reservations (id, state, items, expires_at, created_at, updated_at) VALUES `, 6, rows); err != nil {
		if isUniqueViolation(err) {
			return errBulkFallback // written meanwhile by another writer: one by one replays it
		}
		return fmt.Errorf("storing reservations: %w", err)
	}
	// Current stock of every SKU the batch names, read (and on PostgreSQL
	// locked) in SKU order, the lock order of every transaction.
	skus := make([]string, 0, len(entries))
	for _, e := range entries {
		for _, it := range e.req.Items {
			skus = append(skus, it.SKU)
		}
	}
	slices.Sort(skus)
	skus = slices.Compact(skus)
	stock := make(map[string]*stockRow, len(skus))
	for _, sku := range skus {
		r, err := scanStock(tx.QueryRowContext(ctx, `SELECT `+stockColumns+` FROM inventory WHERE sku = ?`+s.forUpdate(), sku), sku)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading stock of %s: %w", sku, err)
		}
		stock[sku] = &r
	}
	// Decide in order against the running availability.
	avail := make(map[string]int64, len(stock))
	for sku, r := range stock {
		avail[sku] = r.Available
	}
	var refused []string
	bySKU := map[string][]skuDelta{}
	for k, e := range entries {
		if st, ok := existing[e.req.ID]; ok {
			if st == inventory.StateReleased {
				outcome[k] = fmt.Errorf("%w: %s was released", inventory.ErrReservationClosed, e.req.ID)
			}
			continue
		}
		if outcome[k] = take(avail, e.req.Items); outcome[k] != nil {
			refused = append(refused, e.req.ID)
			continue
		}
		for _, it := range e.req.Items {
			bySKU[it.SKU] = append(bySKU[it.SKU], skuDelta{id: e.req.ID, qty: it.Qty})
		}
	}
	for len(refused) > 0 {
		n := chunk(len(refused))
		args := make([]any, n)
		for i, id := range refused[:n] {
			args[i] = id
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM reservations WHERE id IN (`+placeholders(n)+`)`, args...); err != nil {
			return fmt.Errorf("dropping refused reservations: %w", err)
		}
		refused = refused[n:]
	}
	var (
		ledger [][]any
		msgs   []event.Message
	)
	for _, sku := range skus {
		deltas := bySKU[sku]
		if len(deltas) == 0 {
			continue
		}
		var total int64
		for _, d := range deltas {
			total += d.qty
		}
		if _, err := tx.ExecContext(ctx, `UPDATE inventory SET reserved = reserved + ?, version = version + 1, updated_at = ? WHERE sku = ?`, total, at, sku); err != nil {
			return fmt.Errorf("updating stock of %s: %w", sku, err)
		}
		// Each hold's event carries the levels its own change produced, and
		// each threshold crossing fires its alert once.
		r := stock[sku]
		l, flags := r.Levels, r.flags
		for _, d := range deltas {
			l.Reserved += d.qty
			l.Available = l.OnHand - l.Reserved
			ledger = append(ledger, []any{sku, kindReserve, int64(0), d.qty, "reserve", d.id, at})
			m, err := inventory.LevelsMessage(inventory.TypeReserved, l, 0, d.qty, "reserve", d.id, now)
			if err != nil {
				return err
			}
			if flags, msgs, err = s.fireAlerts(ctx, tx, flags, l, now, append(msgs, m)); err != nil {
				return err
			}
		}
		if flags != r.flags {
			if _, err := tx.ExecContext(ctx, `UPDATE inventory SET low_alerted = ?, out_alerted = ? WHERE sku = ?`, b2i(flags.Low), b2i(flags.Out), sku); err != nil {
				return fmt.Errorf("updating alert state of %s: %w", sku, err)
			}
		}
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO inventory_ledger (sku, kind, on_hand_delta, reserved_delta, reason, ref, at) VALUES `, 7, ledger); err != nil {
		return fmt.Errorf("appending ledger entries: %w", err)
	}
	return s.enqueue(ctx, tx, msgs)
}

// reservationStates returns the state of each entry's reservation that
// exists already.
func (s *Store) reservationStates(ctx context.Context, tx *txn, entries []batchEntry) (map[string]string, error) {
	out := map[string]string{}
	for start := 0; start < len(entries); {
		n := chunk(len(entries) - start)
		args := make([]any, n)
		for i := range n {
			args[i] = entries[start+i].req.ID
		}
		states, err := list(ctx, tx, func(r scanner) ([2]string, error) {
			var idState [2]string
			err := r.Scan(&idState[0], &idState[1])
			return idState, err
		}, `SELECT id, state FROM reservations WHERE id IN (`+placeholders(n)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("reading reservations: %w", err)
		}
		for _, st := range states {
			out[st[0]] = st[1]
		}
		start += n
	}
	return out, nil
}

// take subtracts items from avail, all of them or, when a SKU is unknown or
// short, none, and says which.
func take(avail map[string]int64, items []inventory.Item) error {
	for _, it := range items {
		a, known := avail[it.SKU]
		if !known {
			return fmt.Errorf("%w: %s", inventory.ErrUnknownSKU, it.SKU)
		}
		if a < it.Qty {
			return &inventory.InsufficientStockError{SKU: it.SKU, Requested: it.Qty, Available: a}
		}
	}
	for _, it := range items {
		avail[it.SKU] -= it.Qty
	}
	return nil
}

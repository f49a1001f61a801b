package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mercato-platform/mercato/internal/inventory"
)

// Ledger entry kinds written by the inventory operations.
const (
	kindReserve = "reserve"
	kindCommit  = "commit"
	kindRelease = "release"
)

// appendLedger records one stock change in the transaction that made it.
func (s *Store) appendLedger(ctx context.Context, tx *txn, sku, kind string, onHandDelta, reservedDelta int64, reason, ref string, at int64) error {
	_, err := tx.ExecContext(ctx, (`INSERT INTO inventory_ledger (sku, kind, on_hand_delta, reserved_delta, reason, ref, at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		sku, kind, onHandDelta, reservedDelta, reason, ref, at)
	if err != nil {
		return fmt.Errorf("appending ledger entry for %s: %w", sku, err)
	}
	return nil
}

// Ledger returns a SKU's ledger in order.
func (s *Store) Ledger(ctx context.Context, sku string) ([]inventory.LedgerEntry, error) {
	out, err := list(ctx, reads{s.r}, func(r scanner) (inventory.LedgerEntry, error) {
		var e inventory.LedgerEntry
		err := r.Scan(&e.ID, &e.SKU, &e.Kind, &e.OnHandDelta, &e.ReservedDelta, &e.Reason, &e.Ref)
		return e, err
	}, s.q(`SELECT id, sku, kind, on_hand_delta, reserved_delta, reason, ref FROM inventory_ledger WHERE sku = ? ORDER BY id`), sku)
	if err != nil {
		return nil, fmt.Errorf("reading ledger of %s: %w", sku, err)
	}
	return out, nil
}

// LedgerTotals sums a SKU's ledger: what on_hand and reserved must be. The
// ledger has no index by SKU (it is read per SKU only by audits), so this
// scans it; LedgerBalances does every SKU in one pass.
func (s *Store) LedgerTotals(ctx context.Context, sku string) (onHand, reserved int64, err error) {
	err = s.r.QueryRowContext(ctx, s.q(`SELECT COALESCE(SUM(on_hand_delta), 0), COALESCE(SUM(reserved_delta), 0) FROM inventory_ledger WHERE sku = ?`), sku).Scan(&onHand, &reserved)
	if err != nil {
		return 0, 0, fmt.Errorf("summing ledger of %s: %w", sku, err)
	}
	return onHand, reserved, nil
}

// LedgerBalances sums the whole ledger per SKU in one read (one snapshot)
// and calls fn for every SKU with a stock record, in SKU order, with what
// its on_hand and reserved must be. An error from fn stops the walk.
func (s *Store) LedgerBalances(ctx context.Context, fn func(sku string, onHand, reserved int64) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT i.sku, COALESCE(l.on_hand, 0), COALESCE(l.reserved, 0)
  FROM inventory i LEFT JOIN (
    SELECT sku, SUM(on_hand_delta) AS on_hand, SUM(reserved_delta) AS reserved FROM inventory_ledger GROUP BY sku
  ) l ON l.sku = i.sku
  ORDER BY i.sku`)
	if err != nil {
		return fmt.Errorf("summing the ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			sku              string
			onHand, reserved int64
		)
		if err := rows.Scan(&sku, &onHand, &reserved); err != nil {
			return fmt.Errorf("summing the ledger: %w", err)
		}
		if err := fn(sku, onHand, reserved); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("summing the ledger: %w", err)
	}
	return nil
}

// ReservationItems returns a reservation's items and state.
func (s *Store) ReservationItems(ctx context.Context, id string) ([]inventory.Item, string, error) {
	var state, items string
	err := s.r.QueryRowContext(ctx, s.q(`SELECT state, items FROM reservations WHERE id = ?`), id).Scan(&state, &items)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", fmt.Errorf("%w: %s", inventory.ErrUnknownReservation, id)
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading reservation %s: %w", id, err)
	}
	var out []inventory.Item
	if err := json.Unmarshal([]byte(items), &out); err != nil {
		return nil, "", fmt.Errorf("decoding reservation %s: %w", id, err)
	}
	return out, state, nil
}

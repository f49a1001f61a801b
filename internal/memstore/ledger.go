package memstore

import (
	"context"

	"github.com/mercato-platform/mercato/internal/inventory"
)

// appendLedger records one stock change in the write that made it.
func (s *Store) appendLedger(t *tx, sku, kind string, onHandDelta, reservedDelta int64, reason, ref string) {
	s.ledgerSeq++ // ids are never reused, as a database sequence
	push(t, &s.ledger, inventory.LedgerEntry{ID: s.ledgerSeq, SKU: sku, Kind: kind, OnHandDelta: onHandDelta, ReservedDelta: reservedDelta, Reason: reason, Ref: ref})
	if kind == inventory.KindAdjust && ref != "" {
		set(t, s.adjustRefs, [2]string{sku, ref}, true)
	}
}

// Ledger returns a SKU's ledger in order.
func (s *Store) Ledger(ctx context.Context, sku string) ([]inventory.LedgerEntry, error) {
	if err := s.read(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	out := []inventory.LedgerEntry{}
	for _, e := range s.ledger {
		if e.SKU == sku {
			out = append(out, e)
		}
	}
	return out, nil
}

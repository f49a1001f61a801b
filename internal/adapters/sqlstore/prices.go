package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mercato-platform/mercato/internal/pricing"
	"github.com/mercato-platform/mercato/internal/pricing/pricebook"
)

// SavePrices stores price changes, once per event id.
func (s *Store) SavePrices(ctx context.Context, changes []pricebook.Change) error {
	return s.inTx(ctx, func(tx *txn) error {
		for _, c := range changes {
			reason, err := json.Marshal(c.Reason)
			if err != nil {
				return fmt.Errorf("encoding price reason: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO price_history (event_id, sku, price, base_price, at, reason) VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (event_id) DO NOTHING`, c.EventID, c.SKU, c.Price, c.BasePrice, micros(c.UpdatedAt), string(reason)); err != nil {
				return fmt.Errorf("storing price of %s: %w", c.SKU, err)
			}
		}
		return nil
	})
}

// scanPrices lists price changes: sku, price, base_price, at, reason.
func (s *Store) scanPrices(ctx context.Context, query string, args ...any) ([]pricing.PriceRecord, error) {
	out, err := list(ctx, s.r, scanPrice, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("reading prices: %w", err)
	}
	return out, nil
}

func scanPrice(row scanner) (pricing.PriceRecord, error) {
	var (
		r      pricing.PriceRecord
		at     int64
		reason string
	)
	if err := row.Scan(&r.SKU, &r.Price, &r.BasePrice, &at, &reason); err != nil {
		return pricing.PriceRecord{}, err
	}
	r.UpdatedAt = fromMicros(at)
	if err := json.Unmarshal([]byte(reason), &r.Reason); err != nil {
		return pricing.PriceRecord{}, fmt.Errorf("decoding price reason of %s: %w", r.SKU, err)
	}
	return r, nil
}

// PriceHistory returns a SKU's changes, newest first.
func (s *Store) PriceHistory(ctx context.Context, sku string, limit int) ([]pricing.PriceRecord, error) {
	return s.scanPrices(ctx, `SELECT sku, price, base_price, at, reason FROM price_history WHERE sku = ? ORDER BY at DESC LIMIT ?`, sku, limit)
}

// LatestPrices returns each SKU's newest change.
func (s *Store) LatestPrices(ctx context.Context) ([]pricing.PriceRecord, error) {
	return s.scanPrices(ctx, `SELECT h.sku, h.price, h.base_price, h.at, h.reason FROM price_history h
  WHERE h.at = (SELECT MAX(at) FROM price_history x WHERE x.sku = h.sku)`)
}

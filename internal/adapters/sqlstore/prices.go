package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

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
	out, err := list(ctx, reads{s.r}, scanPrice, s.q(query), args...)
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

// RecentPrices returns up to n of each SKU's latest prices, oldest first:
// one query over the (sku, at) index for the whole page of SKUs.
func (s *Store) RecentPrices(ctx context.Context, skus []string, n int) (map[string][]pricebook.Point, error) {
	out := map[string][]pricebook.Point{}
	if len(skus) == 0 || n <= 0 {
		return out, nil
	}
	args := make([]any, 0, len(skus)+1)
	for _, sku := range skus {
		args = append(args, sku)
	}
	args = append(args, n)
	query := `SELECT sku, price, at FROM (
  SELECT sku, price, at, ROW_NUMBER() OVER (PARTITION BY sku ORDER BY at DESC, event_id DESC) AS rn
  FROM price_history WHERE sku IN (?` + strings.Repeat(", ?", len(skus)-1) + `)) recent
WHERE rn <= ? ORDER BY sku, at, rn DESC`
	type row struct {
		sku string
		pricebook.Point
	}
	rows, err := list(ctx, reads{s.r}, func(r scanner) (row, error) {
		var (
			v  row
			at int64
		)
		err := r.Scan(&v.sku, &v.Price, &at)
		v.At = fromMicros(at)
		return v, err
	}, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("reading recent prices: %w", err)
	}
	for _, r := range rows {
		out[r.sku] = append(out[r.sku], r.Point)
	}
	return out, nil
}

package rediscache

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/mercato-platform/mercato/internal/pricing"
)

// Prices mirrors the latest price of every SKU into one Redis hash,
// "<prefix>prices" (field: SKU, value: the price record as JSON), for
// services that read prices without following the event log.
type Prices struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewPrices builds the mirror.
func NewPrices(rdb redis.UniversalClient, prefix string) *Prices {
	return &Prices{rdb: rdb, prefix: prefix}
}

// SetPrices writes the records.
func (p *Prices) SetPrices(ctx context.Context, recs []pricing.PriceRecord) error {
	args := make([]any, 0, 2*len(recs))
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encoding price of %s: %w", r.SKU, err)
		}
		args = append(args, r.SKU, b)
	}
	if err := p.rdb.HSet(ctx, p.prefix+"prices", args...).Err(); err != nil {
		return fmt.Errorf("mirroring prices: %w", err)
	}
	return nil
}

// Price reads one SKU's mirrored price.
func (p *Prices) Price(ctx context.Context, sku string) (pricing.PriceRecord, bool, error) {
	b, err := p.rdb.HGet(ctx, p.prefix+"prices", sku).Bytes()
	if err == redis.Nil {
		return pricing.PriceRecord{}, false, nil
	}
	if err != nil {
		return pricing.PriceRecord{}, false, fmt.Errorf("reading price of %s: %w", sku, err)
	}
	var r pricing.PriceRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return pricing.PriceRecord{}, false, fmt.Errorf("decoding price of %s: %w", sku, err)
	}
	return r, true, nil
}

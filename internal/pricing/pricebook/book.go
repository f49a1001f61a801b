// Package pricebook serves dynamic prices: it follows commerce.prices
// (written by the pricing role), keeps the latest price per SKU in memory,
// records every change with its reason for GET /v1/prices/{sku}/history, and
// optionally mirrors the latest prices into a Redis hash. Checkout and
// GET /v1/prices/{sku} both quote here (Book.Current).
package pricebook

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing"
	"github.com/mercato-platform/mercato/internal/retry"
)

// Change is one price change as stored.
type Change struct {
	EventID string `json:"-"`
	pricing.PriceRecord
}

// Store keeps price history.
type Store interface {
	// SavePrices stores changes, ignoring event ids already stored.
	SavePrices(ctx context.Context, changes []Change) error
	PriceHistory(ctx context.Context, sku string, limit int) ([]pricing.PriceRecord, error)
	LatestPrices(ctx context.Context) ([]pricing.PriceRecord, error)
	// RecentPrices returns up to n of each SKU's latest prices, oldest
	// first, in one read; SKUs without changes are absent.
	RecentPrices(ctx context.Context, skus []string, n int) (map[string][]Point, error)
}

// Point is one price of a SKU's recent prices: a sparkline's point.
type Point struct {
	At    time.Time `json:"at"`
	Price int64     `json:"price"`
}

// Mirror receives the latest prices (a Redis hash at scale).
type Mirror interface {
	SetPrices(ctx context.Context, recs []pricing.PriceRecord) error
}

// Book is the api role's price cache.
type Book struct {
	store  Store
	mirror Mirror
	log    *slog.Logger

	mu      sync.RWMutex
	latest  map[string]pricing.PriceRecord
	running atomic.Bool
}

// NewBook builds a book; mirror may be nil.
func NewBook(store Store, mirror Mirror, log *slog.Logger) *Book {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Book{store: store, mirror: mirror, log: log, latest: map[string]pricing.PriceRecord{}}
}

// Price returns a SKU's current dynamic price, if it has one.
func (b *Book) Price(sku string) (pricing.PriceRecord, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	r, ok := b.latest[sku]
	return r, ok
}

// History returns a SKU's recent changes, newest first.
func (b *Book) History(ctx context.Context, sku string, limit int) ([]pricing.PriceRecord, error) {
	return b.store.PriceHistory(ctx, sku, limit)
}

// Recent returns up to n of each SKU's latest prices, oldest first.
func (b *Book) Recent(ctx context.Context, skus []string, n int) (map[string][]Point, error) {
	if len(skus) == 0 || n <= 0 {
		return map[string][]Point{}, nil
	}
	return b.store.RecentPrices(ctx, skus, n)
}

// Apply records changes and makes the newest of each SKU current. A change
// older than the SKU's current price (a replay) does not move it back.
func (b *Book) Apply(ctx context.Context, changes []Change) error {
	if len(changes) == 0 {
		return nil
	}
	if err := b.store.SavePrices(ctx, changes); err != nil {
		return err
	}
	var moved []pricing.PriceRecord
	b.mu.Lock()
	for _, c := range changes {
		if cur, ok := b.latest[c.SKU]; ok && !c.UpdatedAt.After(cur.UpdatedAt) {
			continue
		}
		b.latest[c.SKU] = c.PriceRecord
		moved = append(moved, c.PriceRecord)
	}
	b.mu.Unlock()
	if b.mirror != nil && len(moved) > 0 {
		if err := b.mirror.SetPrices(ctx, moved); err != nil {
			b.log.Warn("mirroring prices", "err", err)
		}
	}
	return nil
}

// Running reports whether the feed is following commerce.prices.
func (b *Book) Running() bool { return b.running.Load() }

// Current is a SKU's price now: its dynamic price, or its base price until
// the pricing role has priced it. base and updated are the product's base
// price and last change.
func (b *Book) Current(sku string, base int64, updated time.Time) pricing.PriceRecord {
	if rec, ok := b.Price(sku); ok {
		return rec
	}
	return Base(sku, base, updated)
}

// Base is the price record of a SKU the pricing role has not priced: its
// base price, with the reason "base_price".
func Base(sku string, base int64, updated time.Time) pricing.PriceRecord {
	return pricing.PriceRecord{SKU: sku, Price: base, BasePrice: base, UpdatedAt: updated,
		Reason: pricing.Reason{RuleID: pricing.RuleIDBasePrice, TargetPrice: base, PreviousPrice: base}}
}

// Follow loads the stored latest prices, then reads commerce.prices
// (read_committed, from the start: the topic is compacted) until ctx ends.
func (b *Book) Follow(ctx context.Context, c *bus.Client) error {
	stored, err := b.store.LatestPrices(ctx)
	if err != nil {
		return fmt.Errorf("loading prices: %w", err)
	}
	b.mu.Lock()
	for _, r := range stored {
		b.latest[r.SKU] = r
	}
	b.mu.Unlock()
	t, err := c.OpenTable(event.TopicPrices)
	if err != nil {
		return fmt.Errorf("following prices: %w", err)
	}
	defer t.Close()
	t.ReportLag("price-book") // mercato_consumer_lag{group="price-book"}
	b.running.Store(true)
	defer b.running.Store(false)
	t.Follow(ctx, 1000, func(recs []bus.Record) {
		var changes []Change
		for _, r := range recs {
			if r.Value == nil {
				continue
			}
			env, err := event.Decode(r.Value)
			if err != nil || env.Type != event.TypePriceChanged {
				continue
			}
			var rec pricing.PriceRecord
			if err := env.DecodeData(&rec); err != nil {
				b.log.Warn("skipping undecodable price record", "offset", r.Offset, "err", err)
				continue
			}
			changes = append(changes, Change{EventID: env.ID, PriceRecord: rec})
		}
		p := retry.Policy{Backoff: retry.Backoff{First: 100 * time.Millisecond, Max: 5 * time.Second},
			OnRetry: func(_ int, err error, _ time.Duration) { b.log.Warn("storing prices, retrying", "err", err) }}
		_ = p.Do(ctx, func(int) error { return b.Apply(ctx, changes) }) // only ctx ends it
	}, func(err error) { b.log.Warn("prices fetch error", "err", err) })
	return nil
}

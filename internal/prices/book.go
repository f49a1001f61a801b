// Package prices serves dynamic prices: it follows commerce.prices (written
// by the pricing role), keeps the latest price per SKU in memory, records
// every change with its reason for GET /v1/prices/{sku}/history, and
// optionally mirrors the latest prices into a Redis hash. Orders read their
// unit prices here.
package prices

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing"
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

// Follow loads the stored latest prices, then reads commerce.prices
// (read_committed, from the start: the topic is compacted) until ctx ends.
func (b *Book) Follow(ctx context.Context, seeds []string, topic string) error {
	stored, err := b.store.LatestPrices(ctx)
	if err != nil {
		return fmt.Errorf("loading prices: %w", err)
	}
	b.mu.Lock()
	for _, r := range stored {
		b.latest[r.SKU] = r
	}
	b.mu.Unlock()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return fmt.Errorf("following prices: %w", err)
	}
	defer cl.Close()
	b.running.Store(true)
	defer b.running.Store(false)
	for {
		fetches := cl.PollRecords(ctx, 1000)
		if ctx.Err() != nil {
			return nil
		}
		var changes []Change
		for _, r := range fetches.Records() {
			if r.Value == nil {
				continue
			}
			env, err := event.Decode(r.Value)
			if err != nil || env.Type != pricing.TypePriceChanged {
				continue
			}
			var rec pricing.PriceRecord
			if err := env.DecodeData(&rec); err != nil {
				b.log.Warn("skipping undecodable price record", "offset", r.Offset, "err", err)
				continue
			}
			changes = append(changes, Change{EventID: env.ID, PriceRecord: rec})
		}
		for attempt := 0; ; attempt++ {
			err := b.Apply(ctx, changes)
			if err == nil || ctx.Err() != nil {
				break
			}
			b.log.Warn("storing prices, retrying", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(min(time.Duration(attempt+1)*100*time.Millisecond, 5*time.Second)):
			}
		}
	}
}

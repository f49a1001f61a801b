package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/money"
)

// Stock is a SKU's stock as the system of record holds it.
type Stock struct {
	OnHand   int64 `json:"on_hand"`
	Reserved int64 `json:"reserved"`
	OnOrder  int64 `json:"on_order"`
	// Version is the stock row's change counter (see inventory.Levels).
	Version int64 `json:"-"`
}

// Current is what the store holds for a SKU when a write starts.
type Current struct {
	Product Product
	Stock   Stock
}

// Write is what a product write changes, applied in one transaction.
type Write struct {
	Product Product
	// StockDelta changes on_hand; the store records it in the inventory
	// ledger and emits its commerce.inventory event (and any alert).
	StockDelta  int64
	StockReason string
	Events      []event.Message
}

// Repository is the system of record as the catalogue needs it. PutProduct
// calls decide inside the transaction with the current state (nil for a new
// SKU) and applies the Write it returns atomically, events included.
type Repository interface {
	PutProduct(ctx context.Context, sku string, decide func(cur *Current) (Write, error)) (Current, bool, error)
	GetProduct(ctx context.Context, sku string) (Current, error)
	ListProducts(ctx context.Context, q ListQuery) ([]Product, error)
	// ListCurrent is ListProducts with each product's stock, in one read.
	ListCurrent(ctx context.Context, q ListQuery) ([]Current, error)
}

// ListQuery selects a page of products ordered by SKU.
type ListQuery struct {
	Category string
	// Search keeps products whose SKU or name contains it, ignoring case.
	Search   string
	AfterSKU string
	Limit    int
}

// MaxSearchRunes bounds ListQuery.Search.
const MaxSearchRunes = 100

// Matches reports whether p is in the listing q selects (apart from the
// page): the reference for stores that filter in memory.
func (q ListQuery) Matches(p Product) bool {
	if q.Category != "" && p.Category != q.Category {
		return false
	}
	if q.Search == "" {
		return true
	}
	s := strings.ToLower(q.Search)
	return strings.Contains(strings.ToLower(p.SKU), s) || strings.Contains(strings.ToLower(p.Name), s)
}

// PutRequest is the body of PUT /v1/products/{sku}. Stock is the on-hand
// quantity to hold after the write: the initial stock of a new SKU, or a
// stock count of an existing one (recorded as an adjustment). Nil leaves the
// stock of an existing SKU alone.
type PutRequest struct {
	Name              string        `json:"name"`
	Category          string        `json:"category"`
	BasePrice         int64         `json:"base_price"`
	PriceFloor        int64         `json:"price_floor"`
	PriceCeiling      int64         `json:"price_ceiling"`
	Stock             *int64        `json:"stock"`
	LowStockThreshold int64         `json:"low_stock_threshold"`
	Reorder           ReorderPolicy `json:"reorder"`
}

// Event types written by the catalogue.
const (
	source = "mercato/catalog"
)

// Service validates product writes and records them with their events.
type Service struct {
	repo      Repository
	now       func() time.Time
	committed func()
	cache     StockCache
}

// StockCache keeps a copy of the stock counters outside the system of
// record (the Redis inventory). A product write tells it, once committed,
// of the stock change it made (a count sets on_hand) and of the SKU's
// low-stock threshold, so the copy follows the ledger.
type StockCache interface {
	// StockWritten is told the write's on_hand delta, the SKU's threshold,
	// and the stock row's version after the write.
	StockWritten(ctx context.Context, sku string, onHandDelta, lowStockThreshold, version int64)
}

// CacheStock makes Put tell c of every committed stock write.
func (s *Service) CacheStock(c StockCache) { s.cache = c }

// NewService builds a Service; now is the clock (time.Now when nil) and
// committed, when set, is told after each write that reached the outbox.
func NewService(repo Repository, now func() time.Time, committed func()) *Service {
	if now == nil {
		now = time.Now
	}
	if committed == nil {
		committed = func() {}
	}
	return &Service{repo: repo, now: now, committed: committed}
}

// Put creates or updates a product. created reports which.
func (s *Service) Put(ctx context.Context, sku string, req PutRequest) (Current, bool, error) {
	if req.Stock != nil && (*req.Stock < 0 || *req.Stock > money.MaxStock) {
		return Current{}, false, &ValidationError{Field: "stock", Message: fmt.Sprintf("must be 0-%d, got %d", money.MaxStock, *req.Stock)}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	p := Product{
		SKU: sku, Name: req.Name, Category: req.Category,
		BasePrice: req.BasePrice, PriceFloor: req.PriceFloor, PriceCeiling: req.PriceCeiling,
		LowStockThreshold: req.LowStockThreshold, Reorder: req.Reorder,
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if err := p.Validate(); err != nil {
		return Current{}, false, err
	}
	var delta int64 // of the attempt that committed
	cur, created, err := s.repo.PutProduct(ctx, sku, func(cur *Current) (Write, error) {
		w := Write{Product: p}
		defer func() { delta = w.StockDelta }()
		var before Stock
		switch {
		case cur == nil:
			w.StockReason = "initial_stock"
			if req.Stock != nil {
				w.StockDelta = *req.Stock
			}
		default:
			before = cur.Stock
			w.Product.CreatedAt = cur.Product.CreatedAt
			w.Product.Version = cur.Product.Version + 1
			w.StockReason = "stock_count"
			if req.Stock != nil {
				w.StockDelta = *req.Stock - cur.Stock.OnHand
			}
			if before.OnHand+w.StockDelta < before.Reserved {
				return Write{}, fmt.Errorf("%w: stock %d is below the %d units reserved", ErrWouldGoNegative, before.OnHand+w.StockDelta, before.Reserved)
			}
		}
		after := before
		after.OnHand += w.StockDelta
		pe, err := event.New(event.TypeProductUpserted, source, sku, now, event.ProductUpserted{Product: event.Product(w.Product), OnHand: after.OnHand})
		if err != nil {
			return Write{}, err
		}
		w.Events = append(w.Events, event.Message{Topic: event.TopicProducts, Envelope: pe})
		return w, nil
	})
	if err != nil {
		return Current{}, false, fmt.Errorf("putting product %s: %w", sku, err)
	}
	s.committed()
	if s.cache != nil {
		s.cache.StockWritten(ctx, sku, delta, p.LowStockThreshold, cur.Stock.Version)
	}
	return cur, created, nil
}

// Get returns a product and its stock.
func (s *Service) Get(ctx context.Context, sku string) (Current, error) {
	if !ValidSKU(sku) {
		return Current{}, fmt.Errorf("%w: %s", ErrNotFound, sku)
	}
	return s.repo.GetProduct(ctx, sku)
}

// MaxPage bounds a product listing page.
const MaxPage = 500

// List returns up to q.Limit products after q.AfterSKU, ordered by SKU, and
// the SKU to continue after when there are more.
func (s *Service) List(ctx context.Context, q ListQuery) ([]Product, string, error) {
	limit, err := q.check()
	if err != nil {
		return nil, "", err
	}
	q.Limit = limit + 1 // one more tells whether another page exists
	page, err := s.repo.ListProducts(ctx, q)
	if err != nil {
		return nil, "", err
	}
	if len(page) > limit {
		return page[:limit], page[limit-1].SKU, nil
	}
	return page, "", nil
}

// ListCurrent is List with each product's stock.
func (s *Service) ListCurrent(ctx context.Context, q ListQuery) ([]Current, string, error) {
	limit, err := q.check()
	if err != nil {
		return nil, "", err
	}
	q.Limit = limit + 1
	page, err := s.repo.ListCurrent(ctx, q)
	if err != nil {
		return nil, "", err
	}
	if len(page) > limit {
		return page[:limit], page[limit-1].Product.SKU, nil
	}
	return page, "", nil
}

// check validates a listing query and returns its page size.
func (q ListQuery) check() (int, error) {
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 1 || q.Limit > MaxPage {
		return 0, &ValidationError{Field: "limit", Message: fmt.Sprintf("must be 1-%d", MaxPage)}
	}
	if q.AfterSKU != "" && !ValidSKU(q.AfterSKU) {
		return 0, &ValidationError{Field: "cursor", Message: "is not a cursor this API returned"}
	}
	if !utf8.ValidString(q.Search) || utf8.RuneCountInString(q.Search) > MaxSearchRunes {
		return 0, &ValidationError{Field: "q", Message: fmt.Sprintf("must be at most %d characters of valid UTF-8", MaxSearchRunes)}
	}
	return q.Limit, nil
}

// IsNotFound reports whether err means the SKU does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

package memstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
)

// current is a SKU's product and stock; the caller holds the lock.
func (s *Store) current(sku string) (catalog.Current, bool) {
	p, ok := s.products[sku]
	if !ok {
		return catalog.Current{}, false
	}
	r := s.stock[sku]
	return catalog.Current{Product: p, Stock: catalog.Stock{OnHand: r.OnHand, Reserved: r.Reserved, OnOrder: r.OnOrder, Version: r.Version}}, true
}

// Product returns a product without its stock.
func (s *Store) Product(ctx context.Context, sku string) (catalog.Product, error) {
	cur, err := s.GetProduct(ctx, sku)
	return cur.Product, err
}

// GetProduct returns a product with its stock.
func (s *Store) GetProduct(ctx context.Context, sku string) (catalog.Current, error) {
	if err := s.read(ctx); err != nil {
		return catalog.Current{}, err
	}
	defer s.mu.RUnlock()
	cur, ok := s.current(sku)
	if !ok {
		return catalog.Current{}, fmt.Errorf("%w: %s", catalog.ErrNotFound, sku)
	}
	return cur, nil
}

// ListProducts returns a page ordered by SKU.
func (s *Store) ListProducts(ctx context.Context, q catalog.ListQuery) ([]catalog.Product, error) {
	if err := s.read(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	return s.listProducts(q), nil
}

// listProducts is a page of products; the caller holds the lock.
func (s *Store) listProducts(q catalog.ListQuery) []catalog.Product {
	var page []catalog.Product
	for sku, p := range s.products {
		if sku > q.AfterSKU && q.Matches(p) {
			page = append(page, p)
		}
	}
	sort.Slice(page, func(i, j int) bool { return page[i].SKU < page[j].SKU })
	return upTo(page, q.Limit)
}

// ListCurrent returns a page ordered by SKU, each product with its stock.
func (s *Store) ListCurrent(ctx context.Context, q catalog.ListQuery) ([]catalog.Current, error) {
	if err := s.read(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	page := s.listProducts(q)
	out := make([]catalog.Current, 0, len(page))
	for _, p := range page {
		cur, _ := s.current(p.SKU)
		out = append(out, cur)
	}
	return out, nil
}

// PutProduct creates or updates a product, its stock and its events in one
// write (catalog.Repository).
func (s *Store) PutProduct(ctx context.Context, sku string, decide func(*catalog.Current) (catalog.Write, error)) (catalog.Current, bool, error) {
	var (
		out     catalog.Current
		created bool
	)
	err := s.write(ctx, func(t *tx) error {
		var curPtr *catalog.Current
		cur, ok := s.current(sku)
		if ok {
			curPtr = &cur
		} else {
			created = true
		}
		w, err := decide(curPtr)
		if err != nil {
			return err
		}
		p := w.Product
		stored := p
		stored.CreatedAt, stored.UpdatedAt = stamp(p.CreatedAt), stamp(p.UpdatedAt)
		var stockMsgs []event.Message
		if created {
			if w.StockDelta < 0 {
				return fmt.Errorf("%w: initial stock %d", catalog.ErrWouldGoNegative, w.StockDelta)
			}
			set(t, s.products, sku, stored)
			// A new SKU starts with its alerts in the state its stock implies:
			// alerts fire on crossings, and creation is not one.
			_, flags := inventory.EvaluateAlerts(inventory.AlertFlags{}, w.StockDelta, p.LowStockThreshold, s.hysteresis)
			l := inventory.Levels{SKU: sku, OnHand: w.StockDelta, Available: w.StockDelta, LowStockThreshold: p.LowStockThreshold}
			row := stockRow{Levels: l, flags: flags}
			row.Version = 1
			set(t, s.stock, sku, row)
			s.appendLedger(t, sku, inventory.KindInitial, w.StockDelta, 0, w.StockReason, "")
			m, err := inventory.LevelsMessage(inventory.TypeAdjusted, l, w.StockDelta, 0, w.StockReason, "", p.UpdatedAt)
			if err != nil {
				return err
			}
			stockMsgs = append(stockMsgs, m)
			out.Stock = catalog.Stock{OnHand: w.StockDelta, Version: 1}
		} else {
			// The SKU and creation time of a product never change.
			stored.SKU, stored.CreatedAt = cur.Product.SKU, cur.Product.CreatedAt
			set(t, s.products, sku, stored)
			row := s.stock[sku]
			row.LowStockThreshold = p.LowStockThreshold
			set(t, s.stock, sku, row)
			out.Stock = cur.Stock
			if w.StockDelta != 0 {
				r, ok, err := s.apply(t, change{
					kind: inventory.KindAdjust, eventType: inventory.TypeAdjusted, reason: w.StockReason,
					sku: sku, onHand: w.StockDelta,
					guard: func(r stockRow) bool { return r.OnHand+w.StockDelta >= r.Reserved },
				}, p.UpdatedAt, &stockMsgs)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("%w: %s", catalog.ErrWouldGoNegative, sku)
				}
				out.Stock = catalog.Stock{OnHand: r.OnHand, Reserved: r.Reserved, OnOrder: r.OnOrder, Version: r.Version}
			}
		}
		if err := s.enqueue(t, w.Events); err != nil {
			return err
		}
		if err := s.enqueue(t, stockMsgs); err != nil {
			return err
		}
		out.Product = p
		return nil
	})
	if err != nil {
		return catalog.Current{}, false, err
	}
	return out, created, nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
)

const productColumns = `p.sku, p.name, p.category, p.base_price, p.price_floor, p.price_ceiling,
  p.low_stock_threshold, p.reorder, p.version, p.created_at, p.updated_at`

func scanProduct(row scanner, extra ...any) (catalog.Product, error) {
	var (
		p                catalog.Product
		reorder          string
		created, updated int64
	)
	dest := append([]any{&p.SKU, &p.Name, &p.Category, &p.BasePrice, &p.PriceFloor, &p.PriceCeiling,
		&p.LowStockThreshold, &reorder, &p.Version, &created, &updated}, extra...)
	if err := row.Scan(dest...); err != nil {
		return catalog.Product{}, err
	}
	if err := json.Unmarshal([]byte(reorder), &p.Reorder); err != nil {
		return catalog.Product{}, fmt.Errorf("decoding reorder policy of %s: %w", p.SKU, err)
	}
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	return p, nil
}

func (s *Store) getCurrent(ctx context.Context, q rowQuerier, sku string, lock bool) (catalog.Current, error) {
	query := `SELECT ` + productColumns + `, i.on_hand, i.reserved, i.on_order, i.version
  FROM products p JOIN inventory i ON i.sku = p.sku WHERE p.sku = ?`
	if lock {
		query += s.forUpdate()
	}
	var c catalog.Current
	p, err := scanProduct(q.QueryRowContext(ctx, s.q(query), sku), &c.Stock.OnHand, &c.Stock.Reserved, &c.Stock.OnOrder, &c.Stock.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.Current{}, fmt.Errorf("%w: %s", catalog.ErrNotFound, sku)
	}
	if err != nil {
		return catalog.Current{}, fmt.Errorf("reading product %s: %w", sku, err)
	}
	c.Product = p
	return c, nil
}

// ProductQuote reads what checkout locks into an order line: the SKU's
// base price (as its price), bounds and category. On PostgreSQL it answers
// from the quote cache (quotecache.go) when it can.
func (s *Store) ProductQuote(ctx context.Context, sku string) (orders.Quote, error) {
	p, err := s.Product(ctx, sku)
	if err != nil {
		return orders.Quote{}, err
	}
	return orders.Quote{Price: p.BasePrice, BasePrice: p.BasePrice, Floor: p.PriceFloor, Ceiling: p.PriceCeiling, Category: p.Category}, nil
}

// Product returns a product without its stock; on PostgreSQL from the
// quote cache when it can.
func (s *Store) Product(ctx context.Context, sku string) (catalog.Product, error) {
	if c := s.quoteCache(); c != nil {
		return c.cachedProduct(sku, func() (catalog.Product, error) { return s.readProduct(ctx, sku) })
	}
	return s.readProduct(ctx, sku)
}

func (s *Store) readProduct(ctx context.Context, sku string) (catalog.Product, error) {
	p, err := scanProduct(s.r.QueryRowContext(ctx, s.q(`SELECT `+productColumns+` FROM products p WHERE p.sku = ?`), sku))
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.Product{}, fmt.Errorf("%w: %s", catalog.ErrNotFound, sku)
	}
	if err != nil {
		return catalog.Product{}, fmt.Errorf("reading product %s: %w", sku, err)
	}
	return p, nil
}

// GetProduct returns a product with its stock.
func (s *Store) GetProduct(ctx context.Context, sku string) (catalog.Current, error) {
	return s.getCurrent(ctx, reads{s.r}, sku, false)
}

// ListProducts returns a page ordered by SKU.
func (s *Store) ListProducts(ctx context.Context, lq catalog.ListQuery) ([]catalog.Product, error) {
	query, args := listQuery(`SELECT `+productColumns+` FROM products p`, lq)
	out, err := list(ctx, reads{s.r}, func(r scanner) (catalog.Product, error) { return scanProduct(r) }, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("listing products: %w", err)
	}
	return out, nil
}

// ListCurrent returns a page ordered by SKU, each product with its stock,
// in one query.
func (s *Store) ListCurrent(ctx context.Context, lq catalog.ListQuery) ([]catalog.Current, error) {
	query, args := listQuery(`SELECT `+productColumns+`, i.on_hand, i.reserved, i.on_order, i.version
  FROM products p JOIN inventory i ON i.sku = p.sku`, lq)
	out, err := list(ctx, reads{s.r}, func(r scanner) (catalog.Current, error) {
		var c catalog.Current
		p, err := scanProduct(r, &c.Stock.OnHand, &c.Stock.Reserved, &c.Stock.OnOrder, &c.Stock.Version)
		c.Product = p
		return c, err
	}, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("listing products: %w", err)
	}
	return out, nil
}

// listQuery appends a listing's filters, order and page to a SELECT from
// products p. The search is a case-insensitive substring of the SKU or the
// name, passed as a LIKE pattern with its wildcards escaped. Both sides
// go through the database's lower(), so they fold alike (SQLite's folds
// ASCII only: there a non-ASCII letter matches only its own case).
func listQuery(sel string, lq catalog.ListQuery) (string, []any) {
	query := sel + ` WHERE p.sku > ?`
	args := []any{lq.AfterSKU}
	if lq.Category != "" {
		query += ` AND p.category = ?`
		args = append(args, lq.Category)
	}
	if lq.Search != "" {
		pattern := "%" + likeEscaper.Replace(lq.Search) + "%"
		query += ` AND (lower(p.sku) LIKE lower(CAST(? AS TEXT)) ESCAPE '\' OR lower(p.name) LIKE lower(CAST(? AS TEXT)) ESCAPE '\')`
		args = append(args, pattern, pattern)
	}
	query += ` ORDER BY p.sku LIMIT ?`
	return query, append(args, lq.Limit)
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// PutProduct creates or updates a product, its stock and its events in one
// transaction. A concurrent create of the same SKU on PostgreSQL is retried as
// an update.
func (s *Store) PutProduct(ctx context.Context, sku string, decide func(*catalog.Current) (catalog.Write, error)) (catalog.Current, bool, error) {
	for attempt := 0; ; attempt++ {
		cur, created, err := s.putProductOnce(ctx, sku, decide)
		if err != nil && attempt < 3 && isUniqueViolation(err) {
			continue
		}
		return cur, created, err
	}
}

func (s *Store) putProductOnce(ctx context.Context, sku string, decide func(*catalog.Current) (catalog.Write, error)) (catalog.Current, bool, error) {
	var (
		out     catalog.Current
		created bool
	)
	err := s.inTx(ctx, func(tx *txn) error {
		// A group commit may run this closure twice: start clean.
		out, created = catalog.Current{}, false
		var curPtr *catalog.Current
		cur, err := s.getCurrent(ctx, tx, sku, true)
		switch {
		case err == nil:
			curPtr = &cur
		case errors.Is(err, catalog.ErrNotFound):
			created = true
		default:
			return err
		}
		w, err := decide(curPtr)
		if err != nil {
			return err
		}
		p := w.Product
		reorder, err := json.Marshal(p.Reorder)
		if err != nil {
			return fmt.Errorf("encoding reorder policy: %w", err)
		}
		now := micros(p.UpdatedAt)
		at := p.UpdatedAt
		var stockMsgs []event.Message
		if created {
			_, err = tx.ExecContext(ctx, (`INSERT INTO products (sku, name, category, base_price, price_floor, price_ceiling,
  low_stock_threshold, reorder, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				p.SKU, p.Name, p.Category, p.BasePrice, p.PriceFloor, p.PriceCeiling, p.LowStockThreshold, string(reorder), p.Version, micros(p.CreatedAt), now)
			if err != nil {
				return fmt.Errorf("inserting product %s: %w", sku, err)
			}
			if w.StockDelta < 0 {
				return fmt.Errorf("%w: initial stock %d", catalog.ErrWouldGoNegative, w.StockDelta)
			}
			// A new SKU starts with its alerts in the state its stock implies:
			// alerts fire on crossings, and creation is not one.
			_, flags := inventory.EvaluateAlerts(inventory.AlertFlags{}, w.StockDelta, p.LowStockThreshold, s.hysteresis)
			_, err = tx.ExecContext(ctx, (`INSERT INTO inventory (sku, on_hand, reserved, on_order, version, updated_at, low_stock_threshold, low_alerted, out_alerted)
  VALUES (?, ?, 0, 0, 1, ?, ?, ?, ?)`), sku, w.StockDelta, now, p.LowStockThreshold, b2i(flags.Low), b2i(flags.Out))
			if err != nil {
				return fmt.Errorf("inserting inventory of %s: %w", sku, err)
			}
			if err := s.appendLedger(ctx, tx, sku, inventory.KindInitial, w.StockDelta, 0, w.StockReason, "", now); err != nil {
				return err
			}
			l := inventory.Levels{SKU: sku, OnHand: w.StockDelta, Available: w.StockDelta, LowStockThreshold: p.LowStockThreshold}
			m, err := inventory.LevelsMessage(inventory.TypeAdjusted, l, w.StockDelta, 0, w.StockReason, "", at)
			if err != nil {
				return err
			}
			stockMsgs = append(stockMsgs, m)
			out.Stock = catalog.Stock{OnHand: w.StockDelta, Version: 1}
		} else {
			_, err = tx.ExecContext(ctx, (`UPDATE products SET name = ?, category = ?, base_price = ?, price_floor = ?, price_ceiling = ?,
  low_stock_threshold = ?, reorder = ?, version = ?, updated_at = ? WHERE sku = ?`),
				p.Name, p.Category, p.BasePrice, p.PriceFloor, p.PriceCeiling, p.LowStockThreshold, string(reorder), p.Version, now, sku)
			if err != nil {
				return fmt.Errorf("updating product %s: %w", sku, err)
			}
			if _, err := tx.ExecContext(ctx, (`UPDATE inventory SET low_stock_threshold = ? WHERE sku = ?`), p.LowStockThreshold, sku); err != nil {
				return fmt.Errorf("updating threshold of %s: %w", sku, err)
			}
			out.Stock = cur.Stock
			if w.StockDelta != 0 {
				r, ok, err := s.apply(ctx, tx, change{
					kind: inventory.KindAdjust, eventType: inventory.TypeAdjusted, reason: w.StockReason,
					sku: sku, onHand: w.StockDelta, guard: "on_hand + ? >= reserved", args: []any{w.StockDelta},
				}, at, &stockMsgs)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("%w: %s", catalog.ErrWouldGoNegative, sku)
				}
				out.Stock = catalog.Stock{OnHand: r.OnHand, Reserved: r.Reserved, OnOrder: r.OnOrder, Version: r.Version}
			}
		}
		if err := s.enqueue(ctx, tx, w.Events); err != nil {
			return err
		}
		if err := s.enqueue(ctx, tx, stockMsgs); err != nil {
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

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/reviews"
)

// CreateReview stores a review and its events.
func (s *Store) CreateReview(ctx context.Context, r reviews.Review, events []event.Message) error {
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO reviews (id, sku, rating, text, lang, sentiment, sentiment_score, order_id, customer_id, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.SKU, r.Rating, r.Text, r.Lang, r.Sentiment.Label, r.Sentiment.Score, r.OrderID, r.CustomerID, micros(r.CreatedAt)); err != nil {
			return fmt.Errorf("inserting review: %w", err)
		}
		return s.enqueue(ctx, tx, events)
	})
}

// GetReview returns a stored review.
func (s *Store) GetReview(ctx context.Context, id string) (reviews.Review, error) {
	var (
		r  reviews.Review
		at int64
	)
	err := s.r.QueryRowContext(ctx, s.q(`SELECT id, sku, rating, text, lang, sentiment, sentiment_score, order_id, customer_id, created_at FROM reviews WHERE id = ?`), id).
		Scan(&r.ID, &r.SKU, &r.Rating, &r.Text, &r.Lang, &r.Sentiment.Label, &r.Sentiment.Score, &r.OrderID, &r.CustomerID, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("%w: %s", reviews.ErrNotFound, id)
	}
	if err != nil {
		return r, fmt.Errorf("reading review %s: %w", id, err)
	}
	r.CreatedAt = fromMicros(at)
	return r, nil
}

// ProductExists reports whether a SKU is in the catalogue.
func (s *Store) ProductExists(ctx context.Context, sku string) (bool, error) {
	if !catalog.ValidSKU(sku) {
		return false, nil
	}
	var n int
	if err := s.r.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM products WHERE sku = ?`), sku).Scan(&n); err != nil {
		return false, fmt.Errorf("checking product %s: %w", sku, err)
	}
	return n > 0, nil
}

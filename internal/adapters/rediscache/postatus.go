// Package rediscache holds small Redis read caches of the distributed
// profile. The system of record stays authoritative; these are written after
// it and may be rebuilt from it.
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mercato-platform/mercato/internal/replenishment"
)

// POStatus caches each purchase order's status in a Redis hash
// "<prefix>po:<id>" {status, sku, updated_at}, so storefronts and other
// services can ask "is this SKU being restocked?" without the database.
type POStatus struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// NewPOStatus builds the cache; entries expire ttl after their last change.
func NewPOStatus(rdb redis.UniversalClient, prefix string, ttl time.Duration) *POStatus {
	if ttl <= 0 {
		ttl = 30 * 24 * time.Hour
	}
	return &POStatus{rdb: rdb, prefix: prefix, ttl: ttl}
}

func (c *POStatus) key(id string) string { return c.prefix + "po:" + id }

// SetStatus records a purchase order's current status.
func (c *POStatus) SetStatus(ctx context.Context, po replenishment.PurchaseOrder) error {
	k := c.key(po.ID)
	pipe := c.rdb.TxPipeline()
	pipe.HSet(ctx, k, "status", string(po.Status), "sku", po.SKU, "updated_at", po.UpdatedAt.UTC().Format(time.RFC3339Nano))
	pipe.Expire(ctx, k, c.ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("caching status of %s: %w", po.ID, err)
	}
	return nil
}

// ErrNotCached: the order is not in the cache (ask the system of record).
var ErrNotCached = errors.New("purchase order status not cached")

// Status returns a cached status.
func (c *POStatus) Status(ctx context.Context, id string) (replenishment.Status, error) {
	v, err := c.rdb.HGet(ctx, c.key(id), "status").Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotCached
	}
	if err != nil {
		return "", fmt.Errorf("reading cached status of %s: %w", id, err)
	}
	return replenishment.Status(v), nil
}

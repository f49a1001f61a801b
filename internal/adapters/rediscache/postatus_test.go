package rediscache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mercato-platform/mercato/internal/adapters/rediscache"
	"github.com/mercato-platform/mercato/internal/replenishment"
	"github.com/mercato-platform/mercato/internal/testenv"
)

func TestPOStatusRoundTrip(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	c := rediscache.NewPOStatus(rdb, "t:", time.Hour)
	ctx := context.Background()
	if _, err := c.Status(ctx, "po_1"); !errors.Is(err, rediscache.ErrNotCached) {
		t.Fatalf("missing: %v", err)
	}
	for _, st := range []replenishment.Status{"requested", "confirmed"} {
		if err := c.SetStatus(ctx, replenishment.PurchaseOrder{ID: "po_1", SKU: "A", Status: st, UpdatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := c.Status(ctx, "po_1"); err != nil || st != "confirmed" {
		t.Fatalf("status = %q, %v", st, err)
	}
	if ttl := rdb.TTL(ctx, "t:po:po_1").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("ttl = %v", ttl)
	}
}

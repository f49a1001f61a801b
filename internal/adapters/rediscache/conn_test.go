package rediscache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mercato-platform/mercato/internal/adapters/rediscache"
	"github.com/mercato-platform/mercato/internal/pricing"
	"github.com/mercato-platform/mercato/internal/replenishment"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// Both caches work over every kind of client Mercato builds: an ACL user
// on a password-protected server, TLS with a client certificate, and a
// Redis Cluster.
func TestCachesOverSecuredServersAndCluster(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		client func(t *testing.T) redis.UniversalClient
	}{
		{"acl user", func(t *testing.T) redis.UniversalClient {
			s := testenv.StartRedis(t, testenv.RedisOptions{RequirePass: "pw-default", Users: []string{"mercato on >secret ~* +@all"}})
			return redis.NewClient(&redis.Options{Addr: s.Addr, Username: "mercato", Password: "secret"})
		}},
		{"mutual tls", func(t *testing.T) redis.UniversalClient {
			s := testenv.StartRedis(t, testenv.RedisOptions{TLS: true, TLSClientAuth: true})
			return redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: s.ClientTLS(t)})
		}},
		{"cluster", func(t *testing.T) redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: testenv.RedisCluster(t, 3)})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rdb := tt.client(t)
			t.Cleanup(func() { rdb.Close() })
			ctx := context.Background()
			po := rediscache.NewPOStatus(rdb, "c:", time.Hour)
			for i := range 20 { // ids spread over the cluster's nodes
				id := fmt.Sprintf("po_%d", i)
				if err := po.SetStatus(ctx, replenishment.PurchaseOrder{ID: id, SKU: "A", Status: "confirmed", UpdatedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
				if st, err := po.Status(ctx, id); err != nil || st != "confirmed" {
					t.Fatalf("status of %s = %q, %v", id, st, err)
				}
			}
			prices := rediscache.NewPrices(rdb, "c:")
			if err := prices.SetPrices(ctx, []pricing.PriceRecord{{SKU: "A", Price: 1200, BasePrice: 1000}, {SKU: "B", Price: 900, BasePrice: 900}}); err != nil {
				t.Fatal(err)
			}
			if r, ok, err := prices.Price(ctx, "A"); err != nil || !ok || r.Price != 1200 {
				t.Fatalf("price of A = %+v, %v, %v", r, ok, err)
			}
			if _, ok, err := prices.Price(ctx, "Z"); err != nil || ok {
				t.Fatalf("price of an unknown SKU: %v, %v", ok, err)
			}
		})
	}
}

package redisinv_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/inventorytest"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// The inventory contract holds on secured servers: a password on the
// default user, an ACL user, TLS only, and TLS with client certificates.
func TestRedisInventoryContractOnSecuredServers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		server testenv.RedisOptions
		client func(s *testenv.RedisServer, t testing.TB) *redis.Options
	}{
		{"requirepass", testenv.RedisOptions{RequirePass: "pw-default"},
			func(s *testenv.RedisServer, _ testing.TB) *redis.Options {
				return &redis.Options{Addr: s.Addr, Password: "pw-default"}
			}},
		{"acl user", testenv.RedisOptions{RequirePass: "pw-default", Users: []string{"mercato on >secret ~* +@all"}},
			func(s *testenv.RedisServer, _ testing.TB) *redis.Options {
				return &redis.Options{Addr: s.Addr, Username: "mercato", Password: "secret"}
			}},
		// The least the README asks an ACL user to be granted, on the
		// test's key prefix.
		{"least privilege acl user", testenv.RedisOptions{Users: []string{"mercato on >secret ~t* -@all +@read +@write +@scripting +@connection"}},
			func(s *testenv.RedisServer, _ testing.TB) *redis.Options {
				return &redis.Options{Addr: s.Addr, Username: "mercato", Password: "secret"}
			}},
		{"tls only", testenv.RedisOptions{TLS: true},
			func(s *testenv.RedisServer, t testing.TB) *redis.Options {
				tc := s.ClientTLS(t)
				tc.Certificates = nil // the server does not ask for one
				return &redis.Options{Addr: s.Addr, TLSConfig: tc}
			}},
		{"mutual tls and acl user", testenv.RedisOptions{TLS: true, TLSClientAuth: true, Users: []string{"mercato on >secret ~* +@all"}},
			func(s *testenv.RedisServer, t testing.TB) *redis.Options {
				return &redis.Options{Addr: s.Addr, Username: "mercato", Password: "secret", TLSConfig: s.ClientTLS(t)}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := testenv.StartRedis(t, tt.server)
			opts := tt.client(srv, t)
			inventorytest.Run(t, func(t *testing.T) inventorytest.Env {
				rdb := redis.NewClient(opts)
				t.Cleanup(func() { rdb.Close() })
				return newFixtureOn(t, rdb, fmt.Sprintf("t%d:", time.Now().UnixNano()), 1).env()
			})
		})
	}
}

// Without the right credentials or certificates the adapter's operations
// fail with Redis's reason, and never reach the ledger.
func TestRedisInventoryRefusedWithoutCredentials(t *testing.T) {
	t.Parallel()
	pw := testenv.StartRedis(t, testenv.RedisOptions{RequirePass: "pw-default", Users: []string{"mercato on >secret ~* +@all"}})
	tlsOnly := testenv.StartRedis(t, testenv.RedisOptions{TLS: true, TLSClientAuth: true})
	noClientCert := tlsOnly.ClientTLS(t)
	noClientCert.Certificates = nil
	tests := []struct {
		name string
		opts *redis.Options
		want string
	}{
		{"no password", &redis.Options{Addr: pw.Addr}, "NOAUTH"},
		{"wrong password", &redis.Options{Addr: pw.Addr, Password: "nope"}, "WRONGPASS"},
		{"wrong user password", &redis.Options{Addr: pw.Addr, Username: "mercato", Password: "nope"}, "WRONGPASS"},
		{"plaintext to a TLS port", &redis.Options{Addr: tlsOnly.Addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second}, ""},
		{"TLS without a client certificate", &redis.Options{Addr: tlsOnly.Addr, MaxRetries: -1, TLSConfig: noClientCert}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rdb := redis.NewClient(tt.opts)
			t.Cleanup(func() { rdb.Close() })
			f := newFixtureOn(t, rdb, "t:", 1)
			f.env().CreateSKU(t, "A", 10, 0)
			err := f.store.Reserve(context.Background(), "r1", []inventory.Item{{SKU: "A", Qty: 1}}, time.Minute)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Reserve = %v, want a refusal mentioning %q", err, tt.want)
			}
			if tt.want != "" && !redis.IsAuthError(err) {
				t.Errorf("Reserve = %v: not recognisable as an authentication error", err)
			}
			if errors.Is(err, inventory.ErrInsufficientStock) {
				t.Fatal("a connection failure looks like a stock shortage")
			}
			if l, _ := f.store.Levels(context.Background(), "A"); l.Reserved != 0 {
				t.Fatalf("ledger holds %d after Redis refused", l.Reserved)
			}
		})
	}
}

// The inventory contract holds on a 3-node Redis Cluster: every script's
// keys share one slot (no CROSSSLOT), with shards spread over the nodes and
// a prefix with a stray brace.
func TestRedisInventoryContractOnCluster(t *testing.T) {
	t.Parallel()
	addrs := testenv.RedisCluster(t, 3)
	for _, shards := range []int{1, 16} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			t.Parallel()
			inventorytest.Run(t, func(t *testing.T) inventorytest.Env {
				rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
				t.Cleanup(func() { rdb.Close() })
				return newFixtureOn(t, rdb, fmt.Sprintf("t{%d:", time.Now().UnixNano()), shards).env()
			})
		})
	}
	// Reconcile pipelines reads of keys on every node.
	t.Run("reconcile", func(t *testing.T) {
		t.Parallel()
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		t.Cleanup(func() { rdb.Close() })
		f := newFixtureOn(t, rdb, fmt.Sprintf("r%d:", time.Now().UnixNano()), 16)
		ctx := context.Background()
		for i := range 40 {
			sku := fmt.Sprintf("K-%02d", i)
			f.env().CreateSKU(t, sku, 10, 0)
			if err := f.store.Load(ctx, sku); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.rdb.HSet(ctx, f.store.CounterKey("K-07"), "on_hand", 3).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := f.store.Reconcile(ctx, true)
		if err != nil || len(got) != 1 || got[0].SKU != "K-07" {
			t.Fatalf("reconcile = %+v, %v; want K-07 only", got, err)
		}
	})
}

package app_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/testenv"
)

func redisSection(t *testing.T, change func(c *config.RedisConfig)) config.RedisConfig {
	t.Helper()
	var c config.Config
	c.RegisterFlags(flag.NewFlagSet("test", flag.ContinueOnError))
	change(&c.Redis)
	if err := c.Redis.Validate(); err != nil {
		t.Fatalf("section invalid: %v", err)
	}
	return c.Redis
}

func secretFile(t *testing.T, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The --redis-* settings reach secured servers and a cluster, each with
// the client kind its mode needs.
func TestRedisClientFromSettings(t *testing.T) {
	t.Parallel()
	acl := testenv.StartRedis(t, testenv.RedisOptions{RequirePass: "pw-default", Users: []string{"mercato on >s3cret ~* +@all"}})
	mtls := testenv.StartRedis(t, testenv.RedisOptions{TLS: true, TLSClientAuth: true})
	type clientCase struct {
		name   string
		change func(c *config.RedisConfig)
		kind   any
	}
	tests := []clientCase{
		{"password file", func(c *config.RedisConfig) { c.Addr, c.PasswordFile = acl.Addr, secretFile(t, "pw-default") }, &redis.Client{}},
		{"acl user", func(c *config.RedisConfig) { c.Addr, c.Username, c.Password, c.DB = acl.Addr, "mercato", "s3cret", 3 }, &redis.Client{}},
		{"mutual tls", func(c *config.RedisConfig) {
			c.Addr, c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile = mtls.Addr, mtls.CAFile, mtls.ClientCertFile, mtls.ClientKeyFile
		}, &redis.Client{}},
		{"tls server name", func(c *config.RedisConfig) {
			c.Addr, c.TLSServerName = mtls.Addr, "localhost"
			c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile = mtls.CAFile, mtls.ClientCertFile, mtls.ClientKeyFile
		}, &redis.Client{}},
	}
	addrs := testenv.RedisCluster(t, 3)
	tests = append(tests, clientCase{"cluster", func(c *config.RedisConfig) { c.ClusterAddrs = strings.Join(addrs, ",") }, &redis.ClusterClient{}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := redisSection(t, tt.change)
			rdb, err := app.NewRedisClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			if got, want := fmt.Sprintf("%T", rdb), fmt.Sprintf("%T", tt.kind); got != want {
				t.Errorf("client is a %s, want a %s", got, want)
			}
			if err := app.PingRedis(context.Background(), rdb, cfg); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Sentinel settings build a failover client that finds the primary
// through a real Sentinel, with the data and Sentinel passwords from their
// settings, and follows it when the Sentinel promotes the replica.
func TestRedisThroughSentinelFollowsAFailover(t *testing.T) {
	t.Parallel()
	set := testenv.RedisSentinel(t, testenv.SentinelOptions{Password: "pw-data", SentinelPassword: "pw-sentinel"})
	through := func(sentinelPassword string) config.RedisConfig {
		return redisSection(t, func(c *config.RedisConfig) {
			c.SentinelMaster, c.SentinelAddrs = set.Master, set.Addr
			c.SentinelPasswordFile, c.PasswordFile = secretFile(t, sentinelPassword), secretFile(t, "pw-data")
		})
	}
	cfg := through("pw-sentinel")
	rdb, err := app.NewRedisClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	if err := app.PingRedis(ctx, rdb, cfg); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// The write is on the replica before it is promoted.
	if n, err := rdb.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT = %d, %v", n, err)
	}
	set.Failover(t)
	// Until the old primary is told it is a replica, a write may still land
	// there and be lost (Redis replicates asynchronously; Mercato's ledger,
	// not Redis, is the record): the client must end up on the new one.
	promoted := redis.NewClient(&redis.Options{Addr: set.Replica.Addr, Password: "pw-data"})
	defer promoted.Close()
	attempt := 0
	testenv.WaitFor(t, "a write through the Sentinel to reach the new primary", func() bool {
		attempt++
		v := strconv.Itoa(attempt)
		if rdb.Set(ctx, "after", v, 0).Err() != nil {
			return false
		}
		got, err := promoted.Get(ctx, "after").Result()
		return err == nil && got == v
	})
	if got, err := promoted.Get(ctx, "before").Result(); err != nil || got != "1" {
		t.Errorf("the write made before the failover, on the promoted replica = %q, %v", got, err)
	}
	if role, err := promoted.Do(ctx, "ROLE").Slice(); err != nil || len(role) == 0 || role[0] != "master" {
		t.Errorf("the replica's role after the failover = %v, %v", role, err)
	}
	// A wrong Sentinel password fails clearly and never shows itself.
	bad := through("not-the-sentinel-pw")
	brdb, err := app.NewRedisClient(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer brdb.Close()
	err = app.PingRedis(ctx, brdb, bad)
	if err == nil || strings.Contains(err.Error(), "not-the-sentinel-pw") {
		t.Fatalf("wrong Sentinel password: %v", err)
	}
}

// Wrong credentials, a missing client certificate or the wrong server name
// fail the connection with a message that says what to check and never
// shows the password.
func TestRedisConnectionErrorsAreClear(t *testing.T) {
	t.Parallel()
	acl := testenv.StartRedis(t, testenv.RedisOptions{RequirePass: "pw-default", Users: []string{"mercato on >s3cret ~* +@all"}})
	mtls := testenv.StartRedis(t, testenv.RedisOptions{TLS: true, TLSClientAuth: true})
	const wrong = "not-the-password-42"
	tests := []struct {
		name   string
		change func(c *config.RedisConfig)
		auth   bool
		want   string
	}{
		{"wrong password", func(c *config.RedisConfig) { c.Addr, c.Password = acl.Addr, wrong }, true, "--redis-password"},
		{"wrong user password", func(c *config.RedisConfig) {
			c.Addr, c.Username, c.PasswordFile = acl.Addr, "mercato", secretFile(t, wrong)
		}, true, "WRONGPASS"},
		{"no password", func(c *config.RedisConfig) { c.Addr = acl.Addr }, true, "NOAUTH"},
		{"wrong server name", func(c *config.RedisConfig) {
			c.Addr, c.TLSServerName = mtls.Addr, "redis.invalid"
			c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile = mtls.CAFile, mtls.ClientCertFile, mtls.ClientKeyFile
		}, false, "certificate is valid for"},
		{"unknown CA", func(c *config.RedisConfig) {
			c.Addr, c.TLSCertFile, c.TLSKeyFile = mtls.Addr, mtls.ClientCertFile, mtls.ClientKeyFile
		}, false, "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := redisSection(t, tt.change)
			rdb, err := app.NewRedisClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			err = app.PingRedis(context.Background(), rdb, cfg)
			if err == nil {
				t.Fatal("connected anyway")
			}
			msg := err.Error()
			if errors.Is(err, app.ErrRedisAuth) != tt.auth || !strings.Contains(msg, tt.want) || !strings.Contains(msg, cfg.Addr) {
				t.Errorf("error %q: want ErrRedisAuth=%v, naming %s and mentioning %q", msg, tt.auth, cfg.Addr, tt.want)
			}
			if strings.Contains(msg, wrong) {
				t.Errorf("error shows the password: %s", msg)
			}
		})
	}
}

// Unusable secret and certificate files fail at build time, naming the
// flag and never the content.
func TestRedisClientFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	notPEM := filepath.Join(dir, "ca.txt")
	for _, f := range []struct{ path, body string }{{empty, "\n"}, {notPEM, "hunter2"}} {
		if err := os.WriteFile(f.path, []byte(f.body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name   string
		change func(c *config.RedisConfig)
		want   string
	}{
		{"empty password file", func(c *config.RedisConfig) { c.Addr, c.PasswordFile = "127.0.0.1:1", empty }, "--redis-password-file: secret file " + empty + " is empty"},
		{"empty sentinel password file", func(c *config.RedisConfig) {
			c.SentinelMaster, c.SentinelAddrs, c.SentinelPasswordFile = "m", "127.0.0.1:1", empty
		}, "--redis-sentinel-password-file"},
		{"CA file without PEM", func(c *config.RedisConfig) { c.Addr, c.TLSCAFile = "127.0.0.1:1", notPEM }, "--redis-tls-ca-file " + notPEM + " holds no PEM certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := app.NewRedisClient(redisSection(t, tt.change))
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("NewRedisClient = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

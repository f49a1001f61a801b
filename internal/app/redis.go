package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mercato-platform/mercato/internal/adapters/redisinv"
	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/config"
)

// ErrRedisAuth: Redis refused the configured credentials, or the ACL user
// may not run what Mercato needs.
var ErrRedisAuth = errors.New("credentials refused by Redis")

// NewRedisClient builds the client the --redis-* settings describe: one
// server, the primary Sentinel names, or a Redis Cluster, each with the
// same authentication and TLS. It reads the password and certificate files
// now, so a wrong path fails at start rather than at the first command; it
// does not connect. Errors name flags and files, never a password.
func NewRedisClient(cfg config.RedisConfig) (redis.UniversalClient, error) {
	password := cfg.Password
	if cfg.PasswordFile != "" {
		p, err := readSecret(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("--redis-password-file: %w", err)
		}
		password = p
	}
	var tc *tls.Config
	if cfg.TLSEnabled() {
		var err error
		if tc, err = redisTLS(cfg); err != nil {
			return nil, err
		}
	}
	switch cfg.Mode() {
	case config.RedisSingle:
		return redis.NewClient(&redis.Options{
			Addr: cfg.Addr, Username: cfg.Username, Password: password, DB: cfg.DB, TLSConfig: tc,
		}), nil
	case config.RedisSentinel:
		var sentinelPassword string
		if cfg.SentinelPasswordFile != "" {
			p, err := readSecret(cfg.SentinelPasswordFile)
			if err != nil {
				return nil, fmt.Errorf("--redis-sentinel-password-file: %w", err)
			}
			sentinelPassword = p
		}
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: cfg.SentinelMaster, SentinelAddrs: cfg.SentinelAddrList(), SentinelPassword: sentinelPassword,
			Username: cfg.Username, Password: password, DB: cfg.DB, TLSConfig: tc,
		}), nil
	case config.RedisCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: cfg.ClusterAddrList(), Username: cfg.Username, Password: password, TLSConfig: tc,
		}), nil
	}
	return nil, fmt.Errorf("%w: no Redis configured (--redis-addr, --redis-sentinel-master or --redis-cluster-addrs)", config.ErrInvalid)
}

// readSecret reads a one-line secret file; the trailing newline editors
// and `echo` leave is not part of it.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading secret file: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return s, nil
}

func redisTLS(cfg config.RedisConfig) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         cfg.TLSServerName,
		InsecureSkipVerify: cfg.TLSInsecureSkipVerify, //nolint:gosec // documented as tests-only
	}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading --redis-tls-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--redis-tls-ca-file %s holds no PEM certificate", cfg.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return nil, errors.New("--redis-tls-cert-file and --redis-tls-key-file go together: set both or neither")
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading Redis TLS client certificate %s and key %s: %w", cfg.TLSCertFile, cfg.TLSKeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// PingRedis checks that Redis answers with the configured credentials;
// a refusal of them wraps ErrRedisAuth and names the flags to check.
func PingRedis(ctx context.Context, rdb redis.UniversalClient, cfg config.RedisConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := rdb.Ping(ctx).Err()
	switch {
	case err == nil:
		return nil
	case redis.IsAuthError(err) || redis.IsPermissionError(err):
		return fmt.Errorf("connecting to Redis at %s: %w (check --redis-username and --redis-password or --redis-password-file): %w", cfg.Endpoint(), ErrRedisAuth, err)
	}
	return fmt.Errorf("connecting to Redis at %s: %w", cfg.Endpoint(), err)
}

// OpenRedisInventory connects to the configured Redis and builds the Redis
// inventory over the system of record's ledger.
func OpenRedisInventory(ctx context.Context, cfg config.Config, ledger *sqlstore.Store, log *slog.Logger) (redis.UniversalClient, *redisinv.Store, error) {
	rdb, err := NewRedisClient(cfg.Redis)
	if err != nil {
		return nil, nil, fmt.Errorf("configuring Redis: %w", err)
	}
	if err := PingRedis(ctx, rdb, cfg.Redis); err != nil {
		rdb.Close()
		return nil, nil, err
	}
	// The orders live in the ledger's database: checkout writes a
	// reservation and its order in one transaction.
	return rdb, redisinv.New(rdb, ledger, redisinv.Options{Prefix: redisPrefix(cfg), Shards: cfg.Redis.Shards, Logger: log, Orders: ledger}), nil
}

package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/config"
)

// dependencyTimeout bounds each start-up check.
const dependencyTimeout = 5 * time.Second

// DependencyError is an external service the configuration names that the
// process cannot use: its Error is one line, "kafka 127.0.0.1:9092:
// connection refused", naming the service, its address (never credentials)
// and what failed.
type DependencyError struct {
	Service string // kafka, postgres, redis or elasticsearch
	Addr    string
	Reason  string
}

func (e *DependencyError) Error() string { return e.Service + " " + e.Addr + ": " + e.Reason }

// dependency is one start-up check.
type dependency struct {
	service, addr string
	check         func(ctx context.Context) string // what failed, "" when usable
}

// checkDependencies checks, all at once, every external service the
// process would open for targets (the modules New builds), and returns one
// DependencyError per service it cannot use, joined, in the order the
// configuration names them; nil when all are usable. Checking before any
// module starts reports every broken service in one go, instead of the
// first one a module happens to open.
func (a *App) checkDependencies(ctx context.Context, targets []string) error {
	order, err := a.mods.order(targets...)
	if err != nil {
		return err
	}
	deps := dependencies(a.cfg, slices.Contains(order, modStore), slices.Contains(order, modStock), slices.Contains(order, modReviewIndex))
	failures := make([]error, len(deps))
	var wg sync.WaitGroup
	for i, d := range deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, dependencyTimeout)
			defer cancel()
			if why := d.check(cctx); why != "" {
				failures[i] = &DependencyError{Service: d.service, Addr: d.addr, Reason: why}
			}
		}()
	}
	wg.Wait()
	return errors.Join(failures...)
}

// dependencies lists the external services cfg names that the process
// opens: Kafka seed brokers, a PostgreSQL system of record and Redis when
// its roles keep stock, and Elasticsearch when it searches reviews. The
// embedded engines are not checked: the process starts them itself.
func dependencies(cfg config.Config, store, stock, search bool) []dependency {
	var deps []dependency
	for _, b := range cfg.Kafka.SeedBrokers() {
		deps = append(deps, dependency{"kafka", b, kafkaCheck(cfg, b)})
	}
	if kind, dsn, err := config.ParseDB(cfg.DBOrDefault()); store && err == nil && kind == config.DBPostgres {
		deps = append(deps, postgresDependency(dsn))
	}
	if stock && cfg.Redis.Enabled() {
		deps = append(deps, redisDependency(cfg.Redis))
	}
	if search && cfg.Search.ElasticsearchURL != "" {
		for _, raw := range strings.Split(cfg.Search.ElasticsearchURL, ",") {
			deps = append(deps, elasticsearchDependency(strings.TrimSpace(raw), cfg.Search.ElasticsearchAPIKey))
		}
	}
	return deps
}

// dialCheck checks that addr accepts TCP connections.
func dialCheck(addr string) func(ctx context.Context) string {
	return func(ctx context.Context) string {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return reason(err)
		}
		_ = conn.Close()
		return ""
	}
}

// kafkaCheck connects to one seed broker. With TLS or SASL configured it
// then logs in and asks for metadata, so a refused certificate or wrong
// credentials are reported at start as well as an unreachable broker.
func kafkaCheck(cfg config.Config, seed string) func(ctx context.Context) string {
	dial := dialCheck(seed)
	return func(ctx context.Context) string {
		if why := dial(ctx); why != "" {
			return why
		}
		if !cfg.Kafka.TLSEnabled() && cfg.Kafka.SASLMechanism == "" {
			return ""
		}
		o, err := BusOptions(cfg, []string{seed})
		if err != nil {
			return err.Error()
		}
		c, err := bus.NewClient(o)
		if err != nil {
			return err.Error()
		}
		defer c.Close()
		if err := c.Ping(ctx); err != nil {
			return strings.TrimPrefix(err.Error(), "pinging Kafka: ")
		}
		return ""
	}
}

// redisDependency pings Redis as the inventory will reach it: the address,
// a Sentinel's master or a Cluster's nodes, with the configured ACL user,
// password and TLS, so wrong credentials are reported at start too.
func redisDependency(rc config.RedisConfig) dependency {
	endpoint := rc.Endpoint()
	return dependency{"redis", endpoint, func(ctx context.Context) string {
		if rc.Mode() != config.RedisSentinel && rc.Mode() != config.RedisCluster {
			if why := dialCheck(rc.Addr)(ctx); why != "" {
				return why
			}
		}
		rdb, err := NewRedisClient(rc)
		if err != nil {
			return err.Error()
		}
		defer rdb.Close()
		if err := PingRedis(ctx, rdb, rc); err != nil {
			return strings.TrimPrefix(err.Error(), "connecting to Redis at "+endpoint+": ")
		}
		return ""
	}}
}

// postgresDependency connects and authenticates with the DSN, so a wrong
// password or database is reported as well as an unreachable server.
func postgresDependency(dsn string) dependency {
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return dependency{"postgres", config.Redacted(dsn), func(context.Context) string { return "the connection URL cannot be parsed" }}
	}
	addr := net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port)))
	return dependency{"postgres", addr, func(ctx context.Context) string {
		conn, err := pgconn.ConnectConfig(ctx, pc)
		if err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) {
				return pgErr.Message + " (SQLSTATE " + pgErr.Code + ")"
			}
			return scrub(reason(err), pc.Password)
		}
		_ = conn.Close(ctx)
		return ""
	}}
}

// elasticsearchDependency asks the cluster for its root document with the
// configured API key, so a rejected key is reported as well as an
// unreachable node.
func elasticsearchDependency(raw, apiKey string) dependency {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return dependency{"elasticsearch", "(invalid URL)", func(context.Context) string { return "not an http(s) URL" }}
	}
	addr := u.Scheme + "://" + u.Host // without credentials or path
	return dependency{"elasticsearch", addr, func(ctx context.Context) string {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return "not an http(s) URL"
		}
		if apiKey != "" {
			req.Header.Set("Authorization", "ApiKey "+apiKey)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return scrub(reason(err), apiKey)
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return "HTTP " + resp.Status + " (check --elasticsearch-api-key)"
		case resp.StatusCode >= 400:
			return "HTTP " + resp.Status
		}
		return ""
	}}
}

// reason is what failed, in the words of the operating system where there
// are some: "connection refused", "no such host", "no answer within 5s".
func reason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if dns.IsNotFound {
			return "no such host " + dns.Name
		}
		return dns.Err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", dependencyTimeout)
	}
	return err.Error()
}

// scrub removes a secret from a message, in case a driver quoted it.
func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "xxxxx")
}

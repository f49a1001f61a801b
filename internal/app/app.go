package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/adapters/bleveindex"
	"github.com/mercato-platform/mercato/internal/adapters/esindex"
	"github.com/mercato-platform/mercato/internal/adapters/rediscache"
	"github.com/mercato-platform/mercato/internal/adapters/redisinv"
	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/httpapi"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/outbox"
	"github.com/mercato-platform/mercato/internal/payments"
	"github.com/mercato-platform/mercato/internal/prices"
	"github.com/mercato-platform/mercato/internal/pricing"
	"github.com/mercato-platform/mercato/internal/replenishment"
	"github.com/mercato-platform/mercato/internal/reports"
	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/internal/sentiment"
)

// App is one Mercato process.
type App struct {
	cfg        config.Config
	log        *slog.Logger
	roles      []string
	adminToken string
	reg        *prometheus.Registry

	broker *bus.EmbeddedBroker
	bus    *bus.Client
	store  *sqlstore.Store
	redis  *redis.Client
	search reviews.Index
	engine io.Closer // report engine

	runners []*runner

	httpLn  net.Listener
	httpSrv *http.Server
	api     *httpapi.Server
}

// runner is one long-running loop of a role.
type runner struct {
	name string
	run  func(ctx context.Context) error
	up   atomic.Bool // true while run is running
}

// Version is the build's version, set by main.
var Version = "dev"

// New builds every component the configured roles need and binds the
// listeners, so a taken port fails here rather than after start. Errors
// wrapping config.ErrInvalid are the operator's to fix (exit 2).
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if a.roles, err = cfg.RoleList(); err != nil {
		return nil, fmt.Errorf("%w: %v", config.ErrInvalid, err)
	}
	if err := PrepareDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if a.adminToken, err = AdminToken(cfg.DataDir, cfg.AdminToken, log); err != nil {
		return nil, err
	}

	brokers := cfg.Brokers()
	if len(brokers) == 0 {
		if a.broker, err = StartBroker(cfg); err != nil {
			return nil, err
		}
		brokers = []string{a.broker.Addr()}
		log.Info("embedded Kafka broker listening", "addr", a.broker.Addr())
	}
	busMetrics := bus.NewMetrics(a.reg)
	if a.bus, err = bus.NewClient(bus.Options{Brokers: brokers, Prefix: cfg.TopicPrefix, ClientID: "mercato", Logger: log, Metrics: busMetrics}); err != nil {
		return nil, err
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := a.bus.EnsureTopics(tctx, event.Topics(), cfg.Partitions); err != nil {
		return nil, fmt.Errorf("preparing topics on %s: %w", strings.Join(brokers, ","), err)
	}

	if a.store, err = OpenStore(ctx, cfg); err != nil {
		return nil, err
	}
	if err := a.store.WriterPriority(); errors.Is(err, errors.ErrUnsupported) {
		log.Debug("SQLite writer runs at the process's priority", "reason", err)
	} else if err != nil {
		log.Info("SQLite writer runs at the process's priority", "reason", err)
	}
	var stock inventory.Store = a.store
	var stockCache catalog.StockCache
	if cfg.RedisAddr != "" {
		var rs *redisinv.Store
		if a.redis, rs, err = OpenRedisInventory(ctx, cfg, a.store, log); err != nil {
			return nil, err
		}
		stock, stockCache = rs, rs
	}

	notify := func() {}
	if a.has(config.RoleOutboxRelay) {
		relay := outbox.NewRelay(a.store, a.bus, outbox.Options{
			Batch: cfg.OutboxBatch, PollInterval: cfg.OutboxPollInterval, Logger: log, Registerer: a.reg,
		})
		notify = relay.Notify
		a.runners = append(a.runners, &runner{name: "outbox-relay", run: relay.Run})
	}
	inv := inventory.NewService(stock, a.store, notify, log)

	var poCache replenishment.StatusCache
	if a.redis != nil {
		poCache = rediscache.NewPOStatus(a.redis, redisPrefix(cfg), 0)
	}
	replen := replenishment.NewService(a.store, a.store, stock, replenishment.Options{
		StatusCache: poCache,
		Prior:       replenishment.Prior{Daily: cfg.PriorDailyDemand, StdDev: math.Sqrt(cfg.PriorDailyDemand), MinDays: 7},
		HoldingRate: cfg.HoldingRate, Horizon: cfg.DemandHorizon, Urgent: replenishment.UrgentRule{Limit: cfg.UrgentLimit},
		Logger: log, Committed: notify,
	})
	if a.has(config.RoleReplenishment) {
		cons, err := a.bus.NewConsumer(bus.ConsumerOptions{
			Group: "replenishment", Topics: []string{event.TopicPurchases, event.TopicInventory},
			Handler: func(ctx context.Context, env event.Envelope, rec *kgo.Record) error {
				return replen.Dispatch(ctx, strings.TrimPrefix(rec.Topic, cfg.TopicPrefix), env)
			},
		})
		if err != nil {
			return nil, err
		}
		a.runners = append(a.runners, &runner{name: "replenishment", run: cons.Run})
		if cfg.SimulatedSupplier {
			supplier := replenishment.NewSupplier(replen, cfg.SupplierTimeScale)
			a.runners = append(a.runners, &runner{name: "simulated-supplier", run: func(ctx context.Context) error {
				return supplier.Run(ctx, time.Second)
			}})
		}
	}

	if a.has(config.RolePricing) {
		if err := a.bus.EnsureTopics(tctx, pricing.Topics(), cfg.Partitions); err != nil {
			return nil, fmt.Errorf("preparing pricing topics: %w", err)
		}
		pc := pricing.DefaultConfig()
		pc.Window, pc.Slide = cfg.PricingWindow, cfg.PricingSlide
		proc, err := pricing.NewProcessor(pricing.ProcessorOptions{
			Client: a.bus, Config: pc, Fallback: pricing.DefaultRule(), InstanceID: cfg.PricingInstanceID, Logger: log,
			IdleTick: pc.IdleTimeout / 2,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %v", config.ErrInvalid, err)
		}
		a.runners = append(a.runners, &runner{name: "pricing", run: proc.Run})
	}

	if a.has(config.RoleInventoryAlerts) {
		r, err := a.alertsRunner()
		if err != nil {
			return nil, err
		}
		a.runners = append(a.runners, r)
	}

	var revs *reviews.Service
	if a.has(config.RoleAPI) || a.has(config.RoleReviews) {
		if a.search, err = OpenReviewIndex(ctx, cfg); err != nil {
			return nil, err
		}
		classifier := sync.OnceValues(func() (reviews.Classifier, error) { return sentiment.Default() })
		revs = reviews.NewService(a.store, a.store, reviewOrders{a.store}, classifier, a.search, reviews.Options{Committed: notify, Logger: log})
		// Load the model and the Korean dictionary now, not on the first review.
		go func() {
			if _, err := classifier(); err != nil {
				log.Error("loading the sentiment model", "err", err)
			}
		}()
	}
	if a.has(config.RoleReviews) {
		cons, err := a.bus.NewConsumer(bus.ConsumerOptions{
			Group: "reviews", Topics: []string{event.TopicReviews},
			Handler: func(ctx context.Context, env event.Envelope, _ *kgo.Record) error {
				return revs.IndexEvents(ctx, []event.Envelope{env})
			},
		})
		if err != nil {
			return nil, err
		}
		a.runners = append(a.runners, &runner{name: "reviews", run: cons.Run})
	}

	if a.has(config.RoleLakeSink) {
		r, err := a.lakeSinkRunner()
		if err != nil {
			return nil, err
		}
		a.runners = append(a.runners, r)
	}

	var reportRunner *reports.Runner
	if a.has(config.RoleAPI) || a.has(config.RoleReports) {
		engine, err := OpenReportEngine(ctx, cfg)
		if err != nil {
			return nil, err
		}
		a.engine = engine
		reportRunner = NewReportRunner(cfg, engine, a.store, log)
	}
	if a.has(config.RoleReports) {
		sched, err := NewReportScheduler(cfg, reportRunner, log)
		if err != nil {
			return nil, err
		}
		a.runners = append(a.runners, &runner{name: "reports", run: sched.Run})
	}

	if a.has(config.RoleAPI) {
		a.runners = append(a.runners, &runner{name: "housekeeping", run: func(ctx context.Context) error {
			return a.store.RunHousekeeping(ctx, 10*time.Minute)
		}})
		gateway := payments.NewSimulated(payments.SimulatedOptions{
			SlowDelay: cfg.PaymentSlowDelay, Latency: cfg.PaymentLatency, DeclineRate: cfg.PaymentDeclineRate, Seed: uint64(time.Now().UnixNano()),
		})
		var mirror prices.Mirror
		if a.redis != nil {
			mirror = rediscache.NewPrices(a.redis, redisPrefix(cfg))
		}
		book := prices.NewBook(a.store, mirror, log)
		a.runners = append(a.runners, &runner{name: "price-feed", run: func(ctx context.Context) error {
			return book.Follow(ctx, brokers, a.bus.Topic(event.TopicPrices))
		}})
		checkout := orders.NewService(a.store, dynamicPrices{a.store, book}, stock, gateway, orders.Options{
			ReservationTTL: cfg.ReservationTTL, PaymentTimeout: cfg.PaymentTimeout, RecoverAfter: cfg.OrderRecoverAfter,
			Logger: log, Committed: notify,
		})
		a.runners = append(a.runners,
			&runner{name: "reservation-sweeper", run: func(ctx context.Context) error { return inv.RunSweeper(ctx, cfg.SweepInterval) }},
			&runner{name: "checkout-recovery", run: func(ctx context.Context) error { return checkout.RunRecovery(ctx, cfg.SweepInterval) }},
		)
		ready := []httpapi.ReadyCheck{
			{Name: "broker", Check: a.bus.Ping},
			{Name: "store", Check: a.store.Ping},
		}
		if a.redis != nil {
			ready = append(ready, httpapi.ReadyCheck{Name: "redis", Check: func(ctx context.Context) error { return a.redis.Ping(ctx).Err() }})
		}
		for _, r := range a.runners {
			ready = append(ready, httpapi.RunningCheck(r.name, r.up.Load))
		}
		products := catalog.NewService(a.store, nil, notify)
		if stockCache != nil {
			products.CacheStock(stockCache)
		}
		api := httpapi.New(httpapi.Options{
			AdminToken: a.adminToken,
			Catalog:    products,
			Inventory:  inv,
			Orders:     checkout,
			Purchasing: replen,
			Prices:     book,
			Rules:      rulePublisher{a.bus},
			Reviews:    revs,
			Reports:    reportRunner,
			// The lease outlives any checkout (payment timeout plus the saga's
			// writes), so only a request that died is taken over.
			Idempotency:      a.store,
			IdempotencyTTL:   cfg.IdempotencyTTL,
			IdempotencyLease: cfg.PaymentTimeout + 30*time.Second,
			Ready:            ready,
			Logger:           log,
			Registry:         a.reg,
			Version:          Version,
		})
		if a.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("HTTP API cannot listen on %s: %w", cfg.HTTPAddr, err)
		}
		a.api = api
		a.httpSrv = &http.Server{
			Handler:           api,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    httpapi.ServerMaxHeaderBytes, // the API refuses more than httpapi.MaxHeaderBytes itself, in JSON
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
	}
	return a, nil
}

// alertsRunner is the inventory-alerts role: it reads commerce.alerts,
// counts alerts by type and, when a webhook is configured, delivers each.
func (a *App) alertsRunner() (*runner, error) {
	count := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mercato_inventory_alerts_total", Help: "Stock alerts seen on commerce.alerts, by type.",
	}, []string{"type"})
	a.reg.MustRegister(count)
	var hook *inventory.Webhook
	if a.cfg.AlertWebhookURL != "" {
		hook = &inventory.Webhook{URL: a.cfg.AlertWebhookURL}
	}
	seen := newRecent(4096)
	cons, err := a.bus.NewConsumer(bus.ConsumerOptions{
		Group: "inventory-alerts", Topics: []string{event.TopicAlerts},
		Handler: func(ctx context.Context, env event.Envelope, _ *kgo.Record) error {
			if seen.has(env.ID) {
				return nil // redelivered after a restart: delivered already
			}
			var al inventory.Alert
			if err := env.DecodeData(&al); err != nil {
				return err
			}
			if hook != nil {
				if err := hook.Deliver(ctx, env); err != nil {
					var perm *inventory.PermanentError
					if errors.As(err, &perm) {
						return bus.Permanent(err)
					}
					return err
				}
			}
			seen.add(env.ID)
			count.WithLabelValues(al.Type).Inc()
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &runner{name: "inventory-alerts", run: cons.Run}, nil
}

// lakeSinkRunner is the lake-sink role: orders, purchases and payments into
// the Parquet lake, offsets committed only after the files are durable.
func (a *App) lakeSinkRunner() (*runner, error) {
	sink := lake.NewSink(lake.SinkOptions{Root: a.cfg.Lake(), Location: a.cfg.LakeLocation(), Logger: a.log})
	if err := sink.Init(); err != nil {
		return nil, fmt.Errorf("%w: %v", config.ErrInvalid, err)
	}
	for name, help := range map[string]string{
		"rows": "Rows written to the sales lake.", "files": "Parquet files written to the sales lake.",
		"covered": "Replayed records the lake already held (skipped).", "duplicates": "Records with an event id seen before (skipped).",
		"late": "Rows written into a day before the current one.",
	} {
		a.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mercato_lake_" + name + "_total", Help: help}, func() float64 {
			st := sink.Stats()
			return float64(map[string]int64{"rows": st.Rows, "files": st.Files, "covered": st.Covered, "duplicates": st.Duplicates, "late": st.Late}[name])
		}))
	}
	prefix := a.cfg.TopicPrefix
	cons, err := a.bus.NewConsumer(bus.ConsumerOptions{
		Group: "lake-sink", Topics: []string{event.TopicPurchases, event.TopicOrders, event.TopicPayments},
		FromStart: true,
		Handler: func(_ context.Context, env event.Envelope, rec *kgo.Record) error {
			err := sink.Add(strings.TrimPrefix(rec.Topic, prefix), rec.Partition, rec.Offset, env)
			if errors.Is(err, lake.ErrBadEvent) {
				return bus.Permanent(err)
			}
			return err
		},
		Flush: sink.Flush, FlushRecords: a.cfg.LakeFlushRecords, FlushEvery: a.cfg.LakeFlushInterval,
		OnAssigned: func(context.Context, map[string][]int32) { sink.Assigned() },
		Drop:       sink.Drop,
	})
	if err != nil {
		return nil, err
	}
	return &runner{name: "lake-sink", run: cons.Run}, nil
}

func (a *App) has(role string) bool { return slices.Contains(a.roles, role) }

// HTTPAddr is the API's bound address (useful with port 0).
func (a *App) HTTPAddr() string {
	if a.httpLn == nil {
		return ""
	}
	return a.httpLn.Addr().String()
}

// KafkaAddr is the seed broker the process uses.
func (a *App) KafkaAddr() string {
	if a.broker != nil {
		return a.broker.Addr()
	}
	return strings.Join(a.cfg.Brokers(), ",")
}

// AdminToken is the token admin calls must carry.
func (a *App) AdminToken() string { return a.adminToken }

// WriterPriority reports whether the SQLite writer got the nice value asked
// for (sqlstore.Store.WriterPriority).
func (a *App) WriterPriority() error { return a.store.WriterPriority() }

// Run serves until ctx is cancelled, then shuts down gracefully within the
// configured timeout. A role that fails stops the process.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}
	for _, r := range a.runners {
		wg.Add(1)
		r.up.Store(true)
		go func() {
			defer wg.Done()
			defer r.up.Store(false)
			if err := r.run(ctx); err != nil {
				fail(fmt.Errorf("%s: %w", r.name, err))
			}
		}()
	}
	if a.httpSrv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.httpSrv.Serve(a.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("HTTP API: %w", err))
			}
		}()
		a.log.Info("HTTP API listening", "addr", a.HTTPAddr(), "roles", strings.Join(a.roles, ","))
	}
	<-ctx.Done()
	sctx, scancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer scancel()
	if a.httpSrv != nil {
		if err := a.httpSrv.Shutdown(sctx); err != nil {
			a.log.Warn("HTTP shutdown", "err", err)
		}
		// Report runs started over the API are recorded as failed, not left running.
		if err := a.api.Shutdown(sctx); err != nil {
			a.log.Warn("API shutdown", "err", err)
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		a.log.Warn("roles did not stop within the shutdown timeout")
	}
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(errs...)
}

// Close releases everything New acquired.
func (a *App) Close() {
	if a.httpLn != nil && a.httpSrv == nil {
		a.httpLn.Close()
	}
	if a.redis != nil {
		a.redis.Close()
	}
	if a.search != nil {
		_ = a.search.Close()
	}
	if a.engine != nil {
		_ = a.engine.Close()
	}
	if a.store != nil {
		a.store.Close()
	}
	if a.bus != nil {
		a.bus.Close()
	}
	if a.broker != nil {
		a.broker.Close()
	}
}

// PrepareDataDir creates the data directory and checks it is writable.
func PrepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: data dir %s cannot be created: %v", config.ErrInvalid, dir, err)
	}
	probe, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return fmt.Errorf("%w: data dir %s is not writable: %v", config.ErrInvalid, dir, err)
	}
	probe.Close()
	_ = os.Remove(probe.Name())
	return nil
}

// AdminToken returns the configured token, or the one stored in
// <data-dir>/admin-token, or generates and stores a new one (mode 0600).
// The token itself is never logged.
func AdminToken(dataDir, configured string, log *slog.Logger) (string, error) {
	if configured != "" {
		return configured, nil
	}
	path := filepath.Join(dataDir, "admin-token")
	if b, err := os.ReadFile(path); err == nil {
		if tok := strings.TrimSpace(string(b)); len(tok) >= 16 {
			return tok, nil
		}
		return "", fmt.Errorf("%w: %s holds no usable token; delete it to generate a new one", config.ErrInvalid, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: reading %s: %v", config.ErrInvalid, path, err)
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generating admin token: %w", err)
	}
	tok := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("%w: writing %s: %v", config.ErrInvalid, path, err)
	}
	log.Info("generated admin token", "path", path)
	return tok, nil
}

// StartBroker starts the embedded broker in <data-dir>/kafka with synced
// writes, so acknowledged records survive kill -9.
func StartBroker(cfg config.Config) (*bus.EmbeddedBroker, error) {
	b, err := bus.StartEmbedded(bus.EmbeddedOptions{
		Listen:     cfg.KafkaListen,
		DataDir:    filepath.Join(cfg.DataDir, "kafka"),
		SyncWrites: true,
		Partitions: cfg.Partitions,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded Kafka broker: %w", err)
	}
	return b, nil
}

// startProcs is GOMAXPROCS as the process started.
var startProcs = runtime.GOMAXPROCS(0)

// SpareProcs gives the Go scheduler two Ps more than the process started
// with and reports the new GOMAXPROCS, unless GOMAXPROCS is set in the
// environment or cfg's system of record is not SQLite; calling it again
// changes nothing. It is for the process that runs the SQLite writer, and
// the commands that start the platform call it (a library leaves GOMAXPROCS
// alone). The writer's thread spends most of its time in SQLite's C code,
// and each time it returns to Go it needs a P, which with one P per core the
// HTTP and consumer goroutines hold. On 2 cores, checkout throughput rose
// with 3 Ps over 2 and with 4 over 3, and 6 measured the same as 4
// (BENCHMARKS.md). Once set, GOMAXPROCS no longer follows changes of the
// CPU quota or affinity.
func SpareProcs(cfg config.Config) (int, bool) {
	if kind, _, err := config.ParseDB(cfg.DBOrDefault()); err != nil || kind != "sqlite" || os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0), false
	}
	runtime.GOMAXPROCS(startProcs + 2)
	return startProcs + 2, true
}

// OpenStore opens the system of record named by --db.
func OpenStore(ctx context.Context, cfg config.Config) (*sqlstore.Store, error) {
	kind, dsn, err := config.ParseDB(cfg.DBOrDefault())
	if err != nil {
		return nil, fmt.Errorf("%w: --db: %v", config.ErrInvalid, err)
	}
	s, err := sqlstore.Open(ctx, kind, dsn, sqlstore.Options{
		SQLiteSynchronous: cfg.SQLiteSync, AlertHysteresis: cfg.AlertHysteresis, WriterNice: cfg.SQLiteNice,
	})
	if err != nil {
		return nil, fmt.Errorf("opening system of record %s: %w", config.Redacted(cfg.DBOrDefault()), err)
	}
	return s, nil
}

// OpenRedisInventory connects to --redis-addr and builds the Redis inventory
// over the system of record's ledger.
func OpenRedisInventory(ctx context.Context, cfg config.Config, ledger *sqlstore.Store, log *slog.Logger) (*redis.Client, *redisinv.Store, error) {
	rdb := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr})
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("connecting to Redis at %s: %w", cfg.RedisAddr, err)
	}
	return rdb, redisinv.New(rdb, ledger, redisinv.Options{Prefix: redisPrefix(cfg), Shards: cfg.RedisShards, Logger: log}), nil
}

// redisPrefix namespaces Redis keys like topics, so deployments can share a server.
func redisPrefix(cfg config.Config) string { return cfg.TopicPrefix + "mercato:" }

// dynamicPrices prices order lines at the SKU's current dynamic price, or
// its base price until the pricing role has priced it; the order service
// clamps either into the product's current bounds (orders.Quote.Charge).
type dynamicPrices struct {
	store *sqlstore.Store
	book  *prices.Book
}

func (p dynamicPrices) Quote(ctx context.Context, sku string) (orders.Quote, error) {
	q, err := p.store.ProductQuote(ctx, sku)
	if errors.Is(err, catalog.ErrNotFound) {
		return orders.Quote{}, fmt.Errorf("%w: %s", orders.ErrUnknownSKU, sku)
	}
	if err != nil {
		return orders.Quote{}, err
	}
	if rec, ok := p.book.Price(sku); ok {
		q.Price = rec.Price
	}
	return q, nil
}

// rulePublisher sends pricing rules on commerce.pricing-rules, keyed by
// category; every pricing instance reads all of them.
type rulePublisher struct{ bus *bus.Client }

func (p rulePublisher) PublishRule(ctx context.Context, rule pricing.Rule) error {
	env, err := event.New("pricing.rule", "mercato/api", rule.Category, time.Now(), rule)
	if err != nil {
		return err
	}
	return p.bus.Publish(ctx, event.Message{Topic: event.TopicPricingRules, Envelope: env})
}

// OpenReviewIndex opens review search: Elasticsearch when --elasticsearch-url
// is set (installing its index template), else a Bleve index in
// <data-dir>/reviews.bleve. A Bleve index belongs to one process, so with
// Bleve the api and reviews roles must run together.
func OpenReviewIndex(ctx context.Context, cfg config.Config) (reviews.Index, error) {
	if cfg.ElasticsearchURL == "" {
		idx, err := bleveindex.Open(filepath.Join(cfg.DataDir, "reviews.bleve"), bleveindex.Options{})
		if err != nil {
			return nil, fmt.Errorf("opening the review index: %w", err)
		}
		return idx, nil
	}
	var addrs []string
	for _, u := range strings.Split(cfg.ElasticsearchURL, ",") {
		addrs = append(addrs, strings.TrimSpace(u))
	}
	es, err := esindex.New(esindex.Config{Addresses: addrs, Index: cfg.ElasticsearchIndex, APIKey: cfg.ElasticsearchAPIKey, Dims: reviews.Dims})
	if err != nil {
		return nil, fmt.Errorf("%w: elasticsearch: %v", config.ErrInvalid, err)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := es.EnsureTemplate(tctx); err != nil {
		_ = es.Close()
		return nil, fmt.Errorf("preparing the Elasticsearch index: %w", err)
	}
	return es, nil
}

package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mercato-platform/mercato/internal/adapters/rediscache"
	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/dedup"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/httpapi"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/livefeed"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/outbox"
	"github.com/mercato-platform/mercato/internal/payments"
	"github.com/mercato-platform/mercato/internal/pricing"
	"github.com/mercato-platform/mercato/internal/pricing/pricebook"
	"github.com/mercato-platform/mercato/internal/pricing/stream"
	"github.com/mercato-platform/mercato/internal/replenishment"
	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/internal/sentiment"
)

// The modules roles share. The roles themselves are modules named as in
// --roles (config.RoleAPI, ...).
const (
	modDataDir       = "data-dir"       // the data dir and the admin token
	modBroker        = "broker"         // the embedded Kafka broker, unless --kafka-brokers is set
	modBus           = "bus"            // the Kafka client and Mercato's topics
	modStore         = "store"          // the system of record
	modStock         = "stock"          // Redis inventory counters when --redis-addr is set, else the store
	modInventory     = "inventory"      // the inventory service
	modPurchasing    = "purchasing"     // the replenishment service: demand, purchase orders
	modPriceBook     = "price-book"     // current prices, following commerce.prices
	modCheckout      = "checkout"       // the order service and its payment gateway
	modReviewIndex   = "review-index"   // review search: Bleve or Elasticsearch
	modReviewService = "review-service" // reviews and their sentiment
	modReportRunner  = "report-runner"  // the report engine and the runs it records
	modOps           = "ops"            // a worker process's /healthz, /readyz and /metrics
)

// moduleTable is every module a process can build: the roles and what they
// are built on.
func (a *App) moduleTable() map[string]module {
	// /readyz watches every loop the process runs, so the API is built
	// after the process's other roles.
	apiDeps := []string{modBus, modStore, modStock, modInventory, modPurchasing, modPriceBook, modCheckout, modReviewService, modReportRunner}
	// A process of Kafka-only roles (pricing, inventory-alerts, lake-sink)
	// opens no database and no Redis.
	opsDeps := []string{modBus}
	if config.NeedsStore(a.roles) {
		opsDeps = append(opsDeps, modStore, modStock)
	}
	for _, r := range a.roles {
		if r != config.RoleAPI {
			apiDeps = append(apiDeps, r)
			opsDeps = append(opsDeps, r)
		}
	}
	return map[string]module{
		modDataDir:       {init: a.initDataDir},
		modBroker:        {deps: []string{modDataDir}, init: a.initBroker, stop: a.stopBroker},
		modBus:           {deps: []string{modBroker}, init: a.initBus, stop: func() { a.bus.Close() }},
		modStore:         {deps: []string{modDataDir}, init: a.initStore, stop: func() { a.store.Close() }},
		modStock:         {deps: []string{modStore}, init: a.initStock, stop: a.stopStock},
		modInventory:     {deps: []string{modStore, modStock}, init: a.initInventory},
		modPurchasing:    {deps: []string{modStore, modStock}, init: a.initPurchasing},
		modPriceBook:     {deps: []string{modStore, modStock, modBus}, init: a.initPriceBook},
		modCheckout:      {deps: []string{modStore, modStock, modPriceBook}, init: a.initCheckout},
		modReviewIndex:   {deps: []string{modDataDir}, init: a.initReviewIndex, stop: func() { _ = a.search.Close() }},
		modReviewService: {deps: []string{modStore, modReviewIndex}, init: a.initReviewService},
		modReportRunner:  {deps: []string{modDataDir, modStore}, init: a.initReportRunner, stop: func() { _ = a.engine.Close() }},

		config.RoleOutboxRelay:     {deps: []string{modStore, modBus}, init: a.initOutboxRelay},
		config.RoleReplenishment:   {deps: []string{modBus, modPurchasing}, init: a.initReplenishment},
		config.RolePricing:         {deps: []string{modBus}, init: a.initPricing},
		config.RoleInventoryAlerts: {deps: []string{modBus}, init: a.initInventoryAlerts},
		config.RoleReviews:         {deps: []string{modBus, modReviewService}, init: a.initReviews},
		config.RoleLakeSink:        {deps: []string{modDataDir, modBus}, init: a.initLakeSink},
		config.RoleReports:         {deps: []string{modReportRunner}, init: a.initReports},
		config.RoleAPI:             {deps: apiDeps, init: a.initAPI, stop: a.stopAPI},
		modOps:                     {deps: opsDeps, init: a.initOps, stop: a.stopAPI},
	}
}

func (a *App) addRunner(name string, run func(ctx context.Context) error) {
	a.runners = append(a.runners, &runner{name: name, run: run})
}

// committed wakes the outbox relay after a commit that wrote outbox rows,
// when this process runs the relay; a relay elsewhere finds them by polling.
func (a *App) committed() {
	if a.relay != nil {
		a.relay.Notify()
	}
}

// ensureTopics creates Mercato's topics as needed, giving up after 30 s.
func (a *App) ensureTopics(ctx context.Context, specs []event.TopicSpec) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return a.bus.EnsureTopics(ctx, specs, a.cfg.Kafka.Partitions)
}

func (a *App) initDataDir(context.Context) (err error) {
	if err := PrepareDataDir(a.cfg.DataDir); err != nil {
		return err
	}
	a.adminToken, err = AdminToken(a.cfg.DataDir, a.cfg.HTTP.AdminToken, a.log)
	return err
}

func (a *App) initBroker(context.Context) error {
	if a.brokers = a.cfg.Kafka.SeedBrokers(); len(a.brokers) > 0 {
		return nil
	}
	b, err := StartBroker(a.cfg)
	if err != nil {
		return err
	}
	a.broker, a.brokers = b, []string{b.Addr()}
	a.log.Info("embedded Kafka broker listening", "addr", b.Addr())
	return nil
}

func (a *App) stopBroker() {
	if a.broker != nil {
		a.broker.Close()
	}
}

// BusOptions are the bus client settings of cfg for the given seed
// brokers: prefix, client id, rack, TLS, SASL and how topics are created.
// Against the embedded broker serving TLS with no CA file given, the
// client trusts the broker's own certificate.
func BusOptions(cfg config.Config, brokers []string) (bus.Options, error) {
	k := cfg.Kafka
	pw, err := k.SASLPasswordValue()
	if err != nil {
		return bus.Options{}, err
	}
	sec := bus.Security{
		TLS: k.TLSEnabled(), CAFile: k.TLSCAFile, CertFile: k.TLSCertFile, KeyFile: k.TLSKeyFile,
		ServerName: k.TLSServerName, InsecureSkipVerify: k.TLSInsecureSkipVerify,
		SASLMechanism: k.SASLMechanism, Username: k.SASLUsername, Password: pw, OAuthTokenFile: k.SASLOAuthTokenFile,
	}
	if len(k.SeedBrokers()) == 0 && k.ListenTLSCertFile != "" {
		sec.TLS = true
		if sec.CAFile == "" && !sec.InsecureSkipVerify {
			sec.CAFile = k.ListenTLSCertFile
		}
	}
	return bus.Options{
		Brokers: brokers, Prefix: k.TopicPrefix, ClientID: k.ClientID, Rack: k.Rack, Security: sec,
		Topics:         bus.TopicPolicy{ReplicationFactor: k.ReplicationFactor, MinInsyncReplicas: k.MinInsyncReplicas, NoCreate: !k.AutoCreateTopics},
		SessionTimeout: k.SessionTimeout,
	}, nil
}

// brokerUsers are the embedded broker's SASL users: the --kafka-sasl-*
// user, as a superuser, so Mercato's own clients authenticate as it.
func brokerUsers(cfg config.Config) ([]bus.BrokerUser, error) {
	k := cfg.Kafka
	switch k.SASLMechanism {
	case config.KafkaSASLPlain, config.KafkaSASLScramSHA256, config.KafkaSASLScramSHA512:
	default:
		return nil, nil
	}
	pw, err := k.SASLPasswordValue()
	if err != nil {
		return nil, err
	}
	return []bus.BrokerUser{{Mechanism: k.SASLMechanism, Name: k.SASLUsername, Password: pw, Superuser: true}}, nil
}

func (a *App) initBus(ctx context.Context) error {
	o, err := BusOptions(a.cfg, a.brokers)
	if err != nil {
		return err
	}
	o.Logger, o.Metrics = a.log, bus.NewMetrics(a.reg)
	c, err := bus.NewClient(o)
	if err != nil {
		return err
	}
	a.bus = c
	if err := a.ensureTopics(ctx, event.Topics()); err != nil {
		c.Close()
		return fmt.Errorf("preparing topics on %s: %w", strings.Join(a.brokers, ","), err)
	}
	return nil
}

func (a *App) initStore(ctx context.Context) error {
	s, err := openStore(ctx, a.cfg, a.now, a.log)
	if err != nil {
		return err
	}
	a.store = s
	if err := s.WriterPriority(); errors.Is(err, errors.ErrUnsupported) {
		a.log.Debug("SQLite writer runs at the process's priority", "reason", err)
	} else if err != nil {
		a.log.Info("SQLite writer runs at the process's priority", "reason", err)
	}
	return nil
}

func (a *App) initStock(ctx context.Context) error {
	a.stock = a.store
	if !a.cfg.Redis.Enabled() {
		return nil
	}
	rdb, rs, err := OpenRedisInventory(ctx, a.cfg, a.store, a.log)
	if err != nil {
		return err
	}
	a.redis, a.stock, a.stockCache = rdb, rs, rs
	return nil
}

func (a *App) stopStock() {
	if a.redis != nil {
		a.redis.Close()
	}
}

func (a *App) initInventory(context.Context) error {
	a.inventory = inventory.NewService(a.stock, a.store, a.committed, a.log)
	return nil
}

func (a *App) initPurchasing(context.Context) error {
	var poCache replenishment.StatusCache
	if a.redis != nil {
		poCache = rediscache.NewPOStatus(a.redis, redisPrefix(a.cfg), 0)
	}
	c := a.cfg.Replenishment
	a.purchasing = replenishment.NewService(a.store, a.store, a.stock, replenishment.Options{
		StatusCache: poCache,
		Prior:       replenishment.Prior{Daily: c.PriorDailyDemand, StdDev: math.Sqrt(c.PriorDailyDemand), MinDays: 7},
		HoldingRate: c.HoldingRate, Horizon: c.DemandHorizon, Urgent: replenishment.UrgentRule{Limit: c.UrgentLimit},
		Logger: a.log, Committed: a.committed, Now: a.now,
	})
	return nil
}

// initPriceBook builds the book the API prices from, and its feed.
func (a *App) initPriceBook(context.Context) error {
	var mirror pricebook.Mirror
	if a.redis != nil {
		mirror = rediscache.NewPrices(a.redis, redisPrefix(a.cfg))
	}
	a.book = pricebook.NewBook(a.store, mirror, a.log)
	a.addRunner("price-feed", func(ctx context.Context) error {
		return a.book.Follow(ctx, a.bus)
	})
	return nil
}

func (a *App) initCheckout(context.Context) error {
	p := a.cfg.Payments
	gateway := payments.NewSimulated(payments.SimulatedOptions{
		SlowDelay: p.SlowDelay, Latency: p.Latency, DeclineRate: p.DeclineRate, Seed: uint64(a.now().UnixNano()), Now: a.now,
	})
	a.checkout = orders.NewService(a.store, dynamicPrices{a.store, a.book}, a.stock, gateway, orders.Options{
		ReservationTTL: a.cfg.Orders.ReservationTTL, PaymentTimeout: p.Timeout, RecoverAfter: a.cfg.Orders.RecoverAfter,
		// The key lease outlives any checkout (payment timeout plus the
		// saga's writes), so only a request that died is taken over.
		Keys: a.store, KeyTTL: a.cfg.HTTP.IdempotencyTTL, KeyLease: p.Timeout + 30*time.Second,
		Logger: a.log, Committed: a.committed, Now: a.now,
	})
	return nil
}

func (a *App) initReviewIndex(ctx context.Context) error {
	idx, err := OpenReviewIndex(ctx, a.cfg)
	if err != nil {
		return err
	}
	a.search = idx
	return nil
}

func (a *App) initReviewService(context.Context) error {
	classifier := sync.OnceValues(func() (reviews.Classifier, error) { return sentiment.Default() })
	a.reviews = reviews.NewService(a.store, a.store, reviewOrders{a.store}, classifier, a.search, reviews.Options{Committed: a.committed, Logger: a.log, Now: a.now})
	// Load the model and the Korean dictionary now, not on the first review.
	go func() {
		if _, err := classifier(); err != nil {
			a.log.Error("loading the sentiment model", "err", err)
		}
	}()
	return nil
}

func (a *App) initReportRunner(ctx context.Context) error {
	engine, err := OpenReportEngine(ctx, a.cfg)
	if err != nil {
		return err
	}
	a.engine = engine
	a.reportRunner = newReportRunner(a.cfg, engine, a.store, a.log, a.reg)
	if err := a.reportRunner.RestoreMetrics(ctx); err != nil {
		a.log.Warn("report metrics start from zero", "err", err)
	}
	return nil
}

// initOutboxRelay is the outbox-relay role: it publishes the outbox's rows.
func (a *App) initOutboxRelay(context.Context) error {
	a.relay = outbox.NewRelay(a.store, a.bus, outbox.Options{
		Batch: a.cfg.Outbox.Batch, PollInterval: a.cfg.Outbox.PollInterval, Logger: a.log, Registerer: a.reg,
	})
	a.addRunner("outbox-relay", a.relay.Run)
	return nil
}

// initReplenishment is the replenishment role: demand and stock in,
// purchase orders out, and the simulated supplier when enabled.
// A replenishment batch is flushed at this many records, or this long
// after its first: a reorder is decided at most that much later than its
// stock change.
const (
	replenishmentBatchRecords = 5000
	replenishmentBatchEvery   = 250 * time.Millisecond
)

func (a *App) initReplenishment(context.Context) error {
	group, topics := consumerOf(config.RoleReplenishment)
	// Batched: a poll's demand is one transaction, and a SKU is considered
	// once per batch, on its last levels (replenishment.Batcher).
	batch := a.purchasing.NewBatcher()
	cons, err := a.bus.NewConsumer(bus.ConsumerOptions{
		Group: group, Topics: topics,
		Handler: func(_ context.Context, env event.Envelope, rec *bus.Record) error {
			return batch.Add(rec.Topic, rec.Partition, env)
		},
		Flush: func(ctx context.Context) error {
			_, err := batch.Flush(ctx)
			return err
		},
		FlushRecords: replenishmentBatchRecords, FlushEvery: replenishmentBatchEvery,
		Drop: batch.Drop,
	})
	if err != nil {
		return err
	}
	a.addRunner("replenishment", cons.Run)
	if a.cfg.Replenishment.SimulatedSupplier {
		supplier := replenishment.NewSupplier(a.purchasing, a.cfg.Replenishment.SupplierTimeScale)
		a.addRunner("simulated-supplier", func(ctx context.Context) error {
			return supplier.Run(ctx, time.Second)
		})
	}
	return nil
}

// PricingConfig is the pricing stream's configuration from the --pricing-*
// flags: what the pricing role runs with, and what a replay of its input
// must use to price alike.
func PricingConfig(c config.PricingConfig) pricing.Config {
	pc := pricing.DefaultConfig()
	pc.Window, pc.Slide = c.Window, c.Slide
	pc.OutOfOrderness, pc.AllowedLateness, pc.IdleTimeout = c.OutOfOrderness, c.AllowedLateness, c.IdleTimeout
	return pc
}

// initPricing is the pricing role: the stream processor that moves prices.
func (a *App) initPricing(ctx context.Context) error {
	if err := a.ensureTopics(ctx, stream.Topics()); err != nil {
		return fmt.Errorf("preparing pricing topics: %w", err)
	}
	pc := PricingConfig(a.cfg.Pricing)
	proc, err := stream.NewProcessor(stream.ProcessorOptions{
		Client: a.bus, Config: pc, Fallback: pricing.DefaultRule(), InstanceID: a.cfg.Pricing.InstanceID, Logger: a.log,
		IdleTick: pc.IdleTimeout / 2, Now: a.now,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", config.ErrInvalid, err)
	}
	a.registerPricingMetrics(proc)
	a.addRunner("pricing", proc.Run)
	return nil
}

// registerPricingMetrics exposes what an operator alerts on in the pricing
// role: event time falling behind the wall clock, prices that stopped
// moving, and why they move.
func (a *App) registerPricingMetrics(proc *stream.Processor) {
	a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mercato_pricing_watermark_lag_seconds",
		Help: "Wall clock minus the watermark of the slowest partition this instance prices; 0 while it holds no partition with a watermark.",
	}, func() float64 {
		wm, ok := proc.SlowestWatermark()
		if !ok {
			return 0
		}
		return a.now().Sub(wm).Seconds()
	}))
	a.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mercato_pricing_last_price_change_timestamp_seconds",
		Help: "Unix time this instance last committed a price change; 0 before the first.",
	}, func() float64 {
		if t := proc.LastPriceChange(); !t.IsZero() {
			return float64(t.UnixNano()) / 1e9
		}
		return 0
	}))
	for _, reason := range stream.ChangeReasons() {
		a.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "mercato_price_changes_total",
			Help:        "Price changes committed by this instance, by reason: floor, ceiling or step when that limited the price, else the policy (rule or learn).",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(proc.PriceChanges()[reason]) }))
	}
}

// initInventoryAlerts is the inventory-alerts role: it reads
// commerce.alerts, counts alerts by type and, when a webhook is configured,
// delivers each.
func (a *App) initInventoryAlerts(context.Context) error {
	count := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mercato_inventory_alerts_total", Help: "Stock alerts seen on commerce.alerts, by type.",
	}, []string{"type"})
	a.reg.MustRegister(count)
	var hook *inventory.Webhook
	if a.cfg.Inventory.AlertWebhookURL != "" {
		hook = &inventory.Webhook{URL: a.cfg.Inventory.AlertWebhookURL}
	}
	seen := dedup.New(4096) // the handler runs on the consumer's one goroutine
	group, topics := consumerOf(config.RoleInventoryAlerts)
	cons, err := a.bus.NewConsumer(bus.ConsumerOptions{
		Group: group, Topics: topics,
		Handler: func(ctx context.Context, env event.Envelope, _ *bus.Record) error {
			if seen.Has(env.ID) {
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
			seen.Add(env.ID, 0)
			count.WithLabelValues(al.Type).Inc()
			return nil
		},
	})
	if err != nil {
		return err
	}
	a.addRunner("inventory-alerts", cons.Run)
	return nil
}

// initReviews is the reviews role: it indexes reviews from commerce.reviews.
func (a *App) initReviews(context.Context) error {
	group, topics := consumerOf(config.RoleReviews)
	cons, err := a.bus.NewConsumer(bus.ConsumerOptions{
		Group: group, Topics: topics,
		Handler: func(ctx context.Context, env event.Envelope, _ *bus.Record) error {
			return a.reviews.IndexEvents(ctx, []event.Envelope{env})
		},
	})
	if err != nil {
		return err
	}
	a.addRunner("reviews", cons.Run)
	return nil
}

// initLakeSink is the lake-sink role: orders, purchases and payments into
// the Parquet lake, offsets committed only after the files are durable.
func (a *App) initLakeSink(context.Context) error {
	sink := lake.NewSink(lake.SinkOptions{Root: a.cfg.LakeRoot(), Location: a.cfg.Lake.Location(), Logger: a.log, Now: a.now})
	if err := sink.Init(); err != nil {
		return fmt.Errorf("%w: %v", config.ErrInvalid, err)
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
	group, topics := consumerOf(config.RoleLakeSink)
	cons, err := a.bus.NewConsumer(bus.ConsumerOptions{
		Group: group, Topics: topics,
		FromStart: true,
		Handler: func(_ context.Context, env event.Envelope, rec *bus.Record) error {
			err := sink.Add(rec.Topic, rec.Partition, rec.Offset, env)
			if errors.Is(err, lake.ErrBadEvent) {
				return bus.Permanent(err)
			}
			return err
		},
		Flush: sink.Flush, FlushRecords: a.cfg.Lake.FlushRecords, FlushEvery: a.cfg.Lake.FlushInterval,
		OnAssigned: func(context.Context, map[string][]int32) { sink.Assigned() },
		Drop:       sink.Drop,
	})
	if err != nil {
		return err
	}
	a.addRunner("lake-sink", cons.Run)
	return nil
}

// initReports is the reports role: the daily report schedule.
func (a *App) initReports(context.Context) error {
	sched, err := NewReportScheduler(a.cfg, a.reportRunner, a.log)
	if err != nil {
		return err
	}
	a.addRunner("reports", sched.Run)
	return nil
}

// initAPI is the api role: the HTTP API over the services, with the loops
// that keep checkout clean.
func (a *App) initAPI(context.Context) error {
	a.addRunner("housekeeping", func(ctx context.Context) error {
		return a.store.RunHousekeeping(ctx, 10*time.Minute)
	})
	a.addRunner("reservation-sweeper", func(ctx context.Context) error { return a.inventory.RunSweeper(ctx, a.cfg.Orders.SweepInterval) })
	a.addRunner("checkout-recovery", func(ctx context.Context) error { return a.checkout.RunRecovery(ctx, a.cfg.Orders.SweepInterval) })
	a.watchGroupLag()
	// One reader of the topics per process feeds every live event stream.
	events := livefeed.New(a.bus, livefeed.Options{Logger: a.log, Registerer: a.reg})
	a.addRunner("live-events", events.Run)
	products := catalog.NewService(a.store, a.now, a.committed)
	if a.stockCache != nil {
		products.CacheStock(a.stockCache)
	}
	// GET /v1/pricing/rules reads the rules topic, as the pricing role does.
	rules := stream.NewRuleTable(a.log)
	a.addRunner("rule-feed", func(ctx context.Context) error { return rules.Follow(ctx, a.bus) })
	api := httpapi.New(httpapi.Options{
		AdminToken: a.adminToken,
		Catalog:    products,
		Inventory:  a.inventory,
		Orders:     a.checkout,
		Purchasing: a.purchasing,
		Prices:     a.book,
		Rules:      rulePublisher{bus: a.bus, now: a.now},
		RuleReader: rules,
		Reviews:    a.reviews,
		Reports:    a.reportRunner,
		Events:     events,
		Ready:      a.readyChecks(),
		Logger:     a.log,
		Registry:   a.reg,
		Version:    Version,
		// The overview's operations numbers.
		OutboxBacklog: a.store.OutboxBacklog,
		ConsumerLag:   a.consumerLag,
	})
	return a.listen(api)
}

// initOps gives a process without the api role its operator endpoints:
// /healthz, /readyz (its backends and loops) and /metrics, on --http-addr.
func (a *App) initOps(context.Context) error {
	return a.listen(httpapi.New(httpapi.Options{
		OpsOnly: true, Ready: a.readyChecks(), Logger: a.log, Registry: a.reg, Version: Version,
	}))
}

// listen opens --http-addr for api; Run serves it.
func (a *App) listen(api *httpapi.Server) error {
	ln, err := net.Listen("tcp", a.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("HTTP API cannot listen on %s: %w", a.cfg.HTTP.Addr, err)
	}
	a.httpLn, a.api = ln, api
	a.httpSrv = &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    httpapi.ServerMaxHeaderBytes, // the API refuses more than httpapi.MaxHeaderBytes itself, in JSON
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	return nil
}

// stopAPI closes the listener, which Run's shutdown has closed already
// unless the process never ran.
func (a *App) stopAPI() { _ = a.httpLn.Close() }

// readyChecks are what /readyz waits for: the backends, and every loop the
// process has so far (the API is built after the other roles).
func (a *App) readyChecks() []httpapi.ReadyCheck {
	ready := []httpapi.ReadyCheck{{Name: "broker", Check: a.bus.Ping}}
	if a.store != nil {
		ready = append(ready, httpapi.ReadyCheck{Name: "store", Check: a.store.Ping})
	}
	if a.redis != nil {
		ready = append(ready, httpapi.ReadyCheck{Name: "redis", Check: func(ctx context.Context) error { return a.redis.Ping(ctx).Err() }})
	}
	for _, r := range a.runners {
		ready = append(ready, httpapi.RunningCheck(r.name, r.up.Load))
	}
	return ready
}

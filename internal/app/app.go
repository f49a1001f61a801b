package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

	"github.com/mercato-platform/mercato/internal/adapters/bleveindex"
	"github.com/mercato-platform/mercato/internal/adapters/esindex"
	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/httpapi"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/outbox"
	"github.com/mercato-platform/mercato/internal/pricing"
	"github.com/mercato-platform/mercato/internal/pricing/pricebook"
	"github.com/mercato-platform/mercato/internal/replenishment"
	"github.com/mercato-platform/mercato/internal/reports"
	"github.com/mercato-platform/mercato/internal/reviews"
)

// App is one Mercato process.
type App struct {
	cfg        config.Config
	log        *slog.Logger
	now        func() time.Time
	roles      []string
	adminToken string
	reg        *prometheus.Registry
	mods       modules

	// What the modules build, for the modules that depend on them.
	brokers      []string
	broker       *bus.EmbeddedBroker
	bus          *bus.Client
	store        *sqlstore.Store
	redis        redis.UniversalClient
	stock        inventory.Store
	stockCache   catalog.StockCache
	relay        *outbox.Relay
	inventory    *inventory.Service
	purchasing   *replenishment.Service
	book         *pricebook.Book
	checkout     *orders.Service
	search       reviews.Index
	reviews      *reviews.Service
	engine       io.Closer // report engine
	reportRunner *reports.Runner

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

// Option changes how New builds the process.
type Option func(*App)

// WithClock makes the process read the time from now instead of time.Now;
// a nil now keeps time.Now.
func WithClock(now func() time.Time) Option {
	return func(a *App) {
		if now != nil {
			a.now = now
		}
	}
}

// New builds every module the configured roles need and binds the
// listeners, so a taken port fails here rather than after start. Errors
// wrapping config.ErrInvalid are the operator's to fix (exit 2).
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, now: time.Now, reg: prometheus.NewRegistry()}
	for _, o := range opts {
		o(a)
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if a.roles, err = cfg.RoleList(); err != nil {
		return nil, fmt.Errorf("%w: %v", config.ErrInvalid, err)
	}
	a.mods = modules{table: a.moduleTable()}
	// Every process opens the event log, and the system of record (and
	// Redis when set) unless its roles need only Kafka (pricing,
	// inventory-alerts, lake-sink): a backend it cannot reach fails the
	// deployment at startup, and one it does not use is neither opened
	// nor checked.
	targets := []string{modBus}
	if config.NeedsStore(a.roles) {
		targets = append(targets, modStore, modStock)
	}
	targets = append(targets, a.roles...)
	if !slices.Contains(a.roles, config.RoleAPI) {
		targets = append(targets, modOps) // /healthz, /readyz and /metrics of a worker process
	}
	if err := a.checkDependencies(ctx, targets); err != nil {
		return nil, err
	}
	if err := a.mods.init(ctx, targets...); err != nil {
		return nil, err
	}
	return a, nil
}

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
	return strings.Join(a.cfg.Kafka.SeedBrokers(), ",")
}

// AdminToken is the token admin calls must carry.
func (a *App) AdminToken() string { return a.adminToken }

// WriterPriority reports whether the SQLite writer got the nice value asked
// for (sqlstore.Store.WriterPriority).
func (a *App) WriterPriority() error {
	if a.store == nil {
		return fmt.Errorf("this process opens no system of record: %w", errors.ErrUnsupported)
	}
	return a.store.WriterPriority()
}

// Run serves until ctx is cancelled, then stops gracefully: /readyz fails
// at once, requests are still served for --shutdown-drain so load balancers
// take the process out first, and then the HTTP server and the roles stop
// within --shutdown-timeout. A role that fails stops the process without
// the drain.
func (a *App) Run(ctx context.Context) error {
	// The roles run until the drain is over, not until ctx is cancelled.
	runCtx, stopRoles := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRoles()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		failed = make(chan struct{})
		once   sync.Once
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		once.Do(func() { close(failed) })
	}
	for _, r := range a.runners {
		wg.Add(1)
		r.up.Store(true)
		go func() {
			defer wg.Done()
			defer r.up.Store(false)
			if err := r.run(runCtx); err != nil {
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
	select {
	case <-ctx.Done():
		a.drain(failed)
	case <-failed:
	}
	sctx, scancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer scancel()
	stopRoles()
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

// drain fails /readyz and keeps serving for --shutdown-drain, or until a
// role fails.
func (a *App) drain(failed <-chan struct{}) {
	if a.api == nil {
		return
	}
	a.api.Drain()
	if a.cfg.ShutdownDrain <= 0 {
		return
	}
	a.log.Info("draining: /readyz answers 503 until the HTTP server stops", "drain", a.cfg.ShutdownDrain.String())
	t := time.NewTimer(a.cfg.ShutdownDrain)
	defer t.Stop()
	select {
	case <-t.C:
	case <-failed:
	}
}

// Close releases everything New acquired, the last acquired first.
func (a *App) Close() { a.mods.stop() }

// NewLogger is the process's logger on w: level is debug, info, warn or
// error (anything else is info) and format is text (key=value, the default)
// or json (one JSON object per line, for log shippers).
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	o := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
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
// writes, so acknowledged records survive kill -9, with the TLS
// certificate and SASL user of cfg.
func StartBroker(cfg config.Config) (*bus.EmbeddedBroker, error) {
	users, err := brokerUsers(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded Kafka broker: %w", err)
	}
	roleUsers, err := roleBrokerUsers(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded Kafka broker: %w", err)
	}
	users = append(users, roleUsers...)
	b, err := bus.StartEmbedded(bus.EmbeddedOptions{
		Listen:      cfg.Kafka.Listen,
		DataDir:     filepath.Join(cfg.DataDir, "kafka"),
		SyncWrites:  true,
		Partitions:  cfg.Kafka.Partitions,
		TLSCertFile: cfg.Kafka.ListenTLSCertFile,
		TLSKeyFile:  cfg.Kafka.ListenTLSKeyFile,
		Users:       users,
		ACLs:        len(roleUsers) > 0,
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
	return openStore(ctx, cfg, time.Now, nil)
}

// openStore opens the system of record on the process's clock; log, when
// set, hears of trouble in the store's background work.
func openStore(ctx context.Context, cfg config.Config, now func() time.Time, log *slog.Logger) (*sqlstore.Store, error) {
	kind, dsn, err := config.ParseDB(cfg.DBOrDefault())
	if err != nil {
		return nil, fmt.Errorf("%w: --db: %v", config.ErrInvalid, err)
	}
	s, err := sqlstore.Open(ctx, kind, dsn, sqlstore.Options{
		SQLiteSynchronous: cfg.Store.SQLiteSync, AlertHysteresis: cfg.Inventory.AlertHysteresis, WriterNice: cfg.Store.SQLiteNice, CheckoutBatches: cfg.Store.PGCheckoutBatches, Now: now, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("opening system of record %s: %w", config.Redacted(cfg.DBOrDefault()), err)
	}
	return s, nil
}

// redisPrefix namespaces Redis keys like topics, so deployments can share a server.
func redisPrefix(cfg config.Config) string { return cfg.Kafka.TopicPrefix + "mercato:" }

// dynamicPrices prices order lines at the SKU's current dynamic price, or
// its base price until the pricing role has priced it; the order service
// clamps either into the product's current bounds (orders.Quote.Charge).
type dynamicPrices struct {
	store *sqlstore.Store
	book  *pricebook.Book
}

func (p dynamicPrices) Quote(ctx context.Context, sku string) (orders.Quote, error) {
	q, err := p.store.ProductQuote(ctx, sku)
	if errors.Is(err, catalog.ErrNotFound) {
		return orders.Quote{}, fmt.Errorf("%w: %s", orders.ErrUnknownSKU, sku)
	}
	if err != nil {
		return orders.Quote{}, err
	}
	q.Price = p.book.Current(sku, q.BasePrice, time.Time{}).Price
	return q, nil
}

// rulePublisher sends pricing rules on commerce.pricing-rules, keyed by
// category; every pricing instance reads all of them.
type rulePublisher struct {
	bus interface {
		Publish(ctx context.Context, msgs ...event.Message) error
	}
	now func() time.Time
}

func (p rulePublisher) PublishRule(ctx context.Context, rule pricing.Rule) error {
	env, err := event.New(event.TypePricingRule, "mercato/api", rule.Category, p.now(), event.PricingRule(rule))
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
	if cfg.Search.ElasticsearchURL == "" {
		idx, err := bleveindex.Open(filepath.Join(cfg.DataDir, "reviews.bleve"), bleveindex.Options{})
		if err != nil {
			return nil, fmt.Errorf("opening the review index: %w", err)
		}
		return idx, nil
	}
	var addrs []string
	for _, u := range strings.Split(cfg.Search.ElasticsearchURL, ",") {
		addrs = append(addrs, strings.TrimSpace(u))
	}
	es, err := esindex.New(esindex.Config{Addresses: addrs, Index: cfg.Search.ElasticsearchIndex, APIKey: cfg.Search.ElasticsearchAPIKey, Dims: reviews.Dims})
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

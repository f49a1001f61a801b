package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Profiles.
const (
	ProfileEmbedded    = "embedded"
	ProfileDistributed = "distributed"
)

// Roles a process can run (ARCHITECTURE.md §2). RoleAll expands to Implemented.
const (
	RoleAll             = "all"
	RoleAPI             = "api"
	RoleOutboxRelay     = "outbox-relay"
	RolePricing         = "pricing"
	RoleInventoryAlerts = "inventory-alerts"
	RoleReplenishment   = "replenishment"
	RoleLakeSink        = "lake-sink"
	RoleReports         = "reports"
	RoleReviews         = "reviews"
)

// Implemented lists the roles this build can run, in start order.
var Implemented = []string{RoleAPI, RoleOutboxRelay, RoleInventoryAlerts, RoleReplenishment, RolePricing, RoleReviews, RoleLakeSink, RoleReports}

// Config is the whole process configuration.
type Config struct {
	DataDir      string
	HTTPAddr     string
	KafkaListen  string
	KafkaBrokers string
	TopicPrefix  string
	Partitions   int
	AdminToken   string
	Profile      string
	DB           string
	Roles        string
	LogLevel     string
	SQLiteSync   string
	SQLiteNice   int

	OutboxPollInterval time.Duration
	OutboxBatch        int
	ShutdownTimeout    time.Duration

	RedisAddr       string
	RedisShards     int
	AlertWebhookURL string
	AlertHysteresis float64
	ReservationTTL  time.Duration
	SweepInterval   time.Duration

	PaymentTimeout     time.Duration
	PaymentSlowDelay   time.Duration
	PaymentLatency     time.Duration
	PaymentDeclineRate float64
	IdempotencyTTL     time.Duration
	OrderRecoverAfter  time.Duration

	HoldingRate       float64
	DemandHorizon     time.Duration
	PriorDailyDemand  float64
	UrgentLimit       time.Duration
	SimulatedSupplier bool
	SupplierTimeScale float64

	PricingInstanceID string
	PricingWindow     time.Duration
	PricingSlide      time.Duration

	ElasticsearchURL    string
	ElasticsearchIndex  string
	ElasticsearchAPIKey string

	LakeDir           string
	LakeTimezone      string
	LakeFlushInterval time.Duration
	LakeFlushRecords  int

	ReportEngine       string
	ReportSchedule     string
	ReportTimezone     string
	ReportCatchUpDays  int
	ReportRetries      int
	ReportRetryBackoff time.Duration
	ReportStaleCheck   time.Duration
	ReportThreads      int
	ReportMemoryLimit  string
	SparkRemote        string
	SparkLakeURI       string
}

// RegisterFlags declares every setting on fs with its default.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", "./mercato-data", "directory for the embedded engines' files")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8080", "HTTP API listen address")
	fs.StringVar(&c.KafkaListen, "kafka-listen", "127.0.0.1:9092", "embedded Kafka broker listen address")
	fs.StringVar(&c.KafkaBrokers, "kafka-brokers", "", "comma-separated external Kafka seed brokers; when set no embedded broker starts")
	fs.StringVar(&c.TopicPrefix, "topic-prefix", "", "prefix added to every topic name")
	fs.IntVar(&c.Partitions, "partitions", 8, "partitions per topic when Mercato creates its topics")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer token for admin calls; generated into <data-dir>/admin-token when empty")
	fs.StringVar(&c.Profile, "profile", ProfileEmbedded, "engine profile: embedded|distributed")
	fs.StringVar(&c.DB, "db", "", "system of record: sqlite:PATH or a postgres:// URL (default sqlite:<data-dir>/mercato.db)")
	fs.StringVar(&c.Roles, "roles", RoleAll, "comma-separated roles to run, or all")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug|info|warn|error")
	fs.StringVar(&c.SQLiteSync, "sqlite-synchronous", "FULL", "SQLite synchronous pragma: FULL (fsync every commit) or NORMAL")
	fs.IntVar(&c.SQLiteNice, "sqlite-writer-nice", -10, "adjustment of the SQLite writer's thread nice value (-20 to 19), as nice -n: -10 runs it ahead of the rest of the process, 0 leaves it; a negative one needs CAP_SYS_NICE or RLIMIT_NICE, else the writer runs at the process's priority")
	fs.DurationVar(&c.OutboxPollInterval, "outbox-poll-interval", 20*time.Millisecond, "how often the outbox relay looks for new rows when idle")
	fs.IntVar(&c.OutboxBatch, "outbox-batch", 500, "outbox rows published per relay batch")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "graceful shutdown limit")
	fs.StringVar(&c.RedisAddr, "redis-addr", "", "Redis host:port for the inventory counters; empty keeps them in the system of record")
	fs.IntVar(&c.RedisShards, "redis-shards", 1, "hash-tag shards for inventory keys (1 = every reservation is one atomic script)")
	fs.StringVar(&c.AlertWebhookURL, "alert-webhook-url", "", "URL the inventory-alerts role POSTs each alert to (JSON), retried with backoff")
	fs.Float64Var(&c.AlertHysteresis, "alert-hysteresis", 0.10, "a low-stock alert re-arms at threshold x (1 + this)")
	fs.DurationVar(&c.ReservationTTL, "reservation-ttl", 15*time.Minute, "how long an order's stock stays reserved before the sweeper releases it")
	fs.DurationVar(&c.SweepInterval, "sweep-interval", 10*time.Second, "how often expired reservations and interrupted checkouts are cleaned up")
	fs.DurationVar(&c.PaymentTimeout, "payment-timeout", 5*time.Second, "how long checkout waits for the payment gateway")
	fs.DurationVar(&c.PaymentSlowDelay, "payment-slow-delay", 2*time.Second, "simulated gateway: how long tok_slow takes to approve")
	fs.DurationVar(&c.PaymentLatency, "payment-latency", 0, "simulated gateway: latency added to every authorization")
	fs.Float64Var(&c.PaymentDeclineRate, "payment-decline-rate", 0, "simulated gateway: share of tok_ok payments declined at random (0-1)")
	fs.DurationVar(&c.IdempotencyTTL, "idempotency-ttl", 24*time.Hour, "how long an Idempotency-Key and its response are kept")
	fs.Float64Var(&c.HoldingRate, "holding-rate", 0.25, "replenishment: yearly cost of holding a unit, as a share of its unit cost (EOQ's H)")
	fs.DurationVar(&c.DemandHorizon, "demand-horizon", 28*24*time.Hour, "replenishment: daily demand history used for d and σ")
	fs.Float64Var(&c.PriorDailyDemand, "prior-daily-demand", 1, "replenishment: daily demand assumed for a SKU with under a week of history")
	fs.DurationVar(&c.UrgentLimit, "urgent-limit", 48*time.Hour, "replenishment: an out-of-stock SKU whose open order arrives later than this gets an urgent order (0 disables)")
	fs.BoolVar(&c.SimulatedSupplier, "simulated-supplier", true, "replenishment: a simulated supplier confirms, ships and delivers purchase orders")
	fs.Float64Var(&c.SupplierTimeScale, "supplier-time-scale", 1, "simulated supplier clock speed (1440: a day of lead time per minute)")
	fs.StringVar(&c.PricingInstanceID, "pricing-instance-id", "pricing-0", "pricing: this instance's stable id (its Kafka transactional id); unique per instance")
	fs.DurationVar(&c.PricingWindow, "pricing-window", 5*time.Minute, "pricing: span of the short demand window (event time)")
	fs.DurationVar(&c.PricingSlide, "pricing-slide", time.Minute, "pricing: how often the window is evaluated (event time)")
	fs.StringVar(&c.ElasticsearchURL, "elasticsearch-url", "", "Elasticsearch 8 for review search (comma-separated URLs); empty keeps a Bleve index in <data-dir>/reviews.bleve")
	fs.StringVar(&c.ElasticsearchIndex, "elasticsearch-index", "mercato-reviews", "Elasticsearch index (and template) name")
	fs.StringVar(&c.ElasticsearchAPIKey, "elasticsearch-api-key", "", "Elasticsearch API key (prefer MERCATO_ELASTICSEARCH_API_KEY; never logged)")
	fs.DurationVar(&c.OrderRecoverAfter, "order-recover-after", time.Minute, "an order stuck in reserved this long (its request died) is abandoned: payment voided, stock returned")
	fs.StringVar(&c.LakeDir, "lake-dir", "", "root of the Parquet sales lake (default <data-dir>/lake)")
	fs.StringVar(&c.LakeTimezone, "lake-timezone", "Asia/Seoul", "time zone the lake's date partitions and report days are cut in")
	fs.DurationVar(&c.LakeFlushInterval, "lake-flush-interval", 10*time.Second, "lake-sink: longest a consumed event waits before its Parquet file is written")
	fs.IntVar(&c.LakeFlushRecords, "lake-flush-records", 100_000, "lake-sink: events per Parquet write at most")
	fs.StringVar(&c.ReportEngine, "report-engine", "duckdb", "batch report engine: duckdb (embedded) or spark (Spark Connect)")
	fs.StringVar(&c.ReportSchedule, "report-schedule", "10 0 * * *", "reports: cron expression (5 fields) of the daily sales report run, in --report-timezone")
	fs.StringVar(&c.ReportTimezone, "report-timezone", "Asia/Seoul", "reports: time zone of --report-schedule")
	fs.IntVar(&c.ReportCatchUpDays, "report-catchup-days", 7, "reports: how many past days a restarted scheduler checks for missed runs")
	fs.IntVar(&c.ReportRetries, "report-retries", 3, "reports: attempts after a failed run before giving up until the next schedule")
	fs.DurationVar(&c.ReportRetryBackoff, "report-retry-backoff", time.Minute, "reports: wait before the first retry, doubled after each")
	fs.DurationVar(&c.ReportStaleCheck, "report-stale-check", 5*time.Minute, "reports: how often days whose lake data changed after their report are re-run")
	fs.IntVar(&c.ReportThreads, "report-threads", 0, "duckdb: worker threads (0: one per core)")
	fs.StringVar(&c.ReportMemoryLimit, "report-memory-limit", "", "duckdb: memory limit such as 4GB (empty: DuckDB's default)")
	fs.StringVar(&c.SparkRemote, "spark-remote", "", "spark: Spark Connect address, sc://host:15002")
	fs.StringVar(&c.SparkLakeURI, "spark-lake-uri", "", "spark: the lake root as Spark sees it (default: --lake-dir as an absolute path)")
}

// ErrInvalid wraps every validation failure: the process exits 2.
var ErrInvalid = errors.New("invalid configuration")

// Load parses args, then fills every flag not given on the command line from
// MERCATO_<FLAG> in env, then from the YAML file named by --config or
// MERCATO_CONFIG. Precedence: flag > environment > file > default.
func Load(fs *flag.FlagSet, args []string, env []string) error {
	configPath := fs.String("config", "", "optional YAML file with the same keys as the flags")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	envMap := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "MERCATO_") {
			envMap[k] = v
		}
	}
	if !set["config"] {
		if v, ok := envMap["MERCATO_CONFIG"]; ok {
			*configPath = v
		}
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "config" {
			return
		}
		if v, ok := envMap[EnvName(f.Name)]; ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %v", ErrInvalid, EnvName(f.Name), err))
			}
			set[f.Name] = true
		}
	})
	if *configPath != "" {
		if err := applyFile(fs, *configPath, set); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// EnvName is the environment variable for a flag: data-dir -> MERCATO_DATA_DIR.
func EnvName(flagName string) string {
	return "MERCATO_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func applyFile(fs *flag.FlagSet, path string, set map[string]bool) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: reading config file: %v", ErrInvalid, err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(raw, &values); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	for _, k := range keys {
		f := fs.Lookup(k)
		if f == nil || k == "config" {
			errs = append(errs, fmt.Errorf("%w: %s: unknown key %q", ErrInvalid, path, k))
			continue
		}
		if set[k] {
			continue
		}
		v := values[k]
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case int:
			s = strconv.Itoa(x)
		case bool:
			s = strconv.FormatBool(x)
		case float64:
			s = strconv.FormatFloat(x, 'f', -1, 64)
		case []any:
			parts := make([]string, len(x))
			for i, p := range x {
				parts[i] = fmt.Sprint(p)
			}
			s = strings.Join(parts, ",")
		default:
			errs = append(errs, fmt.Errorf("%w: %s: key %q: unsupported value %v", ErrInvalid, path, k, v))
			continue
		}
		if err := fs.Set(k, s); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s: key %q: %v", ErrInvalid, path, k, err))
		}
	}
	return errors.Join(errs...)
}

// Validate reports every problem at once, one error per problem.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...)))
	}
	if c.DataDir == "" {
		bad("--data-dir must not be empty")
	}
	if err := checkHostPort(c.HTTPAddr); err != nil {
		bad("--http-addr %q: %v", c.HTTPAddr, err)
	}
	if c.KafkaBrokers == "" {
		if err := checkHostPort(c.KafkaListen); err != nil {
			bad("--kafka-listen %q: %v", c.KafkaListen, err)
		}
	} else {
		for _, b := range c.Brokers() {
			if err := checkHostPort(b); err != nil {
				bad("--kafka-brokers entry %q: %v", b, err)
			}
		}
	}
	if c.Partitions < 1 || c.Partitions > 1024 {
		bad("--partitions must be 1-1024, got %d", c.Partitions)
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		bad("--admin-token must be at least 16 characters")
	}
	switch c.Profile {
	case ProfileEmbedded:
	case ProfileDistributed:
		if c.KafkaBrokers == "" {
			bad("--profile distributed needs --kafka-brokers")
		}
		if !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
			bad("--profile distributed needs --db postgres://...")
		}
	default:
		bad("--profile must be embedded or distributed, got %q", c.Profile)
	}
	if c.DB != "" {
		if _, _, err := ParseDB(c.DB); err != nil {
			bad("--db: %v", err)
		}
	}
	if _, err := c.RoleList(); err != nil {
		bad("--roles: %v", err)
	}
	if _, err := time.LoadLocation(c.LakeTimezone); err != nil {
		bad("--lake-timezone %q: unknown time zone", c.LakeTimezone)
	}
	if _, err := time.LoadLocation(c.ReportTimezone); err != nil {
		bad("--report-timezone %q: unknown time zone", c.ReportTimezone)
	} else if c.ReportTimezone != c.LakeTimezone {
		// The scheduler reports "the day that just ended" in its zone; the
		// lake cuts days in its own. They must be the same days.
		bad("--report-timezone (%s) must equal --lake-timezone (%s)", c.ReportTimezone, c.LakeTimezone)
	}
	if _, err := cron.ParseStandard(c.ReportSchedule); err != nil || strings.HasPrefix(strings.TrimSpace(c.ReportSchedule), "@") {
		bad("--report-schedule %q: want a 5-field cron expression such as \"10 0 * * *\"", c.ReportSchedule)
	}
	switch c.ReportEngine {
	case "duckdb":
	case "spark":
		if !strings.HasPrefix(c.SparkRemote, "sc://") {
			bad("--report-engine spark needs --spark-remote sc://host:port")
		}
	default:
		bad("--report-engine must be duckdb or spark, got %q", c.ReportEngine)
	}
	if c.LakeFlushInterval <= 0 || c.LakeFlushRecords < 1 {
		bad("--lake-flush-interval and --lake-flush-records must be positive")
	}
	if c.ReportCatchUpDays < 0 || c.ReportCatchUpDays > 366 {
		bad("--report-catchup-days must be 0-366")
	}
	if c.ReportRetries < 0 || c.ReportRetryBackoff <= 0 || c.ReportStaleCheck <= 0 {
		bad("--report-retries must be >= 0, --report-retry-backoff and --report-stale-check positive")
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("--log-level must be debug, info, warn or error, got %q", c.LogLevel)
	}
	switch strings.ToUpper(c.SQLiteSync) {
	case "FULL", "NORMAL":
	default:
		bad("--sqlite-synchronous must be FULL or NORMAL, got %q", c.SQLiteSync)
	}
	if c.SQLiteNice < -20 || c.SQLiteNice > 19 {
		bad("--sqlite-writer-nice must be -20 to 19, got %d", c.SQLiteNice)
	}
	if c.OutboxPollInterval <= 0 {
		bad("--outbox-poll-interval must be positive")
	}
	if c.OutboxBatch < 1 || c.OutboxBatch > 10000 {
		bad("--outbox-batch must be 1-10000, got %d", c.OutboxBatch)
	}
	if c.ShutdownTimeout <= 0 {
		bad("--shutdown-timeout must be positive")
	}
	if c.RedisAddr != "" {
		if err := checkHostPort(c.RedisAddr); err != nil {
			bad("--redis-addr %q: %v", c.RedisAddr, err)
		}
	}
	if c.RedisShards < 1 || c.RedisShards > 16384 {
		bad("--redis-shards must be 1-16384, got %d", c.RedisShards)
	}
	if c.AlertWebhookURL != "" {
		if u, err := url.Parse(c.AlertWebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("--alert-webhook-url must be an http(s) URL")
		}
	}
	if c.AlertHysteresis < 0 || c.AlertHysteresis > 10 {
		bad("--alert-hysteresis must be 0-10, got %g", c.AlertHysteresis)
	}
	if c.ReservationTTL < time.Second {
		bad("--reservation-ttl must be at least 1s")
	}
	if c.SweepInterval <= 0 {
		bad("--sweep-interval must be positive")
	}
	if c.PaymentTimeout <= 0 || c.PaymentSlowDelay < 0 || c.PaymentLatency < 0 {
		bad("--payment-timeout must be positive, --payment-slow-delay and --payment-latency not negative")
	}
	if c.PaymentDeclineRate < 0 || c.PaymentDeclineRate > 1 {
		bad("--payment-decline-rate must be 0-1, got %g", c.PaymentDeclineRate)
	}
	if c.IdempotencyTTL < time.Minute {
		bad("--idempotency-ttl must be at least 1m")
	}
	if c.HoldingRate <= 0 || c.HoldingRate > 10 {
		bad("--holding-rate must be in (0, 10], got %g", c.HoldingRate)
	}
	if c.DemandHorizon < 24*time.Hour {
		bad("--demand-horizon must be at least 24h")
	}
	if c.PriorDailyDemand < 0 || c.UrgentLimit < 0 || c.SupplierTimeScale <= 0 {
		bad("--prior-daily-demand and --urgent-limit must not be negative, --supplier-time-scale must be positive")
	}
	if c.PricingInstanceID == "" || len(c.PricingInstanceID) > 100 {
		bad("--pricing-instance-id must be 1-100 characters")
	}
	if c.PricingSlide <= 0 || c.PricingWindow < c.PricingSlide || c.PricingWindow%c.PricingSlide != 0 {
		bad("--pricing-window must be a whole number of --pricing-slide")
	}
	if c.ElasticsearchURL != "" {
		for _, raw := range strings.Split(c.ElasticsearchURL, ",") {
			if u, err := url.Parse(strings.TrimSpace(raw)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("--elasticsearch-url entries must be http(s) URLs")
				break
			}
		}
	}
	if c.ElasticsearchIndex == "" || strings.ToLower(c.ElasticsearchIndex) != c.ElasticsearchIndex || strings.ContainsAny(c.ElasticsearchIndex, ` ,/*?"<>|#\`) {
		bad("--elasticsearch-index must be a lowercase Elasticsearch index name")
	}
	if c.OrderRecoverAfter <= c.PaymentTimeout {
		bad("--order-recover-after (%s) must be longer than --payment-timeout (%s)", c.OrderRecoverAfter, c.PaymentTimeout)
	}
	return errors.Join(errs...)
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be 0-65535")
	}
	return nil
}

// Brokers returns the external seed brokers.
func (c *Config) Brokers() []string {
	var out []string
	for _, b := range strings.Split(c.KafkaBrokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// RoleList expands --roles into the roles to run, in start order.
func (c *Config) RoleList() ([]string, error) {
	var want []string
	for _, r := range strings.Split(c.Roles, ",") {
		r = strings.TrimSpace(r)
		switch {
		case r == "":
			continue
		case r == RoleAll:
			want = append(want, Implemented...)
		case slices.Contains(Implemented, r):
			want = append(want, r)
		default:
			return nil, fmt.Errorf("unknown role %q (available: %s)", r, strings.Join(Implemented, ", "))
		}
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("no role given")
	}
	var out []string
	for _, r := range Implemented {
		if slices.Contains(want, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// DB kinds.
const (
	DBSQLite   = "sqlite"
	DBPostgres = "postgres"
)

// ParseDB splits a --db value into its kind and the driver's data source.
func ParseDB(s string) (kind, dsn string, err error) {
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		p := strings.TrimPrefix(s, "sqlite:")
		if p == "" {
			return "", "", fmt.Errorf("sqlite: needs a file path")
		}
		return DBSQLite, p, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			return "", "", fmt.Errorf("postgres URL: %v", err)
		}
		return DBPostgres, s, nil
	default:
		return "", "", fmt.Errorf("want sqlite:PATH or postgres://..., got %q", redactURL(s))
	}
}

// DBOrDefault returns --db, or the SQLite file in the data dir.
func (c *Config) DBOrDefault() string {
	if c.DB != "" {
		return c.DB
	}
	return "sqlite:" + c.DataDir + "/mercato.db"
}

// Lake returns the lake root: --lake-dir, or lake/ in the data dir.
func (c *Config) Lake() string {
	if c.LakeDir != "" {
		return c.LakeDir
	}
	return filepath.Join(c.DataDir, "lake")
}

// LakeLocation is the zone lake days are cut in (validated by Validate).
func (c *Config) LakeLocation() *time.Location {
	loc, err := time.LoadLocation(c.LakeTimezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// redactURL hides a password so it never reaches a log line.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// Redacted returns the --db value with any password hidden, for logs.
func Redacted(db string) string { return redactURL(db) }

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

// storeRoles are the roles that use the system of record (and the Redis
// counters in front of it). The others, pricing, inventory-alerts and
// lake-sink, need only Kafka: a process running only those is given no
// database or Redis credentials.
var storeRoles = []string{RoleAPI, RoleOutboxRelay, RoleReplenishment, RoleReviews, RoleReports}

// NeedsStore reports whether any of roles uses the system of record.
func NeedsStore(roles []string) bool {
	return slices.ContainsFunc(roles, func(r string) bool { return slices.Contains(storeRoles, r) })
}

// Implemented lists the roles this build can run, in start order.
var Implemented = []string{RoleAPI, RoleOutboxRelay, RoleInventoryAlerts, RoleReplenishment, RolePricing, RoleReviews, RoleLakeSink, RoleReports}

// Config is the whole process configuration: the process's own settings,
// then one section per part of the platform, each with its own flags and
// checks.
type Config struct {
	DataDir         string
	Profile         string
	Roles           string
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	// ShutdownDrain is how long a stopping process keeps serving with
	// /readyz failing, so load balancers take it out before it stops
	// accepting connections.
	ShutdownDrain time.Duration

	HTTP          HTTPConfig
	Kafka         KafkaConfig
	Store         StoreConfig
	Outbox        OutboxConfig
	Redis         RedisConfig
	Inventory     InventoryConfig
	Orders        OrdersConfig
	Payments      PaymentsConfig
	Replenishment ReplenishmentConfig
	Pricing       PricingConfig
	Search        SearchConfig
	Lake          LakeConfig
	Reports       ReportsConfig
}

// RegisterFlags declares every setting on fs with its default.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", "./mercato-data", "directory for the embedded engines' files")
	fs.StringVar(&c.Profile, "profile", ProfileEmbedded, "engine profile: embedded|distributed")
	fs.StringVar(&c.Roles, "roles", RoleAll, "comma-separated roles to run, or all")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug|info|warn|error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log line format: text (key=value) or json (one JSON object per line)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "graceful shutdown limit")
	fs.DurationVar(&c.ShutdownDrain, "shutdown-drain", 5*time.Second, "on SIGTERM, how long /readyz answers 503 while requests are still served, before the HTTP server stops accepting (0 stops at once)")
	c.HTTP.RegisterFlags(fs)
	c.Kafka.RegisterFlags(fs)
	c.Store.RegisterFlags(fs)
	c.Outbox.RegisterFlags(fs)
	c.Redis.RegisterFlags(fs)
	c.Inventory.RegisterFlags(fs)
	c.Orders.RegisterFlags(fs)
	c.Payments.RegisterFlags(fs)
	c.Replenishment.RegisterFlags(fs)
	c.Pricing.RegisterFlags(fs)
	c.Search.RegisterFlags(fs)
	c.Lake.RegisterFlags(fs)
	c.Reports.RegisterFlags(fs)
}

// HTTPConfig is the HTTP API's section.
type HTTPConfig struct {
	Addr           string
	AdminToken     string
	IdempotencyTTL time.Duration
}

// RegisterFlags declares the section's settings on fs.
func (c *HTTPConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "http-addr", "127.0.0.1:8080", "HTTP API listen address")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer token for admin calls; generated into <data-dir>/admin-token when empty")
	fs.DurationVar(&c.IdempotencyTTL, "idempotency-ttl", 24*time.Hour, "how long an Idempotency-Key and its response are kept")
}

// Validate reports every problem of the section.
func (c *HTTPConfig) Validate() error {
	var p problems
	if err := checkHostPort(c.Addr); err != nil {
		p.add("--http-addr %q: %v", c.Addr, err)
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		p.add("--admin-token must be at least 16 characters")
	}
	if c.IdempotencyTTL < time.Minute {
		p.add("--idempotency-ttl must be at least 1m")
	}
	return p.err()
}

// KafkaConfig is the event log's section: the embedded broker or the
// external cluster, and the topics Mercato creates.
type KafkaConfig struct {
	Listen      string
	Brokers     string
	TopicPrefix string
	Partitions  int

	// TLS turns on TLS to the brokers; any of the TLS fields below turns it
	// on as well.
	TLS           bool
	TLSCAFile     string
	TLSCertFile   string
	TLSKeyFile    string
	TLSServerName string
	// TLSInsecureSkipVerify accepts any broker certificate: for tests only.
	TLSInsecureSkipVerify bool

	// SASLMechanism is empty, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or
	// OAUTHBEARER. SASLPassword and SASLPasswordFile are exclusive; the
	// password and the token are secrets: they appear in no help text, log
	// line or error.
	SASLMechanism      string
	SASLUsername       string
	SASLPassword       string
	SASLPasswordFile   string
	SASLOAuthTokenFile string

	ClientID string
	Rack     string

	// ReplicationFactor (-1: the broker's default), MinInsyncReplicas (0:
	// the broker's default) and AutoCreateTopics are for the topics
	// Mercato creates; with AutoCreateTopics off it only checks they exist.
	ReplicationFactor int
	MinInsyncReplicas int
	AutoCreateTopics  bool
	// SessionTimeout of the consumer groups the process joins.
	SessionTimeout time.Duration

	// ListenTLSCertFile and ListenTLSKeyFile make the embedded broker
	// accept TLS only. An embedded broker listening beyond loopback needs
	// them and a SCRAM user (the --kafka-sasl-* credentials).
	ListenTLSCertFile string
	ListenTLSKeyFile  string
	// RoleSecretsDir makes the embedded broker check ACLs with one SCRAM
	// principal per role, mercato-<role>, whose password it keeps in
	// <dir>/<role> (made on first start, mode 0600).
	RoleSecretsDir string
}

// Kafka SASL mechanisms (KafkaConfig.SASLMechanism).
const (
	KafkaSASLPlain       = "PLAIN"
	KafkaSASLScramSHA256 = "SCRAM-SHA-256"
	KafkaSASLScramSHA512 = "SCRAM-SHA-512"
	KafkaSASLOAuthBearer = "OAUTHBEARER"
)

// RegisterFlags declares the section's settings on fs.
func (c *KafkaConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "kafka-listen", "127.0.0.1:9092", "embedded Kafka broker listen address")
	fs.StringVar(&c.Brokers, "kafka-brokers", "", "comma-separated external Kafka seed brokers; when set no embedded broker starts")
	fs.StringVar(&c.TopicPrefix, "topic-prefix", "", "prefix added to every topic name")
	fs.IntVar(&c.Partitions, "partitions", 8, "partitions per topic when Mercato creates its topics")
	fs.BoolVar(&c.TLS, "kafka-tls", false, "connect to Kafka over TLS (implied by any --kafka-tls-* flag)")
	fs.StringVar(&c.TLSCAFile, "kafka-tls-ca-file", "", "PEM bundle of the CAs that signed the Kafka broker certificates (empty: system roots)")
	fs.StringVar(&c.TLSCertFile, "kafka-tls-cert-file", "", "client certificate (PEM) for brokers that require mutual TLS; needs --kafka-tls-key-file")
	fs.StringVar(&c.TLSKeyFile, "kafka-tls-key-file", "", "client key (PEM) of --kafka-tls-cert-file")
	fs.StringVar(&c.TLSServerName, "kafka-tls-server-name", "", "name the broker certificates are checked against (default: each broker's host)")
	fs.BoolVar(&c.TLSInsecureSkipVerify, "kafka-tls-insecure-skip-verify", false, "accept any Kafka broker certificate; for tests only")
	fs.StringVar(&c.SASLMechanism, "kafka-sasl-mechanism", "", "Kafka SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (empty: no SASL)")
	fs.StringVar(&c.SASLUsername, "kafka-sasl-username", "", "Kafka SASL user (PLAIN, SCRAM)")
	fs.StringVar(&c.SASLPassword, "kafka-sasl-password", "", "Kafka SASL password; prefer --kafka-sasl-password-file or MERCATO_KAFKA_SASL_PASSWORD, a flag shows in the process list")
	fs.StringVar(&c.SASLPasswordFile, "kafka-sasl-password-file", "", "file holding the Kafka SASL password (one line)")
	fs.StringVar(&c.SASLOAuthTokenFile, "kafka-sasl-oauth-token-file", "", "file holding the OAUTHBEARER token, re-read at every authentication")
	fs.StringVar(&c.ClientID, "kafka-client-id", "mercato", "client id Mercato's Kafka clients send (broker logs, quotas)")
	fs.StringVar(&c.Rack, "kafka-rack", "", "rack of this process, so consumers fetch from the closest replica (KIP-392)")
	fs.IntVar(&c.ReplicationFactor, "kafka-replication-factor", -1, "replication factor of the topics Mercato creates (-1: the broker's default)")
	fs.IntVar(&c.MinInsyncReplicas, "kafka-min-insync-replicas", 0, "min.insync.replicas of the topics Mercato creates (0: the broker's default)")
	fs.DurationVar(&c.SessionTimeout, "kafka-session-timeout", 45*time.Second, "consumer group session timeout: how long a process that stopped heartbeating (crashed, cut off) keeps its partitions before the group moves them")
	fs.BoolVar(&c.AutoCreateTopics, "kafka-auto-create-topics", true, "create missing topics at start; when false Mercato only checks they exist")
	fs.StringVar(&c.ListenTLSCertFile, "kafka-listen-tls-cert-file", "", "certificate (PEM) the embedded broker serves TLS with; needs --kafka-listen-tls-key-file")
	fs.StringVar(&c.ListenTLSKeyFile, "kafka-listen-tls-key-file", "", "key (PEM) of --kafka-listen-tls-cert-file")
	fs.StringVar(&c.RoleSecretsDir, "kafka-role-secrets-dir", "", "embedded broker: give each role its own SCRAM principal mercato-<role>, password in <dir>/<role> (made if missing), and enforce ACLs; needs a SCRAM --kafka-sasl-* admin user")
}

// TLSEnabled reports whether any setting asks for TLS to the brokers.
func (c *KafkaConfig) TLSEnabled() bool {
	return c.TLS || c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSKeyFile != "" || c.TLSServerName != "" || c.TLSInsecureSkipVerify
}

// SASLPasswordValue is the SASL password, from --kafka-sasl-password or
// read from --kafka-sasl-password-file (trailing newline dropped). The
// error names the file, never its content.
func (c *KafkaConfig) SASLPasswordValue() (string, error) {
	if c.SASLPasswordFile == "" {
		return c.SASLPassword, nil
	}
	b, err := os.ReadFile(c.SASLPasswordFile)
	if err != nil {
		return "", fmt.Errorf("--kafka-sasl-password-file: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("--kafka-sasl-password-file %s is empty", c.SASLPasswordFile)
	}
	return pw, nil
}

// Validate reports every problem of the section.
func (c *KafkaConfig) Validate() error {
	var p problems
	if c.SessionTimeout < time.Second {
		p.add("--kafka-session-timeout %v must be at least 1s (brokers usually allow 6s to 30m)", c.SessionTimeout)
	}
	if c.Brokers == "" {
		if err := checkHostPort(c.Listen); err != nil {
			p.add("--kafka-listen %q: %v", c.Listen, err)
		}
	} else {
		for _, b := range c.SeedBrokers() {
			if err := checkHostPort(b); err != nil {
				p.add("--kafka-brokers entry %q: %v", b, err)
			}
		}
	}
	if c.Partitions < 1 || c.Partitions > 1024 {
		p.add("--partitions must be 1-1024, got %d", c.Partitions)
	}
	c.validateSecurity(&p)
	return p.err()
}

// validateSecurity adds the problems of the TLS, SASL and topic settings.
// Messages name flags and files, never a password.
func (c *KafkaConfig) validateSecurity(p *problems) {
	switch c.SASLMechanism {
	case "":
		if c.SASLUsername != "" || c.SASLPassword != "" || c.SASLPasswordFile != "" || c.SASLOAuthTokenFile != "" {
			p.add("--kafka-sasl-username, --kafka-sasl-password(-file) and --kafka-sasl-oauth-token-file need --kafka-sasl-mechanism")
		}
	case KafkaSASLPlain, KafkaSASLScramSHA256, KafkaSASLScramSHA512:
		if c.SASLUsername == "" {
			p.add("--kafka-sasl-mechanism %s needs --kafka-sasl-username", c.SASLMechanism)
		}
		if c.SASLPassword == "" && c.SASLPasswordFile == "" {
			p.add("--kafka-sasl-mechanism %s needs --kafka-sasl-password or --kafka-sasl-password-file", c.SASLMechanism)
		}
		if c.SASLOAuthTokenFile != "" {
			p.add("--kafka-sasl-oauth-token-file needs --kafka-sasl-mechanism OAUTHBEARER")
		}
	case KafkaSASLOAuthBearer:
		if c.SASLOAuthTokenFile == "" {
			p.add("--kafka-sasl-mechanism OAUTHBEARER needs --kafka-sasl-oauth-token-file")
		}
		if c.SASLUsername != "" || c.SASLPassword != "" || c.SASLPasswordFile != "" {
			p.add("--kafka-sasl-mechanism OAUTHBEARER takes a token file, not a username or password")
		}
	default:
		p.add("--kafka-sasl-mechanism must be PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER, got %q", c.SASLMechanism)
	}
	if c.SASLPassword != "" && c.SASLPasswordFile != "" {
		p.add("--kafka-sasl-password and --kafka-sasl-password-file are exclusive")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p.add("--kafka-tls-cert-file and --kafka-tls-key-file go together: set both or neither")
	}
	if (c.ListenTLSCertFile == "") != (c.ListenTLSKeyFile == "") {
		p.add("--kafka-listen-tls-cert-file and --kafka-listen-tls-key-file go together: set both or neither")
	}
	if c.Brokers != "" && c.ListenTLSCertFile != "" {
		p.add("--kafka-listen-tls-cert-file is for the embedded broker and has no use with --kafka-brokers")
	}
	if c.RoleSecretsDir != "" {
		switch {
		case c.Brokers != "":
			p.add("--kafka-role-secrets-dir is for the embedded broker and has no use with --kafka-brokers (print the ACLs to create with `mercato topics acls`)")
		case c.SASLMechanism != KafkaSASLScramSHA256 && c.SASLMechanism != KafkaSASLScramSHA512:
			p.add("--kafka-role-secrets-dir needs --kafka-sasl-mechanism SCRAM-SHA-256 or SCRAM-SHA-512 and an admin --kafka-sasl-username")
		}
	}
	if strings.TrimSpace(c.ClientID) == "" {
		p.add("--kafka-client-id must not be empty")
	}
	if c.ReplicationFactor != -1 && (c.ReplicationFactor < 1 || c.ReplicationFactor > 32767) {
		p.add("--kafka-replication-factor must be -1 (the broker's default) or 1-32767, got %d", c.ReplicationFactor)
	}
	if c.MinInsyncReplicas < 0 {
		p.add("--kafka-min-insync-replicas must not be negative, got %d", c.MinInsyncReplicas)
	} else if c.ReplicationFactor > 0 && c.MinInsyncReplicas > c.ReplicationFactor {
		p.add("--kafka-min-insync-replicas %d exceeds --kafka-replication-factor %d: no write could succeed", c.MinInsyncReplicas, c.ReplicationFactor)
	}
	p.files(
		fileFlag{"--kafka-sasl-password-file", c.SASLPasswordFile},
		fileFlag{"--kafka-sasl-oauth-token-file", c.SASLOAuthTokenFile},
		fileFlag{"--kafka-tls-ca-file", c.TLSCAFile},
		fileFlag{"--kafka-tls-cert-file", c.TLSCertFile},
		fileFlag{"--kafka-tls-key-file", c.TLSKeyFile},
		fileFlag{"--kafka-listen-tls-cert-file", c.ListenTLSCertFile},
		fileFlag{"--kafka-listen-tls-key-file", c.ListenTLSKeyFile},
	)
	if st, err := os.Stat(c.SASLPasswordFile); c.SASLPasswordFile != "" && err == nil && !st.IsDir() {
		if _, err := c.SASLPasswordValue(); err != nil {
			p.add("%v", err)
		}
	}
}

// SeedBrokers returns the external seed brokers; none means the embedded broker.
func (c *KafkaConfig) SeedBrokers() []string {
	var out []string
	for _, b := range strings.Split(c.Brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// StoreConfig is the system of record's section.
type StoreConfig struct {
	DB         string
	SQLiteSync string
	SQLiteNice int
	// PGCheckoutBatches runs concurrent PostgreSQL checkouts in shared
	// transactions (sqlstore.Options.CheckoutBatches).
	PGCheckoutBatches bool
}

// RegisterFlags declares the section's settings on fs.
func (c *StoreConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DB, "db", "", "system of record: sqlite:PATH or a postgres:// URL (default sqlite:<data-dir>/mercato.db)")
	fs.StringVar(&c.SQLiteSync, "sqlite-synchronous", "FULL", "SQLite synchronous pragma: FULL (fsync every commit) or NORMAL")
	fs.BoolVar(&c.PGCheckoutBatches, "postgres-checkout-batches", true, "PostgreSQL: concurrent checkouts share transactions (+20-37 % orders/s measured); false runs each checkout in its own transactions")
	fs.IntVar(&c.SQLiteNice, "sqlite-writer-nice", -10, "adjustment of the SQLite writer's thread nice value (-20 to 19), as nice -n: -10 runs it ahead of the rest of the process, 0 leaves it; a negative one needs CAP_SYS_NICE or RLIMIT_NICE, else the writer runs at the process's priority")
}

// Validate reports every problem of the section.
func (c *StoreConfig) Validate() error {
	var p problems
	if c.DB != "" {
		if _, _, err := ParseDB(c.DB); err != nil {
			p.add("--db: %v", err)
		}
	}
	switch strings.ToUpper(c.SQLiteSync) {
	case "FULL", "NORMAL":
	default:
		p.add("--sqlite-synchronous must be FULL or NORMAL, got %q", c.SQLiteSync)
	}
	if c.SQLiteNice < -20 || c.SQLiteNice > 19 {
		p.add("--sqlite-writer-nice must be -20 to 19, got %d", c.SQLiteNice)
	}
	return p.err()
}

// OutboxConfig is the outbox relay's section.
type OutboxConfig struct {
	PollInterval time.Duration
	Batch        int
}

// RegisterFlags declares the section's settings on fs.
func (c *OutboxConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.PollInterval, "outbox-poll-interval", 20*time.Millisecond, "how often the outbox relay looks for new rows when idle")
	fs.IntVar(&c.Batch, "outbox-batch", 500, "outbox rows published per relay batch")
}

// Validate reports every problem of the section.
func (c *OutboxConfig) Validate() error {
	var p problems
	if c.PollInterval <= 0 {
		p.add("--outbox-poll-interval must be positive")
	}
	if c.Batch < 1 || c.Batch > 10000 {
		p.add("--outbox-batch must be 1-10000, got %d", c.Batch)
	}
	return p.err()
}

// RedisConfig is the section of the Redis that holds the hot inventory
// counters and caches. Redis is one server (Addr), a primary found through
// Sentinel (SentinelMaster and SentinelAddrs) or a Redis Cluster
// (ClusterAddrs); none of them keeps the counters in the system of record.
type RedisConfig struct {
	Addr   string
	Shards int

	// Username is the ACL user; empty authenticates as "default" when a
	// password is set.
	Username string
	// Password and PasswordFile are exclusive. Password, PasswordFile's
	// content and the Sentinel password are secrets: they appear in no
	// help text, log line or error.
	Password     string
	PasswordFile string
	DB           int

	// TLS turns on TLS; any of the TLS fields below turns it on as well.
	TLS           bool
	TLSCAFile     string
	TLSCertFile   string
	TLSKeyFile    string
	TLSServerName string
	// TLSInsecureSkipVerify accepts any server certificate: for tests only.
	TLSInsecureSkipVerify bool

	SentinelMaster       string
	SentinelAddrs        string
	SentinelPasswordFile string
	ClusterAddrs         string
}

// Redis connection modes (RedisConfig.Mode).
const (
	RedisOff      = ""
	RedisSingle   = "single"
	RedisSentinel = "sentinel"
	RedisCluster  = "cluster"
)

// RegisterFlags declares the section's settings on fs.
func (c *RedisConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "redis-addr", "", "Redis host:port for the inventory counters; empty (and no Sentinel or Cluster) keeps them in the system of record")
	fs.IntVar(&c.Shards, "redis-shards", 1, "hash-tag shards for inventory keys (1 = every reservation is one atomic script)")
	fs.StringVar(&c.Username, "redis-username", "", "Redis ACL user (empty: the default user)")
	fs.StringVar(&c.Password, "redis-password", "", "Redis password; prefer --redis-password-file or MERCATO_REDIS_PASSWORD, a flag shows in the process list")
	fs.StringVar(&c.PasswordFile, "redis-password-file", "", "file holding the Redis password (one line)")
	fs.IntVar(&c.DB, "redis-db", 0, "Redis logical database (must be 0 with --redis-cluster-addrs)")
	fs.BoolVar(&c.TLS, "redis-tls", false, "connect to Redis over TLS (implied by any --redis-tls-* flag)")
	fs.StringVar(&c.TLSCAFile, "redis-tls-ca-file", "", "PEM bundle of the CAs that signed the Redis server certificates (empty: system roots)")
	fs.StringVar(&c.TLSCertFile, "redis-tls-cert-file", "", "client certificate (PEM) for Redis servers that require mutual TLS; needs --redis-tls-key-file")
	fs.StringVar(&c.TLSKeyFile, "redis-tls-key-file", "", "client key (PEM) of --redis-tls-cert-file")
	fs.StringVar(&c.TLSServerName, "redis-tls-server-name", "", "name the Redis server certificates are checked against (default: each server's host)")
	fs.BoolVar(&c.TLSInsecureSkipVerify, "redis-tls-insecure-skip-verify", false, "accept any Redis server certificate; for tests only")
	fs.StringVar(&c.SentinelMaster, "redis-sentinel-master", "", "name of the primary Redis Sentinel monitors; needs --redis-sentinel-addrs")
	fs.StringVar(&c.SentinelAddrs, "redis-sentinel-addrs", "", "comma-separated Sentinel host:port addresses")
	fs.StringVar(&c.SentinelPasswordFile, "redis-sentinel-password-file", "", "file holding the password of the Sentinels themselves (one line)")
	fs.StringVar(&c.ClusterAddrs, "redis-cluster-addrs", "", "comma-separated seed host:port addresses of a Redis Cluster")
}

// Mode tells how Redis is reached: RedisOff, RedisSingle, RedisSentinel
// or RedisCluster. Validate ensures at most one is configured.
func (c *RedisConfig) Mode() string {
	switch {
	case c.ClusterAddrs != "":
		return RedisCluster
	case c.SentinelMaster != "" || c.SentinelAddrs != "":
		return RedisSentinel
	case c.Addr != "":
		return RedisSingle
	}
	return RedisOff
}

// Enabled reports whether the inventory counters and caches live in Redis.
func (c *RedisConfig) Enabled() bool { return c.Mode() != RedisOff }

// TLSEnabled reports whether any setting asks for TLS.
func (c *RedisConfig) TLSEnabled() bool {
	return c.TLS || c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSKeyFile != "" || c.TLSServerName != "" || c.TLSInsecureSkipVerify
}

// SentinelAddrList returns the Sentinel addresses.
func (c *RedisConfig) SentinelAddrList() []string { return splitList(c.SentinelAddrs) }

// ClusterAddrList returns the cluster's seed addresses.
func (c *RedisConfig) ClusterAddrList() []string { return splitList(c.ClusterAddrs) }

// Endpoint describes where Redis is, for logs and errors; it holds no secret.
func (c *RedisConfig) Endpoint() string {
	switch c.Mode() {
	case RedisCluster:
		return "cluster " + strings.Join(c.ClusterAddrList(), ",")
	case RedisSentinel:
		return fmt.Sprintf("primary %q via Sentinel %s", c.SentinelMaster, strings.Join(c.SentinelAddrList(), ","))
	}
	return c.Addr
}

// Validate reports every problem of the section. Messages name flags and
// files, never a password.
func (c *RedisConfig) Validate() error {
	var p problems
	modes := 0
	for _, set := range []bool{c.Addr != "", c.SentinelMaster != "" || c.SentinelAddrs != "", c.ClusterAddrs != ""} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		p.add("--redis-addr, --redis-sentinel-master/--redis-sentinel-addrs and --redis-cluster-addrs are exclusive: give one")
	}
	if c.Addr != "" {
		if err := checkHostPort(c.Addr); err != nil {
			p.add("--redis-addr %q: %v", c.Addr, err)
		}
	}
	if (c.SentinelMaster == "") != (c.SentinelAddrs == "") {
		p.add("--redis-sentinel-master and --redis-sentinel-addrs go together")
	}
	if c.SentinelAddrs != "" && len(c.SentinelAddrList()) == 0 {
		p.add("--redis-sentinel-addrs names no address")
	}
	for _, a := range c.SentinelAddrList() {
		if err := checkHostPort(a); err != nil {
			p.add("--redis-sentinel-addrs entry %q: %v", a, err)
		}
	}
	if c.SentinelPasswordFile != "" && c.Mode() != RedisSentinel {
		p.add("--redis-sentinel-password-file needs --redis-sentinel-master")
	}
	if c.ClusterAddrs != "" && len(c.ClusterAddrList()) == 0 {
		p.add("--redis-cluster-addrs names no address")
	}
	for _, a := range c.ClusterAddrList() {
		if err := checkHostPort(a); err != nil {
			p.add("--redis-cluster-addrs entry %q: %v", a, err)
		}
	}
	if c.Shards < 1 || c.Shards > 16384 {
		p.add("--redis-shards must be 1-16384, got %d", c.Shards)
	}
	if c.DB < 0 {
		p.add("--redis-db must not be negative, got %d", c.DB)
	}
	if c.DB != 0 && c.Mode() == RedisCluster {
		// Redis Cluster has database 0 only.
		p.add("--redis-db must be 0 with --redis-cluster-addrs, got %d", c.DB)
	}
	if c.Password != "" && c.PasswordFile != "" {
		p.add("--redis-password and --redis-password-file are exclusive")
	}
	if c.Username != "" && c.Password == "" && c.PasswordFile == "" {
		p.add("--redis-username needs --redis-password or --redis-password-file")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p.add("--redis-tls-cert-file and --redis-tls-key-file go together: set both or neither")
	}
	p.files(
		fileFlag{"--redis-password-file", c.PasswordFile},
		fileFlag{"--redis-sentinel-password-file", c.SentinelPasswordFile},
		fileFlag{"--redis-tls-ca-file", c.TLSCAFile},
		fileFlag{"--redis-tls-cert-file", c.TLSCertFile},
		fileFlag{"--redis-tls-key-file", c.TLSKeyFile},
	)
	return p.err()
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// InventoryConfig is the section of stock alerts.
type InventoryConfig struct {
	AlertWebhookURL string
	AlertHysteresis float64
}

// RegisterFlags declares the section's settings on fs.
func (c *InventoryConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.AlertWebhookURL, "alert-webhook-url", "", "URL the inventory-alerts role POSTs each alert to (JSON), retried with backoff")
	fs.Float64Var(&c.AlertHysteresis, "alert-hysteresis", 0.10, "a low-stock alert re-arms at threshold x (1 + this)")
}

// Validate reports every problem of the section.
func (c *InventoryConfig) Validate() error {
	var p problems
	if c.AlertWebhookURL != "" {
		if u, err := url.Parse(c.AlertWebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("--alert-webhook-url must be an http(s) URL")
		}
	}
	if c.AlertHysteresis < 0 || c.AlertHysteresis > 10 {
		p.add("--alert-hysteresis must be 0-10, got %g", c.AlertHysteresis)
	}
	return p.err()
}

// OrdersConfig is the checkout's section: reservations and the clean-up of
// checkouts that died.
type OrdersConfig struct {
	ReservationTTL time.Duration
	SweepInterval  time.Duration
	RecoverAfter   time.Duration
}

// RegisterFlags declares the section's settings on fs.
func (c *OrdersConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.ReservationTTL, "reservation-ttl", 15*time.Minute, "how long an order's stock stays reserved before the sweeper releases it")
	fs.DurationVar(&c.SweepInterval, "sweep-interval", 10*time.Second, "how often expired reservations and interrupted checkouts are cleaned up")
	fs.DurationVar(&c.RecoverAfter, "order-recover-after", time.Minute, "an order stuck in reserved this long (its request died) is abandoned: payment voided, stock returned")
}

// Validate reports every problem of the section; Config.Validate checks
// --order-recover-after against --payment-timeout.
func (c *OrdersConfig) Validate() error {
	var p problems
	if c.ReservationTTL < time.Second {
		p.add("--reservation-ttl must be at least 1s")
	}
	if c.SweepInterval <= 0 {
		p.add("--sweep-interval must be positive")
	}
	return p.err()
}

// PaymentsConfig is the payment gateway's section.
type PaymentsConfig struct {
	Timeout     time.Duration
	SlowDelay   time.Duration
	Latency     time.Duration
	DeclineRate float64
}

// RegisterFlags declares the section's settings on fs.
func (c *PaymentsConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.Timeout, "payment-timeout", 5*time.Second, "how long checkout waits for the payment gateway")
	fs.DurationVar(&c.SlowDelay, "payment-slow-delay", 2*time.Second, "simulated gateway: how long tok_slow takes to approve")
	fs.DurationVar(&c.Latency, "payment-latency", 0, "simulated gateway: latency added to every authorization")
	fs.Float64Var(&c.DeclineRate, "payment-decline-rate", 0, "simulated gateway: share of tok_ok payments declined at random (0-1)")
}

// Validate reports every problem of the section.
func (c *PaymentsConfig) Validate() error {
	var p problems
	if c.Timeout <= 0 || c.SlowDelay < 0 || c.Latency < 0 {
		p.add("--payment-timeout must be positive, --payment-slow-delay and --payment-latency not negative")
	}
	if c.DeclineRate < 0 || c.DeclineRate > 1 {
		p.add("--payment-decline-rate must be 0-1, got %g", c.DeclineRate)
	}
	return p.err()
}

// ReplenishmentConfig is the purchase orders' section.
type ReplenishmentConfig struct {
	HoldingRate       float64
	DemandHorizon     time.Duration
	PriorDailyDemand  float64
	UrgentLimit       time.Duration
	SimulatedSupplier bool
	SupplierTimeScale float64
}

// RegisterFlags declares the section's settings on fs.
func (c *ReplenishmentConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.Float64Var(&c.HoldingRate, "holding-rate", 0.25, "replenishment: yearly cost of holding a unit, as a share of its unit cost (EOQ's H)")
	fs.DurationVar(&c.DemandHorizon, "demand-horizon", 28*24*time.Hour, "replenishment: daily demand history used for d and σ")
	fs.Float64Var(&c.PriorDailyDemand, "prior-daily-demand", 1, "replenishment: daily demand assumed for a SKU with under a week of history")
	fs.DurationVar(&c.UrgentLimit, "urgent-limit", 48*time.Hour, "replenishment: an out-of-stock SKU whose open order arrives later than this gets an urgent order (0 disables)")
	fs.BoolVar(&c.SimulatedSupplier, "simulated-supplier", true, "replenishment: a simulated supplier confirms, ships and delivers purchase orders")
	fs.Float64Var(&c.SupplierTimeScale, "supplier-time-scale", 1, "simulated supplier clock speed (1440: a day of lead time per minute)")
}

// Validate reports every problem of the section.
func (c *ReplenishmentConfig) Validate() error {
	var p problems
	if c.HoldingRate <= 0 || c.HoldingRate > 10 {
		p.add("--holding-rate must be in (0, 10], got %g", c.HoldingRate)
	}
	if c.DemandHorizon < 24*time.Hour {
		p.add("--demand-horizon must be at least 24h")
	}
	if c.PriorDailyDemand < 0 || c.UrgentLimit < 0 || c.SupplierTimeScale <= 0 {
		p.add("--prior-daily-demand and --urgent-limit must not be negative, --supplier-time-scale must be positive")
	}
	return p.err()
}

// PricingConfig is the pricing role's section.
type PricingConfig struct {
	InstanceID string
	Window     time.Duration
	Slide      time.Duration
	// OutOfOrderness, AllowedLateness and IdleTimeout are the event-time
	// tolerances (pricing.Config).
	OutOfOrderness  time.Duration
	AllowedLateness time.Duration
	IdleTimeout     time.Duration
}

// RegisterFlags declares the section's settings on fs.
func (c *PricingConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.InstanceID, "pricing-instance-id", "pricing-0", "pricing: this instance's stable id (its Kafka transactional id and static group member id); unique per instance")
	fs.DurationVar(&c.Window, "pricing-window", 5*time.Minute, "pricing: span of the short demand window (event time)")
	fs.DurationVar(&c.Slide, "pricing-slide", time.Minute, "pricing: how often the window is evaluated (event time)")
	fs.DurationVar(&c.OutOfOrderness, "pricing-out-of-orderness", 5*time.Second, "pricing: how far behind the newest event a record may arrive and still be placed exactly (watermark = newest event time − this)")
	fs.DurationVar(&c.AllowedLateness, "pricing-allowed-lateness", time.Minute, "pricing: how far behind the watermark a purchase still counts; older ones go to commerce.purchases.late")
	fs.DurationVar(&c.IdleTimeout, "pricing-idle-timeout", 30*time.Second, "pricing: wall-clock time without records after which a partition's watermark follows the clock, so quiet partitions still close their windows")
}

// Validate reports every problem of the section.
func (c *PricingConfig) Validate() error {
	var p problems
	if c.InstanceID == "" || len(c.InstanceID) > 100 {
		p.add("--pricing-instance-id must be 1-100 characters")
	}
	if c.Slide <= 0 || c.Window < c.Slide || c.Window%c.Slide != 0 {
		p.add("--pricing-window must be a whole number of --pricing-slide")
	}
	if c.OutOfOrderness < 0 || c.AllowedLateness < 0 || c.IdleTimeout <= 0 {
		p.add("--pricing-out-of-orderness and --pricing-allowed-lateness must not be negative, --pricing-idle-timeout must be positive")
	}
	return p.err()
}

// SearchConfig is review search's section: Elasticsearch, or a Bleve index
// in the data dir when no URL is set.
type SearchConfig struct {
	ElasticsearchURL    string
	ElasticsearchIndex  string
	ElasticsearchAPIKey string
}

// RegisterFlags declares the section's settings on fs.
func (c *SearchConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.ElasticsearchURL, "elasticsearch-url", "", "Elasticsearch 8 for review search (comma-separated URLs); empty keeps a Bleve index in <data-dir>/reviews.bleve")
	fs.StringVar(&c.ElasticsearchIndex, "elasticsearch-index", "mercato-reviews", "Elasticsearch index (and template) name")
	fs.StringVar(&c.ElasticsearchAPIKey, "elasticsearch-api-key", "", "Elasticsearch API key (prefer MERCATO_ELASTICSEARCH_API_KEY; never logged)")
}

// Validate reports every problem of the section.
func (c *SearchConfig) Validate() error {
	var p problems
	if c.ElasticsearchURL != "" {
		for _, raw := range strings.Split(c.ElasticsearchURL, ",") {
			if u, err := url.Parse(strings.TrimSpace(raw)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p.add("--elasticsearch-url entries must be http(s) URLs")
				break
			}
		}
	}
	if c.ElasticsearchIndex == "" || strings.ToLower(c.ElasticsearchIndex) != c.ElasticsearchIndex || strings.ContainsAny(c.ElasticsearchIndex, ` ,/*?"<>|#\`) {
		p.add("--elasticsearch-index must be a lowercase Elasticsearch index name")
	}
	return p.err()
}

// LakeConfig is the Parquet sales lake's section.
type LakeConfig struct {
	Dir           string
	Timezone      string
	FlushInterval time.Duration
	FlushRecords  int
}

// RegisterFlags declares the section's settings on fs.
func (c *LakeConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Dir, "lake-dir", "", "root of the Parquet sales lake (default <data-dir>/lake)")
	fs.StringVar(&c.Timezone, "lake-timezone", "Asia/Seoul", "time zone the lake's date partitions and report days are cut in")
	fs.DurationVar(&c.FlushInterval, "lake-flush-interval", 10*time.Second, "lake-sink: longest a consumed event waits before its Parquet file is written")
	fs.IntVar(&c.FlushRecords, "lake-flush-records", 100_000, "lake-sink: events per Parquet write at most")
}

// Validate reports every problem of the section.
func (c *LakeConfig) Validate() error {
	var p problems
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		p.add("--lake-timezone %q: unknown time zone", c.Timezone)
	}
	if c.FlushInterval <= 0 || c.FlushRecords < 1 {
		p.add("--lake-flush-interval and --lake-flush-records must be positive")
	}
	return p.err()
}

// Location is the zone lake days are cut in (validated by Validate).
func (c *LakeConfig) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// ReportsConfig is the batch reports' section: the engine and the
// reports role's schedule.
type ReportsConfig struct {
	Engine       string
	Schedule     string
	Timezone     string
	CatchUpDays  int
	Retries      int
	RetryBackoff time.Duration
	StaleCheck   time.Duration
	Threads      int
	MemoryLimit  string
	SparkRemote  string
	SparkLakeURI string
}

// RegisterFlags declares the section's settings on fs.
func (c *ReportsConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Engine, "report-engine", "duckdb", "batch report engine: duckdb (embedded) or spark (Spark Connect)")
	fs.StringVar(&c.Schedule, "report-schedule", "10 0 * * *", "reports: cron expression (5 fields) of the daily sales report run, in --report-timezone")
	fs.StringVar(&c.Timezone, "report-timezone", "Asia/Seoul", "reports: time zone of --report-schedule")
	fs.IntVar(&c.CatchUpDays, "report-catchup-days", 7, "reports: how many past days a restarted scheduler checks for missed runs")
	fs.IntVar(&c.Retries, "report-retries", 3, "reports: attempts after a failed run before giving up until the next schedule")
	fs.DurationVar(&c.RetryBackoff, "report-retry-backoff", time.Minute, "reports: wait before the first retry, doubled after each")
	fs.DurationVar(&c.StaleCheck, "report-stale-check", 5*time.Minute, "reports: how often days whose lake data changed after their report are re-run")
	fs.IntVar(&c.Threads, "report-threads", 0, "duckdb: worker threads (0: one per core)")
	fs.StringVar(&c.MemoryLimit, "report-memory-limit", "", "duckdb: memory limit such as 4GB (empty: DuckDB's default)")
	fs.StringVar(&c.SparkRemote, "spark-remote", "", "spark: Spark Connect address, sc://host:15002")
	fs.StringVar(&c.SparkLakeURI, "spark-lake-uri", "", "spark: the lake root as Spark sees it (default: --lake-dir as an absolute path)")
}

// Validate reports every problem of the section; Config.Validate checks
// --report-timezone against --lake-timezone.
func (c *ReportsConfig) Validate() error {
	var p problems
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		p.add("--report-timezone %q: unknown time zone", c.Timezone)
	}
	if _, err := cron.ParseStandard(c.Schedule); err != nil || strings.HasPrefix(strings.TrimSpace(c.Schedule), "@") {
		p.add("--report-schedule %q: want a 5-field cron expression such as \"10 0 * * *\"", c.Schedule)
	}
	switch c.Engine {
	case "duckdb":
	case "spark":
		if !strings.HasPrefix(c.SparkRemote, "sc://") {
			p.add("--report-engine spark needs --spark-remote sc://host:port")
		}
	default:
		p.add("--report-engine must be duckdb or spark, got %q", c.Engine)
	}
	if c.CatchUpDays < 0 || c.CatchUpDays > 366 {
		p.add("--report-catchup-days must be 0-366")
	}
	if c.Retries < 0 || c.RetryBackoff <= 0 || c.StaleCheck <= 0 {
		p.add("--report-retries must be >= 0, --report-retry-backoff and --report-stale-check positive")
	}
	return p.err()
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

// Validate reports every problem at once, one error per problem: the
// process's own settings, each section's, then the rules that span sections.
func (c *Config) Validate() error {
	var p problems
	if c.DataDir == "" {
		p.add("--data-dir must not be empty")
	}
	p.merge(c.HTTP.Validate())
	p.merge(c.Kafka.Validate())
	switch c.Profile {
	case ProfileEmbedded:
	case ProfileDistributed:
		if c.Kafka.Brokers == "" {
			p.add("--profile distributed needs --kafka-brokers")
		}
		roles, err := c.RoleList()
		needsDB := err != nil || NeedsStore(roles)
		if needsDB && !strings.HasPrefix(c.Store.DB, "postgres://") && !strings.HasPrefix(c.Store.DB, "postgresql://") {
			p.add("--profile distributed needs --db postgres://... (the roles %s keep the system of record there)", strings.Join(storeRoles, ", "))
		}
	default:
		p.add("--profile must be embedded or distributed, got %q", c.Profile)
	}
	p.merge(c.Store.Validate())
	if _, err := c.RoleList(); err != nil {
		p.add("--roles: %v", err)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		p.add("--log-level must be debug, info, warn or error, got %q", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		p.add("--log-format must be text or json, got %q", c.LogFormat)
	}
	if c.ShutdownTimeout <= 0 {
		p.add("--shutdown-timeout must be positive")
	}
	if c.ShutdownDrain < 0 {
		p.add("--shutdown-drain must not be negative")
	}
	p.merge(c.Lake.Validate())
	p.merge(c.Reports.Validate())
	if _, err := time.LoadLocation(c.Reports.Timezone); err == nil && c.Reports.Timezone != c.Lake.Timezone {
		// The scheduler reports "the day that just ended" in its zone; the
		// lake cuts days in its own. They must be the same days.
		p.add("--report-timezone (%s) must equal --lake-timezone (%s)", c.Reports.Timezone, c.Lake.Timezone)
	}
	p.merge(c.Outbox.Validate())
	p.merge(c.Redis.Validate())
	p.merge(c.Inventory.Validate())
	p.merge(c.Orders.Validate())
	p.merge(c.Payments.Validate())
	p.merge(c.Replenishment.Validate())
	p.merge(c.Pricing.Validate())
	p.merge(c.Search.Validate())
	if c.Orders.RecoverAfter <= c.Payments.Timeout {
		p.add("--order-recover-after (%s) must be longer than --payment-timeout (%s)", c.Orders.RecoverAfter, c.Payments.Timeout)
	}
	return p.err()
}

// problems collects a validation's failures, each wrapping ErrInvalid.
type problems []error

func (p *problems) add(format string, a ...any) {
	*p = append(*p, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...)))
}

// merge adds a section's failures one by one, so Config.Validate returns a
// flat list like each section does.
func (p *problems) merge(err error) {
	if err == nil {
		return
	}
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		*p = append(*p, multi.Unwrap()...)
		return
	}
	*p = append(*p, err)
}

func (p problems) err() error { return errors.Join(p...) }

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
	if c.Store.DB != "" {
		return c.Store.DB
	}
	return "sqlite:" + c.DataDir + "/mercato.db"
}

// LakeRoot returns the lake root: --lake-dir, or lake/ in the data dir.
func (c *Config) LakeRoot() string {
	if c.Lake.Dir != "" {
		return c.Lake.Dir
	}
	return filepath.Join(c.DataDir, "lake")
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

// fileFlag is a flag naming a file (a secret, a certificate).
type fileFlag struct{ flag, path string }

// files reports each named file that does not exist or is a directory.
func (p *problems) files(fs ...fileFlag) {
	for _, f := range fs {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(f.path); err != nil {
			p.add("%s %s: %v", f.flag, f.path, errors.Unwrap(err))
		} else if st.IsDir() {
			p.add("%s %s is a directory", f.flag, f.path)
		}
	}
}

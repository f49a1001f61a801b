package config_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/config"
)

func load(t *testing.T, args, env []string) (config.Config, error) {
	t.Helper()
	var c config.Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	c.RegisterFlags(fs)
	if err := config.Load(fs, args, env); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "./mercato-data" || c.HTTP.Addr != "127.0.0.1:8080" || c.Kafka.Listen != "127.0.0.1:9092" ||
		c.Kafka.Partitions != 8 || c.Profile != "embedded" || c.Roles != "all" {
		t.Errorf("defaults = %+v", c)
	}
	if c.DBOrDefault() != "sqlite:./mercato-data/mercato.db" {
		t.Errorf("default db = %s", c.DBOrDefault())
	}
	roles, _ := c.RoleList()
	if strings.Join(roles, ",") != "api,outbox-relay,inventory-alerts,replenishment,pricing,reviews,lake-sink,reports" {
		t.Errorf("roles = %v", roles)
	}
}

func TestPrecedenceFlagEnvFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "m.yaml")
	yaml := "data-dir: /from/file\nhttp-addr: 127.0.0.1:1\npartitions: 3\nroles: [api]\noutbox-poll-interval: 1s\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"--config", file, "--data-dir", "/from/flag"}, []string{"MERCATO_HTTP_ADDR=127.0.0.1:2", "OTHER=x"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from/flag" || c.HTTP.Addr != "127.0.0.1:2" || c.Kafka.Partitions != 3 || c.Roles != "api" || c.Outbox.PollInterval != time.Second {
		t.Errorf("merged = %+v", c)
	}
	// MERCATO_CONFIG names the file too.
	c, err = load(t, nil, []string{"MERCATO_CONFIG=" + file})
	if err != nil || c.DataDir != "/from/file" {
		t.Errorf("MERCATO_CONFIG: %+v, %v", c.DataDir, err)
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{"bad addr", []string{"--http-addr", "nope"}, nil, []string{"--http-addr"}},
		{"many", []string{"--partitions", "0", "--profile", "cloud", "--roles", "api,bogus", "--log-level", "loud"}, nil,
			[]string{"--partitions", "--profile", "unknown role \"bogus\"", "--log-level"}},
		{"report engine", []string{"--report-engine", "spark"}, nil, []string{"--spark-remote sc://"}},
		{"report schedule", []string{"--report-schedule", "every day"}, nil, []string{"5-field cron"}},
		{"report timezone", []string{"--report-timezone", "Mars/Olympus"}, nil, []string{"unknown time zone"}},
		{"report and lake days differ", []string{"--report-timezone", "UTC"}, nil, []string{"must equal --lake-timezone"}},
		{"short token", []string{"--admin-token", "abc"}, nil, []string{"at least 16"}},
		{"db", []string{"--db", "mysql://x"}, nil, []string{"--db"}},
		{"distributed needs engines", []string{"--profile", "distributed"}, nil, []string{"--kafka-brokers", "postgres"}},
		{"distributed api needs postgres", []string{"--profile", "distributed", "--kafka-brokers", "k:9092", "--roles", "pricing,api"}, nil, []string{"needs --db postgres"}},
		{"session timeout", []string{"--kafka-session-timeout", "100ms"}, nil, []string{"--kafka-session-timeout"}},
		{"pricing tolerances", []string{"--pricing-allowed-lateness", "-1s", "--pricing-idle-timeout", "0s"}, nil, []string{"--pricing-idle-timeout must be positive"}},
		{"bad env", nil, []string{"MERCATO_PARTITIONS=many"}, []string{"MERCATO_PARTITIONS"}},
		{"bad broker list", []string{"--kafka-brokers", "a:1,b"}, nil, []string{"\"b\""}},
		{"unknown flag", []string{"--nope"}, nil, []string{"nope"}},
		{"sync", []string{"--sqlite-synchronous", "OFF"}, nil, []string{"FULL or NORMAL"}},
		{"writer nice", []string{"--sqlite-writer-nice", "-21"}, nil, []string{"--sqlite-writer-nice must be -20 to 19"}},
		{"redis", []string{"--redis-addr", "nohost", "--redis-shards", "0"}, nil, []string{"--redis-addr", "--redis-shards"}},
		{"webhook", []string{"--alert-webhook-url", "ftp://x"}, nil, []string{"--alert-webhook-url"}},
		{"ttl", []string{"--reservation-ttl", "10ms"}, nil, []string{"--reservation-ttl"}},
		{"log format", []string{"--log-format", "xml"}, nil, []string{"--log-format must be text or json"}},
		{"drain", []string{"--shutdown-drain", "-1s"}, nil, []string{"--shutdown-drain must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, tt.args, tt.env)
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to mention %q", err, w)
				}
			}
		})
	}
}

// A process of Kafka-only roles is given no database.
func TestKafkaOnlyRolesNeedNoDatabase(t *testing.T) {
	t.Parallel()
	c, err := load(t, []string{"--profile", "distributed", "--kafka-brokers", "k:9092", "--roles", "pricing,inventory-alerts,lake-sink"}, nil)
	if err != nil {
		t.Fatalf("pricing, inventory-alerts and lake-sink without --db: %v", err)
	}
	roles, _ := c.RoleList()
	if config.NeedsStore(roles) {
		t.Errorf("NeedsStore(%v) = true", roles)
	}
}

func TestFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unknown := filepath.Join(dir, "u.yaml")
	_ = os.WriteFile(unknown, []byte("data-dri: x\n"), 0o600)
	broken := filepath.Join(dir, "b.yaml")
	_ = os.WriteFile(broken, []byte("data-dir: [\n"), 0o600)
	for path, want := range map[string]string{unknown: `unknown key "data-dri"`, broken: "yaml", filepath.Join(dir, "missing.yaml"): "reading config file"} {
		if _, err := load(t, []string{"--config", path}, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", filepath.Base(path), err, want)
		}
	}
}

func TestParseDBRedactsPasswords(t *testing.T) {
	t.Parallel()
	kind, dsn, err := config.ParseDB("postgres://u:secret@127.0.0.1:5432/db")
	if err != nil || kind != config.DBPostgres || dsn == "" {
		t.Fatalf("ParseDB = %s %s %v", kind, dsn, err)
	}
	if r := config.Redacted("postgres://u:secret@127.0.0.1/db"); strings.Contains(r, "secret") {
		t.Errorf("Redacted leaked the password: %s", r)
	}
	if k, p, err := config.ParseDB("sqlite:/tmp/x.db"); err != nil || k != config.DBSQLite || p != "/tmp/x.db" {
		t.Errorf("sqlite = %s %s %v", k, p, err)
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	if got := config.EnvName("data-dir"); got != "MERCATO_DATA_DIR" {
		t.Errorf("EnvName = %s", got)
	}
}

// The flag names and defaults are the CLI's contract (and MERCATO_<FLAG>
// follows from the name): grouping Config into sections must not move them.
func TestFlagNamesAndDefaultsAreTheContract(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"admin-token":               "",
		"alert-hysteresis":          "0.1",
		"alert-webhook-url":         "",
		"data-dir":                  "./mercato-data",
		"db":                        "",
		"demand-horizon":            "672h0m0s",
		"elasticsearch-api-key":     "",
		"elasticsearch-index":       "mercato-reviews",
		"elasticsearch-url":         "",
		"holding-rate":              "0.25",
		"http-addr":                 "127.0.0.1:8080",
		"idempotency-ttl":           "24h0m0s",
		"kafka-brokers":             "",
		"kafka-listen":              "127.0.0.1:9092",
		"lake-dir":                  "",
		"lake-flush-interval":       "10s",
		"lake-flush-records":        "100000",
		"lake-timezone":             "Asia/Seoul",
		"log-format":                "text",
		"log-level":                 "info",
		"order-recover-after":       "1m0s",
		"outbox-batch":              "500",
		"outbox-poll-interval":      "20ms",
		"partitions":                "8",
		"payment-decline-rate":      "0",
		"payment-latency":           "0s",
		"payment-slow-delay":        "2s",
		"payment-timeout":           "5s",
		"pricing-instance-id":       "pricing-0",
		"pricing-slide":             "1m0s",
		"pricing-out-of-orderness":  "5s",
		"pricing-allowed-lateness":  "1m0s",
		"pricing-idle-timeout":      "30s",
		"pricing-window":            "5m0s",
		"prior-daily-demand":        "1",
		"profile":                   "embedded",
		"redis-addr":                "",
		"redis-shards":              "1",
		"report-catchup-days":       "7",
		"report-engine":             "duckdb",
		"report-memory-limit":       "",
		"report-retries":            "3",
		"report-retry-backoff":      "1m0s",
		"report-schedule":           "10 0 * * *",
		"report-stale-check":        "5m0s",
		"report-threads":            "0",
		"report-timezone":           "Asia/Seoul",
		"reservation-ttl":           "15m0s",
		"roles":                     "all",
		"shutdown-drain":            "5s",
		"shutdown-timeout":          "10s",
		"simulated-supplier":        "true",
		"spark-lake-uri":            "",
		"spark-remote":              "",
		"sqlite-synchronous":        "FULL",
		"sqlite-writer-nice":        "-10",
		"postgres-checkout-batches": "true",
		"supplier-time-scale":       "1",
		"sweep-interval":            "10s",
		"topic-prefix":              "",
		"urgent-limit":              "48h0m0s",

		// Redis connection (secrets have no default that --help could show).
		"redis-username":                 "",
		"redis-password":                 "",
		"redis-password-file":            "",
		"redis-db":                       "0",
		"redis-tls":                      "false",
		"redis-tls-ca-file":              "",
		"redis-tls-cert-file":            "",
		"redis-tls-key-file":             "",
		"redis-tls-server-name":          "",
		"redis-tls-insecure-skip-verify": "false",
		"redis-sentinel-master":          "",
		"redis-sentinel-addrs":           "",
		"redis-sentinel-password-file":   "",
		"redis-cluster-addrs":            "",

		// Kafka security and topic settings.
		"kafka-tls":                      "false",
		"kafka-tls-ca-file":              "",
		"kafka-tls-cert-file":            "",
		"kafka-tls-key-file":             "",
		"kafka-tls-server-name":          "",
		"kafka-tls-insecure-skip-verify": "false",
		"kafka-sasl-mechanism":           "",
		"kafka-sasl-username":            "",
		"kafka-sasl-password":            "",
		"kafka-sasl-password-file":       "",
		"kafka-sasl-oauth-token-file":    "",
		"kafka-client-id":                "mercato",
		"kafka-rack":                     "",
		"kafka-replication-factor":       "-1",
		"kafka-min-insync-replicas":      "0",
		"kafka-auto-create-topics":       "true",
		"kafka-listen-tls-cert-file":     "",
		"kafka-listen-tls-key-file":      "",
		"kafka-role-secrets-dir":         "",
		"kafka-session-timeout":          "45s",
	}
	var c config.Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.RegisterFlags(fs)
	got := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { got[f.Name] = f.DefValue })
	for name, def := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("flag --%s is gone", name)
		} else if g != def {
			t.Errorf("--%s default = %q, want %q", name, g, def)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected flag --%s", name)
		}
	}
}

// Every flag lands in its section's field.
func TestFlagsFillTheirSection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		flag, value string
		got         func(c *config.Config) any
		want        any
	}{
		{"data-dir", "/d", func(c *config.Config) any { return c.DataDir }, "/d"},
		{"profile", "distributed", func(c *config.Config) any { return c.Profile }, "distributed"},
		{"roles", "api", func(c *config.Config) any { return c.Roles }, "api"},
		{"log-level", "debug", func(c *config.Config) any { return c.LogLevel }, "debug"},
		{"log-format", "json", func(c *config.Config) any { return c.LogFormat }, "json"},
		{"shutdown-timeout", "3s", func(c *config.Config) any { return c.ShutdownTimeout }, 3 * time.Second},
		{"shutdown-drain", "0s", func(c *config.Config) any { return c.ShutdownDrain }, time.Duration(0)},
		{"http-addr", "127.0.0.1:1", func(c *config.Config) any { return c.HTTP.Addr }, "127.0.0.1:1"},
		{"admin-token", "t", func(c *config.Config) any { return c.HTTP.AdminToken }, "t"},
		{"idempotency-ttl", "2h", func(c *config.Config) any { return c.HTTP.IdempotencyTTL }, 2 * time.Hour},
		{"kafka-listen", "127.0.0.1:2", func(c *config.Config) any { return c.Kafka.Listen }, "127.0.0.1:2"},
		{"kafka-brokers", "a:1, b:2", func(c *config.Config) any { return c.Kafka.SeedBrokers() }, []string{"a:1", "b:2"}},
		{"topic-prefix", "p.", func(c *config.Config) any { return c.Kafka.TopicPrefix }, "p."},
		{"partitions", "3", func(c *config.Config) any { return c.Kafka.Partitions }, 3},
		{"db", "sqlite:/x.db", func(c *config.Config) any { return c.DBOrDefault() }, "sqlite:/x.db"},
		{"sqlite-synchronous", "NORMAL", func(c *config.Config) any { return c.Store.SQLiteSync }, "NORMAL"},
		{"sqlite-writer-nice", "5", func(c *config.Config) any { return c.Store.SQLiteNice }, 5},
		{"postgres-checkout-batches", "false", func(c *config.Config) any { return c.Store.PGCheckoutBatches }, false},
		{"outbox-poll-interval", "1s", func(c *config.Config) any { return c.Outbox.PollInterval }, time.Second},
		{"outbox-batch", "7", func(c *config.Config) any { return c.Outbox.Batch }, 7},
		{"redis-addr", "127.0.0.1:3", func(c *config.Config) any { return c.Redis.Addr }, "127.0.0.1:3"},
		{"redis-shards", "4", func(c *config.Config) any { return c.Redis.Shards }, 4},
		{"redis-username", "u", func(c *config.Config) any { return c.Redis.Username }, "u"},
		{"redis-password", "p", func(c *config.Config) any { return c.Redis.Password }, "p"},
		{"redis-password-file", "/pw", func(c *config.Config) any { return c.Redis.PasswordFile }, "/pw"},
		{"redis-db", "3", func(c *config.Config) any { return c.Redis.DB }, 3},
		{"redis-tls", "true", func(c *config.Config) any { return c.Redis.TLSEnabled() }, true},
		{"redis-tls-ca-file", "/ca", func(c *config.Config) any { return c.Redis.TLSCAFile }, "/ca"},
		{"redis-tls-cert-file", "/c", func(c *config.Config) any { return c.Redis.TLSCertFile }, "/c"},
		{"redis-tls-key-file", "/k", func(c *config.Config) any { return c.Redis.TLSKeyFile }, "/k"},
		{"redis-tls-server-name", "r.example", func(c *config.Config) any { return c.Redis.TLSServerName }, "r.example"},
		{"redis-tls-insecure-skip-verify", "true", func(c *config.Config) any { return c.Redis.TLSInsecureSkipVerify }, true},
		{"redis-sentinel-master", "m", func(c *config.Config) any { return c.Redis.SentinelMaster }, "m"},
		{"redis-sentinel-addrs", "s1:26379, s2:26379", func(c *config.Config) any { return c.Redis.SentinelAddrList() }, []string{"s1:26379", "s2:26379"}},
		{"redis-sentinel-password-file", "/spw", func(c *config.Config) any { return c.Redis.SentinelPasswordFile }, "/spw"},
		{"redis-cluster-addrs", "n1:7000,n2:7000", func(c *config.Config) any { return c.Redis.ClusterAddrList() }, []string{"n1:7000", "n2:7000"}},
		{"kafka-tls", "true", func(c *config.Config) any { return c.Kafka.TLS }, true},
		{"kafka-tls-ca-file", "/ca", func(c *config.Config) any { return c.Kafka.TLSCAFile }, "/ca"},
		{"kafka-tls-cert-file", "/c", func(c *config.Config) any { return c.Kafka.TLSCertFile }, "/c"},
		{"kafka-tls-key-file", "/k", func(c *config.Config) any { return c.Kafka.TLSKeyFile }, "/k"},
		{"kafka-tls-server-name", "kafka.internal", func(c *config.Config) any { return c.Kafka.TLSServerName }, "kafka.internal"},
		{"kafka-tls-insecure-skip-verify", "true", func(c *config.Config) any { return c.Kafka.TLSInsecureSkipVerify }, true},
		{"kafka-sasl-mechanism", "PLAIN", func(c *config.Config) any { return c.Kafka.SASLMechanism }, "PLAIN"},
		{"kafka-sasl-username", "u", func(c *config.Config) any { return c.Kafka.SASLUsername }, "u"},
		{"kafka-sasl-password", "p", func(c *config.Config) any { return c.Kafka.SASLPassword }, "p"},
		{"kafka-sasl-password-file", "/pw", func(c *config.Config) any { return c.Kafka.SASLPasswordFile }, "/pw"},
		{"kafka-sasl-oauth-token-file", "/tok", func(c *config.Config) any { return c.Kafka.SASLOAuthTokenFile }, "/tok"},
		{"kafka-client-id", "m2", func(c *config.Config) any { return c.Kafka.ClientID }, "m2"},
		{"kafka-rack", "r1", func(c *config.Config) any { return c.Kafka.Rack }, "r1"},
		{"kafka-replication-factor", "3", func(c *config.Config) any { return c.Kafka.ReplicationFactor }, 3},
		{"kafka-min-insync-replicas", "2", func(c *config.Config) any { return c.Kafka.MinInsyncReplicas }, 2},
		{"kafka-auto-create-topics", "false", func(c *config.Config) any { return c.Kafka.AutoCreateTopics }, false},
		{"kafka-listen-tls-cert-file", "/lc", func(c *config.Config) any { return c.Kafka.ListenTLSCertFile }, "/lc"},
		{"kafka-listen-tls-key-file", "/lk", func(c *config.Config) any { return c.Kafka.ListenTLSKeyFile }, "/lk"},
		{"kafka-role-secrets-dir", "/rs", func(c *config.Config) any { return c.Kafka.RoleSecretsDir }, "/rs"},
		{"kafka-session-timeout", "6s", func(c *config.Config) any { return c.Kafka.SessionTimeout }, 6 * time.Second},
		{"alert-webhook-url", "http://h/", func(c *config.Config) any { return c.Inventory.AlertWebhookURL }, "http://h/"},
		{"alert-hysteresis", "0.5", func(c *config.Config) any { return c.Inventory.AlertHysteresis }, 0.5},
		{"reservation-ttl", "1m", func(c *config.Config) any { return c.Orders.ReservationTTL }, time.Minute},
		{"sweep-interval", "2s", func(c *config.Config) any { return c.Orders.SweepInterval }, 2 * time.Second},
		{"order-recover-after", "9m", func(c *config.Config) any { return c.Orders.RecoverAfter }, 9 * time.Minute},
		{"payment-timeout", "4s", func(c *config.Config) any { return c.Payments.Timeout }, 4 * time.Second},
		{"payment-slow-delay", "5s", func(c *config.Config) any { return c.Payments.SlowDelay }, 5 * time.Second},
		{"payment-latency", "6ms", func(c *config.Config) any { return c.Payments.Latency }, 6 * time.Millisecond},
		{"payment-decline-rate", "0.2", func(c *config.Config) any { return c.Payments.DeclineRate }, 0.2},
		{"holding-rate", "0.3", func(c *config.Config) any { return c.Replenishment.HoldingRate }, 0.3},
		{"demand-horizon", "48h", func(c *config.Config) any { return c.Replenishment.DemandHorizon }, 48 * time.Hour},
		{"prior-daily-demand", "2", func(c *config.Config) any { return c.Replenishment.PriorDailyDemand }, 2.0},
		{"urgent-limit", "1h", func(c *config.Config) any { return c.Replenishment.UrgentLimit }, time.Hour},
		{"simulated-supplier", "false", func(c *config.Config) any { return c.Replenishment.SimulatedSupplier }, false},
		{"supplier-time-scale", "60", func(c *config.Config) any { return c.Replenishment.SupplierTimeScale }, 60.0},
		{"pricing-instance-id", "pricing-7", func(c *config.Config) any { return c.Pricing.InstanceID }, "pricing-7"},
		{"pricing-window", "10m", func(c *config.Config) any { return c.Pricing.Window }, 10 * time.Minute},
		{"pricing-slide", "2m", func(c *config.Config) any { return c.Pricing.Slide }, 2 * time.Minute},
		{"pricing-out-of-orderness", "2s", func(c *config.Config) any { return c.Pricing.OutOfOrderness }, 2 * time.Second},
		{"pricing-allowed-lateness", "30s", func(c *config.Config) any { return c.Pricing.AllowedLateness }, 30 * time.Second},
		{"pricing-idle-timeout", "10m", func(c *config.Config) any { return c.Pricing.IdleTimeout }, 10 * time.Minute},
		{"elasticsearch-url", "http://es:9200", func(c *config.Config) any { return c.Search.ElasticsearchURL }, "http://es:9200"},
		{"elasticsearch-index", "idx", func(c *config.Config) any { return c.Search.ElasticsearchIndex }, "idx"},
		{"elasticsearch-api-key", "k", func(c *config.Config) any { return c.Search.ElasticsearchAPIKey }, "k"},
		{"lake-dir", "/lake", func(c *config.Config) any { return c.LakeRoot() }, "/lake"},
		{"lake-timezone", "UTC", func(c *config.Config) any { return c.Lake.Location().String() }, "UTC"},
		{"lake-flush-interval", "1s", func(c *config.Config) any { return c.Lake.FlushInterval }, time.Second},
		{"lake-flush-records", "10", func(c *config.Config) any { return c.Lake.FlushRecords }, 10},
		{"report-engine", "spark", func(c *config.Config) any { return c.Reports.Engine }, "spark"},
		{"report-schedule", "0 1 * * *", func(c *config.Config) any { return c.Reports.Schedule }, "0 1 * * *"},
		{"report-timezone", "UTC", func(c *config.Config) any { return c.Reports.Timezone }, "UTC"},
		{"report-catchup-days", "2", func(c *config.Config) any { return c.Reports.CatchUpDays }, 2},
		{"report-retries", "1", func(c *config.Config) any { return c.Reports.Retries }, 1},
		{"report-retry-backoff", "3s", func(c *config.Config) any { return c.Reports.RetryBackoff }, 3 * time.Second},
		{"report-stale-check", "4m", func(c *config.Config) any { return c.Reports.StaleCheck }, 4 * time.Minute},
		{"report-threads", "2", func(c *config.Config) any { return c.Reports.Threads }, 2},
		{"report-memory-limit", "1GB", func(c *config.Config) any { return c.Reports.MemoryLimit }, "1GB"},
		{"spark-remote", "sc://s:15002", func(c *config.Config) any { return c.Reports.SparkRemote }, "sc://s:15002"},
		{"spark-lake-uri", "s3://l", func(c *config.Config) any { return c.Reports.SparkLakeURI }, "s3://l"},
	}
	var c config.Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.RegisterFlags(fs)
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.flag] = true
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !covered[f.Name] {
			t.Errorf("--%s has no case here", f.Name)
		}
	})
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			t.Parallel()
			var c config.Config
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			c.RegisterFlags(fs)
			if err := fs.Parse([]string{"--" + tt.flag + "=" + tt.value}); err != nil {
				t.Fatal(err)
			}
			if got := tt.got(&c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("--%s %s: field = %#v, want %#v", tt.flag, tt.value, got, tt.want)
			}
		})
	}
}

// Each section checks itself; Config.Validate returns one flat list of
// problems, the rules spanning sections included.
func TestSectionsValidateThemselves(t *testing.T) {
	t.Parallel()
	base := func() config.Config {
		var c config.Config
		c.RegisterFlags(flag.NewFlagSet("test", flag.ContinueOnError))
		return c
	}
	tests := []struct {
		name    string
		section func(c *config.Config) error // nil: only Config.Validate sees it
		change  func(c *config.Config)
		want    []string
	}{
		{"http", func(c *config.Config) error { return c.HTTP.Validate() },
			func(c *config.Config) { c.HTTP.Addr, c.HTTP.IdempotencyTTL = "x", time.Second },
			[]string{"--http-addr", "--idempotency-ttl must be at least 1m"}},
		{"kafka", func(c *config.Config) error { return c.Kafka.Validate() },
			func(c *config.Config) { c.Kafka.Brokers, c.Kafka.Partitions = "a:1,b", 0 },
			[]string{`--kafka-brokers entry "b"`, "--partitions must be 1-1024, got 0"}},
		{"store", func(c *config.Config) error { return c.Store.Validate() },
			func(c *config.Config) { c.Store.DB, c.Store.SQLiteSync = "mysql://x", "OFF" },
			[]string{"--db: want sqlite:PATH", "--sqlite-synchronous must be FULL or NORMAL"}},
		{"outbox", func(c *config.Config) error { return c.Outbox.Validate() },
			func(c *config.Config) { c.Outbox.PollInterval, c.Outbox.Batch = 0, 0 },
			[]string{"--outbox-poll-interval must be positive", "--outbox-batch must be 1-10000"}},
		{"redis", func(c *config.Config) error { return c.Redis.Validate() },
			func(c *config.Config) { c.Redis.Addr, c.Redis.Shards = "nohost", 0 },
			[]string{"--redis-addr", "--redis-shards"}},
		{"inventory", func(c *config.Config) error { return c.Inventory.Validate() },
			func(c *config.Config) { c.Inventory.AlertWebhookURL, c.Inventory.AlertHysteresis = "ftp://x", -1 },
			[]string{"--alert-webhook-url", "--alert-hysteresis"}},
		{"orders", func(c *config.Config) error { return c.Orders.Validate() },
			func(c *config.Config) { c.Orders.ReservationTTL, c.Orders.SweepInterval = 0, 0 },
			[]string{"--reservation-ttl", "--sweep-interval"}},
		{"payments", func(c *config.Config) error { return c.Payments.Validate() },
			func(c *config.Config) { c.Payments.Latency, c.Payments.DeclineRate = -1, 2 },
			[]string{"--payment-latency not negative", "--payment-decline-rate must be 0-1"}},
		{"replenishment", func(c *config.Config) error { return c.Replenishment.Validate() },
			func(c *config.Config) { c.Replenishment.HoldingRate, c.Replenishment.DemandHorizon = 0, time.Hour },
			[]string{"--holding-rate", "--demand-horizon"}},
		{"pricing", func(c *config.Config) error { return c.Pricing.Validate() },
			func(c *config.Config) { c.Pricing.InstanceID, c.Pricing.Window = "", 90*time.Second },
			[]string{"--pricing-instance-id", "--pricing-window must be a whole number of --pricing-slide"}},
		{"search", func(c *config.Config) error { return c.Search.Validate() },
			func(c *config.Config) { c.Search.ElasticsearchURL, c.Search.ElasticsearchIndex = "es:9200", "Idx" },
			[]string{"--elasticsearch-url", "--elasticsearch-index"}},
		{"lake", func(c *config.Config) error { return c.Lake.Validate() },
			func(c *config.Config) { c.Lake.FlushRecords = 0 },
			[]string{"--lake-flush-interval and --lake-flush-records must be positive"}},
		{"reports", func(c *config.Config) error { return c.Reports.Validate() },
			func(c *config.Config) { c.Reports.Engine, c.Reports.CatchUpDays = "hive", 400 },
			[]string{`--report-engine must be duckdb or spark, got "hive"`, "--report-catchup-days"}},
		{"recovery outlives the payment timeout", nil,
			func(c *config.Config) { c.Orders.RecoverAfter = c.Payments.Timeout },
			[]string{"--order-recover-after (5s) must be longer than --payment-timeout (5s)"}},
		{"report and lake days", nil,
			func(c *config.Config) { c.Lake.Timezone = "UTC" },
			[]string{"--report-timezone (Asia/Seoul) must equal --lake-timezone (UTC)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := base()
			tt.change(&c)
			check := func(who string, err error) {
				t.Helper()
				multi, ok := err.(interface{ Unwrap() []error })
				if !ok || len(multi.Unwrap()) != len(tt.want) {
					t.Fatalf("%s = %v, want %d problems", who, err, len(tt.want))
				}
				for i, e := range multi.Unwrap() {
					if !errors.Is(e, config.ErrInvalid) || !strings.Contains(e.Error(), tt.want[i]) {
						t.Errorf("%s problem %d = %v, want ErrInvalid mentioning %q", who, i, e, tt.want[i])
					}
				}
			}
			if tt.section != nil {
				check("section", tt.section(&c))
			}
			check("Config.Validate", c.Validate())
		})
	}
}

func TestRedisConnectionValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name   string
		change func(c *config.RedisConfig)
		mode   string
		want   []string // problems, in order; none: valid
	}{
		{"off", func(*config.RedisConfig) {}, config.RedisOff, nil},
		{"single with ACL user and TLS", func(c *config.RedisConfig) {
			c.Addr, c.Username, c.PasswordFile, c.DB, c.TLSCAFile = "r:6379", "mercato", file, 2, file
		}, config.RedisSingle, nil},
		{"sentinel", func(c *config.RedisConfig) {
			c.SentinelMaster, c.SentinelAddrs, c.SentinelPasswordFile, c.Password = "main", "s1:26379,s2:26379", file, "x"
		}, config.RedisSentinel, nil},
		{"cluster", func(c *config.RedisConfig) { c.ClusterAddrs, c.Shards = "n1:7000, n2:7000", 16 }, config.RedisCluster, nil},
		{"cluster and single", func(c *config.RedisConfig) { c.Addr, c.ClusterAddrs = "r:6379", "n1:7000" }, config.RedisCluster,
			[]string{"are exclusive"}},
		{"cluster and sentinel", func(c *config.RedisConfig) {
			c.SentinelMaster, c.SentinelAddrs, c.ClusterAddrs = "main", "s1:26379", "n1:7000"
		}, config.RedisCluster, []string{"are exclusive"}},
		{"cluster has database 0 only", func(c *config.RedisConfig) { c.ClusterAddrs, c.DB = "n1:7000", 3 }, config.RedisCluster,
			[]string{"--redis-db must be 0 with --redis-cluster-addrs, got 3"}},
		{"bad addresses", func(c *config.RedisConfig) { c.ClusterAddrs = "n1:7000,n2" }, config.RedisCluster,
			[]string{`--redis-cluster-addrs entry "n2"`}},
		{"empty list", func(c *config.RedisConfig) { c.ClusterAddrs = " , " }, config.RedisCluster,
			[]string{"--redis-cluster-addrs names no address"}},
		{"sentinel half given", func(c *config.RedisConfig) { c.SentinelMaster = "main" }, config.RedisSentinel,
			[]string{"--redis-sentinel-master and --redis-sentinel-addrs go together"}},
		{"sentinel password without sentinel", func(c *config.RedisConfig) { c.Addr, c.SentinelPasswordFile = "r:6379", file }, config.RedisSingle,
			[]string{"--redis-sentinel-password-file needs --redis-sentinel-master"}},
		{"negative db", func(c *config.RedisConfig) { c.Addr, c.DB = "r:6379", -1 }, config.RedisSingle,
			[]string{"--redis-db must not be negative"}},
		{"two passwords", func(c *config.RedisConfig) { c.Addr, c.Password, c.PasswordFile = "r:6379", "p", file }, config.RedisSingle,
			[]string{"--redis-password and --redis-password-file are exclusive"}},
		{"user without password", func(c *config.RedisConfig) { c.Addr, c.Username = "r:6379", "mercato" }, config.RedisSingle,
			[]string{"--redis-username needs --redis-password or --redis-password-file"}},
		{"certificate without key", func(c *config.RedisConfig) { c.Addr, c.TLSCertFile = "r:6379", file }, config.RedisSingle,
			[]string{"--redis-tls-cert-file and --redis-tls-key-file go together"}},
		{"missing files", func(c *config.RedisConfig) { c.Addr, c.PasswordFile, c.TLSCAFile = "r:6379", missing, dir }, config.RedisSingle,
			[]string{"--redis-password-file " + missing + ": no such file", "--redis-tls-ca-file " + dir + " is a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c config.Config
			c.RegisterFlags(flag.NewFlagSet("test", flag.ContinueOnError))
			tt.change(&c.Redis)
			if got := c.Redis.Mode(); got != tt.mode {
				t.Errorf("Mode() = %q, want %q", got, tt.mode)
			}
			err := c.Redis.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want valid", err)
				}
				return
			}
			multi, ok := err.(interface{ Unwrap() []error })
			if !ok || len(multi.Unwrap()) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d problems", err, len(tt.want))
			}
			for i, e := range multi.Unwrap() {
				if !errors.Is(e, config.ErrInvalid) || !strings.Contains(e.Error(), tt.want[i]) {
					t.Errorf("problem %d = %v, want ErrInvalid mentioning %q", i, e, tt.want[i])
				}
			}
		})
	}
}

// Redis secrets show in no help text, validation error or endpoint
// description, however they are given.
func TestRedisSecretsStayHidden(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-redis-secret"
	var c config.Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	c.RegisterFlags(fs)
	// Invalid on purpose: the password given twice (environment and a
	// missing file) and a cluster with a database.
	err := config.Load(fs, []string{"--redis-cluster-addrs=n1:7000", "--redis-db=1", "--redis-password-file=/nonexistent/pw"},
		[]string{"MERCATO_REDIS_PASSWORD=" + secret})
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.Password != secret {
		t.Fatalf("MERCATO_REDIS_PASSWORD did not reach the section: %q", c.Redis.Password)
	}
	verr := c.Validate()
	if verr == nil {
		t.Fatal("Validate accepted an invalid Redis section")
	}
	var help strings.Builder
	fs.SetOutput(&help)
	fs.PrintDefaults()
	for what, s := range map[string]string{"validation error": verr.Error(), "help": help.String(), "endpoint": c.Redis.Endpoint()} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the Redis password: %s", what, s)
		}
	}
	if !strings.Contains(help.String(), "-redis-password-file") {
		t.Error("help does not list --redis-password-file")
	}
}

func TestKafkaSecurityValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pwFile := file("pw", "from-file\n")
	emptyFile := file("empty", "\n")
	tokenFile := file("token", "tok")
	pem := file("x.pem", "not checked here")
	tests := []struct {
		name string
		args []string
		want []string // problems, in order; none means valid
	}{
		{"SCRAM with password file", []string{"--kafka-sasl-mechanism=SCRAM-SHA-512", "--kafka-sasl-username=u", "--kafka-sasl-password-file=" + pwFile, "--kafka-tls-ca-file=" + pem}, nil},
		{"OAUTHBEARER", []string{"--kafka-sasl-mechanism=OAUTHBEARER", "--kafka-sasl-oauth-token-file=" + tokenFile}, nil},
		{"topic settings", []string{"--kafka-replication-factor=3", "--kafka-min-insync-replicas=2", "--kafka-auto-create-topics=false", "--kafka-rack=eu-1a"}, nil},
		{"unknown mechanism", []string{"--kafka-sasl-mechanism=GSSAPI"}, []string{"--kafka-sasl-mechanism must be"}},
		{"credentials without mechanism", []string{"--kafka-sasl-username=u"}, []string{"need --kafka-sasl-mechanism"}},
		{"SCRAM without credentials", []string{"--kafka-sasl-mechanism=SCRAM-SHA-256"}, []string{"needs --kafka-sasl-username", "needs --kafka-sasl-password or --kafka-sasl-password-file"}},
		{"password twice", []string{"--kafka-sasl-mechanism=PLAIN", "--kafka-sasl-username=u", "--kafka-sasl-password=p", "--kafka-sasl-password-file=" + pwFile}, []string{"are exclusive"}},
		{"missing password file", []string{"--kafka-sasl-mechanism=PLAIN", "--kafka-sasl-username=u", "--kafka-sasl-password-file=" + filepath.Join(dir, "nope")}, []string{"--kafka-sasl-password-file"}},
		{"empty password file", []string{"--kafka-sasl-mechanism=PLAIN", "--kafka-sasl-username=u", "--kafka-sasl-password-file=" + emptyFile}, []string{"is empty"}},
		{"OAUTHBEARER without token", []string{"--kafka-sasl-mechanism=OAUTHBEARER"}, []string{"needs --kafka-sasl-oauth-token-file"}},
		{"cert without key", []string{"--kafka-tls-cert-file=" + pem}, []string{"--kafka-tls-cert-file and --kafka-tls-key-file go together"}},
		{"listen cert without key", []string{"--kafka-listen-tls-cert-file=" + pem}, []string{"--kafka-listen-tls-cert-file and --kafka-listen-tls-key-file go together"}},
		{"replication zero", []string{"--kafka-replication-factor=0"}, []string{"--kafka-replication-factor must be -1"}},
		{"min ISR above replication", []string{"--kafka-replication-factor=2", "--kafka-min-insync-replicas=3"}, []string{"exceeds --kafka-replication-factor"}},
		{"empty client id", []string{"--kafka-client-id="}, []string{"--kafka-client-id must not be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c config.Config
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(new(strings.Builder))
			c.RegisterFlags(fs)
			if err := config.Load(fs, tt.args, nil); err != nil {
				t.Fatal(err)
			}
			err := c.Kafka.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want valid", err)
				}
				return
			}
			multi, ok := err.(interface{ Unwrap() []error })
			if !ok || len(multi.Unwrap()) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d problems", err, len(tt.want))
			}
			for i, e := range multi.Unwrap() {
				if !errors.Is(e, config.ErrInvalid) || !strings.Contains(e.Error(), tt.want[i]) {
					t.Errorf("problem %d = %v, want ErrInvalid mentioning %q", i, e, tt.want[i])
				}
			}
		})
	}
}

func TestKafkaFlagsFillTheSection(t *testing.T) {
	t.Parallel()
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("file-secret\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, []string{"--kafka-brokers=k1:9093", "--kafka-tls", "--kafka-tls-server-name=kafka.internal",
		"--kafka-sasl-mechanism=SCRAM-SHA-256", "--kafka-sasl-username=mercato", "--kafka-sasl-password-file=" + pwFile,
		"--kafka-client-id=mercato-eu", "--kafka-rack=eu-1a", "--kafka-replication-factor=3", "--kafka-min-insync-replicas=2",
		"--kafka-auto-create-topics=false"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kafka
	if !k.TLSEnabled() || k.TLSServerName != "kafka.internal" || k.SASLMechanism != config.KafkaSASLScramSHA256 ||
		k.SASLUsername != "mercato" || k.ClientID != "mercato-eu" || k.Rack != "eu-1a" ||
		k.ReplicationFactor != 3 || k.MinInsyncReplicas != 2 || k.AutoCreateTopics {
		t.Errorf("section = %+v", k)
	}
	pw, err := k.SASLPasswordValue()
	if err != nil || pw != "file-secret" {
		t.Errorf("SASLPasswordValue() = %q, %v; want the file's line", pw, err)
	}
	c, err = load(t, nil, []string{"MERCATO_KAFKA_SASL_PASSWORD=env-secret"})
	if err == nil {
		t.Fatal("a password without a mechanism validated")
	}
	if pw, _ := c.Kafka.SASLPasswordValue(); pw != "env-secret" {
		t.Errorf("MERCATO_KAFKA_SASL_PASSWORD gave %q", pw)
	}
}

// Kafka secrets show in no help text or validation error.
func TestKafkaSecretsStayHidden(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-kafka-secret"
	var c config.Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	c.RegisterFlags(fs)
	err := config.Load(fs, []string{"--kafka-sasl-mechanism=SCRAM-SHA-256", "--kafka-sasl-password-file=/nonexistent/pw"},
		[]string{"MERCATO_KAFKA_SASL_PASSWORD=" + secret})
	if err != nil {
		t.Fatal(err)
	}
	verr := c.Validate()
	if verr == nil {
		t.Fatal("Validate accepted an invalid Kafka section")
	}
	var help strings.Builder
	fs.SetOutput(&help)
	fs.PrintDefaults()
	for what, s := range map[string]string{"validation error": verr.Error(), "help": help.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the Kafka password: %s", what, s)
		}
	}
	if !strings.Contains(help.String(), "-kafka-sasl-password-file") {
		t.Error("help does not list --kafka-sasl-password-file")
	}
}

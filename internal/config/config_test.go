package config_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
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
	if c.DataDir != "./mercato-data" || c.HTTPAddr != "127.0.0.1:8080" || c.KafkaListen != "127.0.0.1:9092" ||
		c.Partitions != 8 || c.Profile != "embedded" || c.Roles != "all" {
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
	if c.DataDir != "/from/flag" || c.HTTPAddr != "127.0.0.1:2" || c.Partitions != 3 || c.Roles != "api" || c.OutboxPollInterval != time.Second {
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
		{"bad env", nil, []string{"MERCATO_PARTITIONS=many"}, []string{"MERCATO_PARTITIONS"}},
		{"bad broker list", []string{"--kafka-brokers", "a:1,b"}, nil, []string{"\"b\""}},
		{"unknown flag", []string{"--nope"}, nil, []string{"nope"}},
		{"sync", []string{"--sqlite-synchronous", "OFF"}, nil, []string{"FULL or NORMAL"}},
		{"writer nice", []string{"--sqlite-writer-nice", "-21"}, nil, []string{"--sqlite-writer-nice must be -20 to 19"}},
		{"redis", []string{"--redis-addr", "nohost", "--redis-shards", "0"}, nil, []string{"--redis-addr", "--redis-shards"}},
		{"webhook", []string{"--alert-webhook-url", "ftp://x"}, nil, []string{"--alert-webhook-url"}},
		{"ttl", []string{"--reservation-ttl", "10ms"}, nil, []string{"--reservation-ttl"}},
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

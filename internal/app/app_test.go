package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/testenv"
)

func testConfig(t testing.TB) config.Config {
	t.Helper()
	var c config.Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.RegisterFlags(fs) // the defaults users get
	c.DataDir = t.TempDir()
	c.HTTP.Addr = "127.0.0.1:0"
	c.Kafka.Listen = "127.0.0.1:0"
	c.Kafka.Partitions = 2
	c.Outbox.PollInterval = 10 * time.Millisecond
	c.ShutdownDrain = 0 // tests stop at once; TestShutdownDrainsBeforeStopping covers the drain
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	// The process reads the time from the clock it is given: a rule's event
	// carries it.
	clock := time.Now().Add(-time.Hour).Truncate(time.Second)
	a, err := app.New(context.Background(), cfg, testLogger(t), app.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	base := "http://" + a.HTTPAddr()

	// The generated admin token is stored 0600 in the data dir.
	st, err := os.Stat(filepath.Join(cfg.DataDir, "admin-token"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin-token file: %v %v", st, err)
	}
	waitReady(t, base)

	body := `{"name":"제주 감귤 5kg","category":"fresh","base_price":19900,"price_floor":15900,"price_ceiling":25900,"stock":30}`
	req, _ := http.NewRequest("PUT", base+"/v1/products/TANGERINE-5KG", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("PUT = %d", resp.StatusCode)
	}
	// Oversized headers get the API's JSON error, not net/http's plain text.
	req, _ = http.NewRequest("GET", base+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("a", 70<<10))
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 431 || !strings.Contains(string(raw), `"headers_too_large"`) {
		t.Errorf("70 KB header = %d %s", resp.StatusCode, raw)
	}
	found := consumeUntil(t, a.KafkaAddr(), event.TopicProducts, func(env event.Envelope) bool {
		var p event.ProductUpserted
		return env.Type == event.TypeProductUpserted && env.DecodeData(&p) == nil && p.SKU == "TANGERINE-5KG" && p.OnHand == 30
	})
	if !found {
		t.Fatal("product.upserted for TANGERINE-5KG never reached commerce.products")
	}
	if !consumeUntil(t, a.KafkaAddr(), event.TopicInventory, func(env event.Envelope) bool { return env.Subject == "TANGERINE-5KG" }) {
		t.Fatal("initial stock never reached commerce.inventory")
	}
	if code := call(t, a, "PUT", "/v1/pricing/rules/fresh", `{}`); code != 200 {
		t.Fatalf("PUT rule = %d", code)
	}
	if !consumeUntil(t, a.KafkaAddr(), event.TopicPricingRules, func(env event.Envelope) bool {
		return env.Subject == "fresh" && env.Time.Equal(clock)
	}) {
		t.Fatalf("no rule event for fresh at the injected time %s", clock)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func waitReady(t testing.TB, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func consumeUntil(t testing.TB, seed, topic string, match func(event.Envelope) bool) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		for _, r := range cl.PollFetches(ctx).Records() {
			if env, err := event.Decode(r.Value); err == nil && match(env) {
				return true
			}
		}
	}
	return false
}

func TestStartupFailuresAreClear(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.DataDir = filepath.Join(file, "data")
	_, err := app.New(context.Background(), cfg, log)
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "data dir") {
		t.Errorf("unusable data dir: err = %v, want a config error naming the data dir", err)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg = testConfig(t)
	cfg.HTTP.Addr = taken.Addr().String()
	_, err = app.New(context.Background(), cfg, log)
	if err == nil || errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "cannot listen") {
		t.Errorf("HTTP port in use: err = %v, want a runtime error", err)
	}
	cfg = testConfig(t)
	cfg.Kafka.Listen = taken.Addr().String()
	_, err = app.New(context.Background(), cfg, log)
	if err == nil || !strings.Contains(err.Error(), "embedded Kafka broker") {
		t.Errorf("broker port in use: err = %v", err)
	}

	// Every external service that cannot be used is reported, one line
	// each, with its address and what failed, and no credentials.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := closed.Addr().String()
	closed.Close()
	es := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "ApiKey es-s3cret" {
			t.Errorf("Elasticsearch check sent Authorization %q", r.Header.Get("Authorization"))
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer es.Close()
	cfg = testConfig(t)
	cfg.Kafka.Brokers = down
	cfg.Store.DB = "postgres://mercato:pg-s3cret@" + down + "/mercato"
	cfg.Redis.Addr = down
	cfg.Search.ElasticsearchURL = es.URL
	cfg.Search.ElasticsearchAPIKey = "es-s3cret"
	_, err = app.New(context.Background(), cfg, log)
	var multi interface{ Unwrap() []error }
	if err == nil || errors.Is(err, config.ErrInvalid) || !errors.As(err, &multi) {
		t.Fatalf("unreachable services: err = %v, want a runtime error per service", err)
	}
	want := []string{
		"kafka " + down + ": connection refused",
		"postgres " + down + ": connection refused",
		"redis " + down + ": connection refused",
		"elasticsearch " + es.URL + ": HTTP 401 Unauthorized (check --elasticsearch-api-key)",
	}
	var got []string
	for _, e := range multi.Unwrap() {
		got = append(got, e.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unreachable services reported as\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the report shows a secret: %v", err)
	}
	// The embedded data dir was not touched: nothing started.
	if _, serr := os.Stat(filepath.Join(cfg.DataDir, "admin-token")); serr == nil {
		t.Error("modules started although services were unreachable")
	}
}

func TestAdminTokenIsKeptAcrossRestarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	first, err := app.AdminToken(dir, "", log)
	if err != nil || len(first) < 32 {
		t.Fatalf("generated %q, %v", first, err)
	}
	second, err := app.AdminToken(dir, "", log)
	if err != nil || second != first {
		t.Fatalf("second start got %q, want the stored token", second)
	}
	if tok, _ := app.AdminToken(dir, "configured-token-123", log); tok != "configured-token-123" {
		t.Errorf("a configured token must win, got %q", tok)
	}
}

func startApp(t testing.TB, cfg config.Config) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		a.Close()
	})
	waitReady(t, "http://"+a.HTTPAddr())
	return a
}

func call(t testing.TB, a *app.App, method, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+a.HTTPAddr()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestLowStockAlertReachesWebhook(t *testing.T) {
	t.Parallel()
	got := make(chan map[string]any, 10)
	fails := 1 // the first delivery fails: the role must retry
	var mu sync.Mutex
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var env map[string]any
		if err := json.NewDecoder(r.Body).Decode(&env); err == nil {
			got <- env
		}
	}))
	defer hook.Close()
	cfg := testConfig(t)
	cfg.Inventory.AlertWebhookURL = hook.URL
	a := startApp(t, cfg)
	if code := call(t, a, "PUT", "/v1/products/TOFU", `{"name":"두부","category":"fresh","base_price":1500,"price_floor":1200,"price_ceiling":1900,"stock":20,"low_stock_threshold":10}`); code != 201 {
		t.Fatalf("PUT = %d", code)
	}
	if code := call(t, a, "POST", "/v1/inventory/TOFU/adjustments", `{"delta":-15,"reason":"spoiled"}`); code != 200 {
		t.Fatalf("adjust = %d", code)
	}
	select {
	case env := <-got:
		data, _ := env["data"].(map[string]any)
		if env["type"] != "inventory.alert" || data["type"] != "low_stock" || data["sku"] != "TOFU" || data["available"] != 5.0 {
			t.Fatalf("webhook got %v", env)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no alert reached the webhook")
	}
}

func TestServeWithRedisInventory(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Redis.Addr = testenv.Redis(t)
	a := startApp(t, cfg)
	if code := call(t, a, "PUT", "/v1/products/MILK", `{"name":"우유 1L","category":"fresh","base_price":2900,"price_floor":2500,"price_ceiling":3500,"stock":8}`); code != 201 {
		t.Fatalf("PUT = %d", code)
	}
	if code := call(t, a, "POST", "/v1/inventory/MILK/adjustments", `{"delta":4,"reason":"receiving","ref":"dn-1"}`); code != 200 {
		t.Fatalf("adjust = %d", code)
	}
	resp, err := http.Get("http://" + a.HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct{ Checks map[string]string }
	_ = json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if ready.Checks["redis"] != "ok" {
		t.Errorf("readyz checks = %v, want redis ok", ready.Checks)
	}
}

// testLogger shows warnings and errors in the test log when MERCATO_TEST_LOG is set.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("MERCATO_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Every role builds on its own: the modules it depends on are built for it,
// and every process listens (the api, or a worker's operator endpoints).
func TestEachRoleStartsAlone(t *testing.T) {
	t.Parallel()
	for _, role := range config.Implemented {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			cfg.Roles = role
			a, err := app.New(context.Background(), cfg, testLogger(t))
			if err != nil {
				t.Fatalf("New with --roles %s: %v", role, err)
			}
			defer a.Close()
			if a.HTTPAddr() == "" {
				t.Errorf("--roles %s: not listening on --http-addr", role)
			}
			// A role that keeps stock opens the system of record; one that
			// needs only Kafka opens none and creates no database file.
			// (WriterPriority must not panic either way.)
			_ = a.WriterPriority()
			_, statErr := os.Stat(filepath.Join(cfg.DataDir, "mercato.db"))
			if needs := config.NeedsStore([]string{role}); needs == os.IsNotExist(statErr) {
				t.Errorf("--roles %s: needs the store %v, yet the database file: %v", role, needs, statErr)
			}
		})
	}
}

// TestWorkerProcessServesOperatorEndpoints: a process without the api role
// answers /healthz, /readyz and /metrics on --http-addr, and nothing else.
func TestWorkerProcessServesOperatorEndpoints(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Roles = "pricing,inventory-alerts"
	a := startApp(t, cfg)
	base := "http://" + a.HTTPAddr()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/v1/products": 404, "/": 404} {
		testenv.WaitFor(t, path, func() bool {
			resp, err := http.Get(base + path)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == want
		})
	}
}

// Start-up logs in where a service asks for credentials: a wrong Redis
// password or Kafka SASL password is one clear line at start, not a
// failure at the first order; a Redis Cluster whose nodes are down is
// named as a cluster.
func TestStartupChecksCredentials(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rs := testenv.StartRedis(t, testenv.RedisOptions{RequirePass: "right-redis-pass"})
	kb, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: "127.0.0.1:0", Users: []bus.BrokerUser{
		{Mechanism: bus.SASLScramSHA256, Name: "mercato", Password: "right-kafka-pass", Superuser: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kb.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := closed.Addr().String()
	closed.Close()

	cfg := testConfig(t)
	cfg.Kafka.Brokers = kb.Addr()
	cfg.Kafka.SASLMechanism, cfg.Kafka.SASLUsername, cfg.Kafka.SASLPassword = config.KafkaSASLScramSHA256, "mercato", "wrong-kafka-pass"
	cfg.Redis.Addr, cfg.Redis.Password = rs.Addr, "wrong-redis-pass"
	_, err = app.New(context.Background(), cfg, log)
	var multi interface{ Unwrap() []error }
	if err == nil || !errors.As(err, &multi) || len(multi.Unwrap()) != 2 {
		t.Fatalf("wrong credentials: err = %v, want one line for Kafka and one for Redis", err)
	}
	lines := multi.Unwrap()
	if got := lines[0].Error(); !strings.HasPrefix(got, "kafka "+kb.Addr()+": ") || !strings.Contains(got, "SASL") {
		t.Errorf("kafka line = %q", got)
	}
	if got := lines[1].Error(); !strings.HasPrefix(got, "redis "+rs.Addr+": ") || !strings.Contains(got, "--redis-password") {
		t.Errorf("redis line = %q", got)
	}
	if strings.Contains(err.Error(), "wrong-") || strings.Contains(err.Error(), "right-") {
		t.Errorf("the report shows a secret: %v", err)
	}

	cfg = testConfig(t)
	cfg.Redis.ClusterAddrs = down
	_, err = app.New(context.Background(), cfg, log)
	if err == nil || !strings.Contains(err.Error(), "redis cluster "+down+": ") {
		t.Errorf("cluster down: err = %v", err)
	}

	// The right credentials pass the check.
	cfg = testConfig(t)
	cfg.Kafka.Brokers = kb.Addr()
	cfg.Kafka.SASLMechanism, cfg.Kafka.SASLUsername, cfg.Kafka.SASLPassword = config.KafkaSASLScramSHA256, "mercato", "right-kafka-pass"
	cfg.Redis.Addr, cfg.Redis.Password = rs.Addr, "right-redis-pass"
	startApp(t, cfg)
}

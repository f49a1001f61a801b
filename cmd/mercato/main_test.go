package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/testenv"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mercato-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mercato")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building mercato: %v\n%s", err, out)
		os.Exit(1)
	}
	code := testenv.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestHelpListsCommands(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"help"}, &out, &errb); code != 0 {
		t.Fatalf("help exit %d", code)
	}
	for _, c := range []string{"serve", "demo", "broker", "version"} {
		if !strings.Contains(out.String(), "  "+c+" ") {
			t.Errorf("help does not list %s:\n%s", c, out.String())
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"help", "serve"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "-kafka-brokers") {
		t.Errorf("help serve: %d %s", code, out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"help", "demo"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "-rate") || !strings.Contains(out.String(), "-data-dir") {
		t.Errorf("help demo: %d %s", code, out.String())
	}
}

func TestBadConfigExitsTwoWithOneLinePerProblem(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"serve", "--partitions", "0", "--profile", "x"}, &out, &errb)
	if code != 2 {
		t.Fatalf("exit = %d, want 2", code)
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "mercato: ") {
		t.Errorf("stderr = %q, want two readable lines", errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"launch"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Errorf("unknown command: %d %q", code, errb.String())
	}
}

type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	http   string
	kafka  string
}

func start(t *testing.T, dataDir string, httpPort, kafkaPort int) *proc {
	t.Helper()
	return startWith(t, dataDir, httpPort, kafkaPort)
}

func startWith(t *testing.T, dataDir string, httpPort, kafkaPort int, extra ...string) *proc {
	t.Helper()
	p := &proc{
		stderr: new(syncBuffer),
		http:   "127.0.0.1:" + strconv.Itoa(httpPort),
		kafka:  "127.0.0.1:" + strconv.Itoa(kafkaPort),
	}
	p.cmd = exec.Command(binary, serveArgs(dataDir, p.http, p.kafka, extra)...)
	p.cmd.Stderr = p.stderr
	p.cmd.Env = append(os.Environ(), "MERCATO_LOG_LEVEL=warn")
	testenv.DiesWithTest(p.cmd)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	waitReady(t, p.http, 30*time.Second, nil, p.stderr.String)
	return p
}

// serveArgs are the arguments of a test's mercato serve: its own data
// directory and loopback ports, two partitions, then extra.
func serveArgs(dataDir, httpAddr, kafkaAddr string, extra []string) []string {
	return append([]string{"serve", "--data-dir", dataDir, "--http-addr", httpAddr, "--kafka-listen", kafkaAddr, "--partitions", "2"}, extra...)
}

// waitReady polls http://addr/readyz until it answers 200, failing the test
// with output() when it has not within d or the process exited first
// (exited closed; nil when the caller does not watch the process).
func waitReady(t *testing.T, addr string, d time.Duration, exited <-chan struct{}, output func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		select {
		case <-exited:
			t.Fatalf("mercato serve exited before it was ready\n%s", output())
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mercato serve not ready after %s: %v\n%s", d, err, output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func put(t *testing.T, base, token, sku string, stock int) int {
	t.Helper()
	body := fmt.Sprintf(`{"name":"item %s","category":"kill","base_price":1000,"price_floor":900,"price_ceiling":1200,"stock":%d}`, sku, stock)
	req, _ := http.NewRequest("PUT", "http://"+base+"/v1/products/"+sku, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestKill9KeepsAcknowledgedWrites: every product write that got a 2xx
// survives kill -9, and its event reaches Kafka after the restart.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	httpPort, kafkaPort := testenv.FreePort(t), testenv.FreePort(t)
	p := start(t, dir, httpPort, kafkaPort)
	token := readToken(t, dir)
	var acked []string
	for i := range 30 {
		sku := fmt.Sprintf("K-%02d", i)
		if code := put(t, p.http, token, sku, i+1); code == 201 {
			acked = append(acked, sku)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	p = start(t, dir, httpPort, kafkaPort)
	for i, sku := range acked {
		resp, err := http.Get("http://" + p.http + "/v1/products/" + sku)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("acknowledged product %s (#%d) lost after kill -9: %d", sku, i, resp.StatusCode)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.kafka), kgo.ConsumeTopics(event.TopicProducts), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(seen) < len(acked) && ctx.Err() == nil {
		for _, r := range cl.PollFetches(ctx).Records() {
			seen[string(r.Key)] = true
		}
	}
	if len(seen) != len(acked) {
		t.Errorf("after restart %d of %d product events are on commerce.products", len(seen), len(acked))
	}
	if len(acked) != 30 {
		t.Errorf("only %d of 30 writes were acknowledged before the kill", len(acked))
	}
	// A clean stop exits 0.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("SIGTERM exit: %v\n%s", err, p.stderr)
	}
}

func TestPortInUseExitsOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	httpPort, kafkaPort := testenv.FreePort(t), testenv.FreePort(t)
	start(t, dir, httpPort, kafkaPort)
	cmd := exec.Command(binary, "serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:"+strconv.Itoa(httpPort), "--kafka-listen", "127.0.0.1:0")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want 1\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "cannot listen") {
		t.Errorf("stderr = %q", errb.String())
	}
}

func TestInventoryReconcileExitCodes(t *testing.T) {
	t.Parallel()
	addr := testenv.Redis(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	ctx := context.Background()
	cfgArgs := []string{"--db", db, "--redis-addr", addr, "--data-dir", t.TempDir()}
	{
		var c config.Config
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		c.RegisterFlags(fs)
		if err := fs.Parse(cfgArgs); err != nil {
			t.Fatal(err)
		}
		store, err := app.OpenStore(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		stock := int64(10)
		if _, _, err := catalog.NewService(store, nil, nil).Put(ctx, "REC-1", catalog.PutRequest{
			Name: "x", Category: "c", BasePrice: 10, PriceFloor: 10, PriceCeiling: 10, Stock: &stock}); err != nil {
			t.Fatal(err)
		}
		rdb, inv, err := app.OpenRedisInventory(ctx, c, store, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := inv.Load(ctx, "REC-1"); err != nil {
			t.Fatal(err)
		}
		if err := rdb.HSet(ctx, inv.CounterKey("REC-1"), "on_hand", 7).Err(); err != nil {
			t.Fatal(err)
		}
		rdb.Close()
		store.Close()
	}
	reconcile := func(extra ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append(append([]string{"inventory", "reconcile"}, cfgArgs...), extra...), &out, &errb)
		return code, out.String()
	}
	if code, out := reconcile(); code != 3 || out != "REC-1\ton_hand\tredis=7\tledger=10\n" {
		t.Fatalf("reconcile = %d %q, want 3 and the on_hand line", code, out)
	}
	if code, _ := reconcile("--fix"); code != 3 {
		t.Fatalf("reconcile --fix = %d, want 3 (found)", code)
	}
	if code, out := reconcile(); code != 0 || out != "" {
		t.Fatalf("after fix = %d %q, want 0", code, out)
	}
	var errb bytes.Buffer
	if code := run(ctx, []string{"inventory", "reconcile", "--db", db}, &bytes.Buffer{}, &errb); code != 2 || !strings.Contains(errb.String(), "--redis-addr") {
		t.Errorf("without redis: %d %q", code, errb.String())
	}
}

func TestLakeGenerateReportRunListAndAirflowDAG(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"lake", "generate", "--data-dir", dir, "--rows", "20000", "--days", "2", "--end", "2026-11-24", "--skus", "500"}, &out, &errb); code != 0 {
		t.Fatalf("lake generate exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "wrote 20000 sales") {
		t.Errorf("generate said %q", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"report", "backfill", "--data-dir", dir, "--from", "2026-11-23", "--to", "2026-11-24"}, &out, &errb); code != 0 {
		t.Fatalf("report backfill exit %d: %s", code, errb.String())
	}
	if n := strings.Count(out.String(), `"status":"succeeded"`); n != 2 {
		t.Fatalf("backfill printed %d succeeded runs:\n%s", n, out.String())
	}
	for _, ext := range []string{".json", ".csv", ".html"} {
		if _, err := os.Stat(filepath.Join(dir, "reports", "sales", "2026-11-24"+ext)); err != nil {
			t.Error(err)
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"report", "run", "--data-dir", dir, "--date", "2026-11-23", "--to", "2026-11-24"}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), `"to":"2026-11-24"`) {
		t.Fatalf("report run over a range: %d %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"report", "list", "--data-dir", dir}, &out, &errb); code != 0 || strings.Count(out.String(), "succeeded") != 3 {
		t.Fatalf("report list: %d\n%s", code, out.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"report", "run", "--data-dir", dir, "--date", "2026-02-30"}, &out, &errb); code != 2 ||
		strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
		t.Fatalf("bad date: exit %d, stderr %q", code, errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"report", "airflow-dag", "--start-date", "2026-11-01"}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "catchup=True") || !strings.Contains(out.String(), "mercato report run --date") {
		t.Fatalf("airflow-dag: %d\n%s", code, out.String())
	}
}

// The demo runs the embedded platform, seeds its catalogue, drives it with
// simulated shoppers and reports them against the ground truth it wrote.
func TestDemoDrivesThePlatformAndReportsTheGroundTruth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out, errb bytes.Buffer
	// The hour of day moves demand (KST night is ~1/8 of the mean): the rate
	// keeps even a night run well above the 10 orders checked below.
	code := run(context.Background(), []string{"demo", "--data-dir", dir, "--duration", "5s", "--rate", "6000", "--skus", "6",
		"--http-addr", "127.0.0.1:0", "--kafka-listen", "127.0.0.1:0", "--log-level", "warn"}, &out, &errb)
	if code != 0 {
		t.Fatalf("demo exit %d: %s\n%s", code, errb.String(), out.String())
	}
	var paid int
	for _, line := range strings.Split(out.String(), "\n") {
		if _, after, ok := strings.Cut(line, "paid "); ok {
			fmt.Sscanf(after, "%d", &paid)
		}
	}
	if paid < 10 || !strings.Contains(out.String(), "Against the ground truth") || !strings.Contains(out.String(), "DEMO-") {
		t.Fatalf("demo printed (paid %d):\n%s", paid, out.String())
	}
	raw, err := os.ReadFile(filepath.Join(dir, "demo-ground-truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		Products []struct {
			SKU        string  `json:"sku"`
			Elasticity float64 `json:"price_elasticity"`
		} `json:"products"`
	}
	if err := json.Unmarshal(raw, &truth); err != nil || len(truth.Products) != 6 || truth.Products[0].Elasticity == 0 {
		t.Fatalf("ground truth %s: %v", raw, err)
	}
	// The paid orders are in the system of record.
	store, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(dir, "mercato.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	counts, err := store.CountOrders(context.Background())
	if err != nil || counts[orders.StatusPaid]+counts[orders.StatusCancelled] < int64(paid) {
		t.Fatalf("orders in the store %v (%v), the demo reported %d paid", counts, err, paid)
	}
}

// bench orders starts an embedded platform (here the api role alone) and
// reports a row per client count; a bad --roles is a usage error.
func TestBenchOrdersEmbedded(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"bench", "orders", "--clients", "2", "--duration", "1s", "--skus", "5", "--roles", "api"}, &out, &errb); code != 0 {
		t.Fatalf("bench exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var clients, orders int
	var rate, p50, p99 float64
	var errs int
	if n, _ := fmt.Sscanf(lines[len(lines)-1], "%d %d %f %f %f %d", &clients, &orders, &rate, &p50, &p99, &errs); n != 6 ||
		clients != 2 || orders < 1 || errs != 0 || !strings.Contains(out.String(), "roles: api") {
		t.Fatalf("bench printed:\n%s", out.String())
	}
	errb.Reset()
	for _, roles := range []string{"nope", "pricing"} {
		errb.Reset()
		if code := run(context.Background(), []string{"bench", "orders", "--roles", roles}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--roles") {
			t.Fatalf("--roles %s: exit %d, %q", roles, code, errb.String())
		}
	}
}

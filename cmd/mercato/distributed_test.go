package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// rolesProc is one mercato process of the distributed profile.
type rolesProc struct {
	name   string
	args   []string
	http   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
	// host, when set, is the network namespace the process runs in: a
	// separate host.
	host *testenv.Host
}

func (p *rolesProc) start(t *testing.T) {
	t.Helper()
	p.stderr = new(syncBuffer)
	p.exited = make(chan struct{})
	if p.host != nil {
		p.cmd = p.host.Command(binary, p.args...)
	} else {
		p.cmd = exec.Command(binary, p.args...)
	}
	p.cmd.Stderr = p.stderr
	p.cmd.Env = append(os.Environ(), "MERCATO_LOG_LEVEL=warn")
	testenv.DiesWithTest(p.cmd)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	cmd, exited := p.cmd, p.exited
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	if p.http == "" {
		return // the broker: its caller waits for its topics
	}
	// Every serve process answers /readyz: the api, and a worker's
	// operator endpoints (its backends and its loops).
	waitReady(t, p.http, 60*time.Second, exited, func() string { return p.name + ": " + p.stderr.String() })
}

func (p *rolesProc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing %s: %v", p.name, err)
	}
	<-p.exited
}

// TestRolesAcrossProcesses runs the distributed profile as a shop would:
// `mercato broker`, PostgreSQL (as an application role, no superuser) and Redis, then two api, two pricing and one
// process of each other role, each its own OS process of the real binary.
// Orders go to both API instances while one api and one pricing process are
// killed with SIGKILL and restarted. Afterwards: every 201 order is stored
// and paid, stock is conserved (no oversell), each paid line is on
// commerce.purchases once, the pricing group has consumed every input and
// its committed state counts each purchase once, the
// lake holds each sale once, and no purchase order was raised twice for one
// trigger.
func TestRolesAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nine processes; skipped with -short")
	}
	t.Parallel()
	// The database as a shop hands it over: owned by an application role
	// that is no superuser.
	dsn := testenv.PostgresAppDB(t)
	redisAddr := testenv.Redis(t)
	root := t.TempDir()
	const token = "distributed-test-admin-token-0123456789"
	kafka := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	broker := &rolesProc{name: "broker"}
	broker.args = []string{"broker", "--data-dir", filepath.Join(root, "broker"), "--kafka-listen", kafka, "--partitions", "4"}
	broker.start(t)
	c := brokerClient(t, bus.Options{Brokers: []string{kafka}})

	lakeDir := filepath.Join(root, "lake")
	proc := func(name, roles string, extra ...string) *rolesProc {
		p := &rolesProc{name: name, http: "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))}
		p.args = append([]string{"serve", "--profile", "distributed", "--roles", roles,
			"--kafka-brokers", kafka, "--db", dsn, "--redis-addr", redisAddr, "--partitions", "4",
			"--data-dir", filepath.Join(root, name), "--http-addr", p.http, "--admin-token", token,
			"--lake-dir", lakeDir, "--lake-flush-interval", "300ms",
			"--reservation-ttl", "2s", "--sweep-interval", "200ms", "--payment-timeout", "1s", "--order-recover-after", "2s",
		}, append(pricingInSeconds, extra...)...)
		return p
	}
	api1, api2 := proc("api-1", "api"), proc("api-2", "api")
	pricing1 := proc("pricing-1", "pricing", "--pricing-instance-id", "p1")
	pricing2 := proc("pricing-2", "pricing", "--pricing-instance-id", "p2")
	others := []*rolesProc{
		proc("relay", "outbox-relay"),
		// A prior demand above the stock makes every stock change a reorder
		// candidate: purchase orders must still be raised once per trigger.
		proc("replenishment", "replenishment", "--prior-daily-demand", "2000000"),
		proc("alerts", "inventory-alerts"), proc("lake", "lake-sink"),
	}
	// The first api migrates the schema; the rest start after it.
	api1.start(t)
	for _, p := range append([]*rolesProc{api2, pricing1, pricing2}, others...) {
		p.start(t)
	}

	// The category's own rule, stored before any sale: the heuristic with
	// no cooldown, so each boundary the watermark passes can move the
	// price, and the run compares a dozen decisions, not one.
	req, _ := http.NewRequest("PUT", "http://"+api1.http+"/v1/pricing/rules/dist",
		strings.NewReader(`{"policy":"rule","demand_weight":0.08,"max_demand_adjust":0.25,"smoothing_units":1,"step_limit":0.05,"cooldown_seconds":0,"price_unit":10}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT pricing rule = %d", resp.StatusCode)
	}
	time.Sleep(time.Second) // the pricing processes' rule feed takes it up

	const sku, initial = "DIST-1", 1_000_000
	body := `{"name":"분산 테스트","category":"dist","base_price":10000,"price_floor":5000,"price_ceiling":20000,"stock":` + strconv.Itoa(initial) +
		`,"low_stock_threshold":999990,"reorder":{"lead_time_days":1,"service_level":0.95,"order_cost":5000,"unit_cost":6000,"supplier":"s"}}`
	req, _ = http.NewRequest("PUT", "http://"+api1.http+"/v1/products/"+sku, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("PUT product = %d", resp.StatusCode)
	}

	load := &orderLoad{sku: sku, keyPrefix: "dist", customers: 20, clients: 8, errorWait: 20 * time.Millisecond,
		client: &http.Client{Timeout: 5 * time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	var flip atomic.Int64
	done := make(chan struct{})
	go func() {
		load.run(ctx, t, func() string {
			if flip.Add(1)%2 == 0 {
				return api1.http
			}
			return api2.http
		})
		close(done)
	}()
	time.Sleep(3 * time.Second)
	// The pricing process killed is the one pricing the SKU, so its
	// prices after the restart come from the state it restored.
	var victim *rolesProc
	switch owner := pricingOwners(t, kafka)[bus.PartitionOf([]byte(sku), testPartitions)]; owner {
	case "pricing-p1":
		victim = pricing1
	case "pricing-p2":
		victim = pricing2
	default:
		t.Fatalf("the pricing group member consuming %s is %q", sku, owner)
	}
	victim.kill9(t)
	api2.kill9(t)
	time.Sleep(time.Second)
	victim.start(t)
	api2.start(t)
	// Long enough after the restart for the watermark (newest event − 10 s)
	// to pass several boundaries.
	time.Sleep(14 * time.Second)
	cancel()
	<-done
	paid := load.acknowledged()
	if len(paid) < 50 {
		t.Fatalf("only %d orders acknowledged; the load did not run", len(paid))
	}

	// Interrupted checkouts and holds are finished by recovery.
	var level struct {
		OnHand   int64 `json:"on_hand"`
		Reserved int64 `json:"reserved"`
	}
	testenv.WaitFor(t, "reservations of the killed api to be released", func() bool {
		resp, err := http.Get("http://" + api1.http + "/v1/inventory/" + sku)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&level) == nil && level.Reserved == 0
	})
	time.Sleep(4 * time.Second) // order recovery runs after --order-recover-after (2s)

	sold := 0
	for _, id := range paid {
		req, _ := http.NewRequest("GET", "http://"+api1.http+"/v1/orders/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var o orders.Order
		_ = json.NewDecoder(resp.Body).Decode(&o)
		resp.Body.Close()
		if o.Status != orders.StatusPaid {
			t.Errorf("acknowledged order %s is %q", id, o.Status)
		}
	}
	// Every paid order (acknowledged or finished by recovery) sold one unit:
	// the purchases on the log are the sold units.
	purchases := 0
	testenv.WaitFor(t, "the relay to publish every paid line", func() bool {
		purchases = distinctPurchases(t, kafka, sku)
		resp, err := http.Get("http://" + api1.http + "/v1/inventory/" + sku)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&level) != nil {
			return false
		}
		sold = int(initial - level.OnHand)
		return purchases == sold
	})
	if level.OnHand < 0 || level.Reserved != 0 || sold < len(paid) {
		t.Errorf("stock: on_hand %d, reserved %d, sold %d for %d acknowledged orders", level.OnHand, level.Reserved, sold, len(paid))
	}

	// The restarted pricing process rejoins under its instance id (static
	// membership), so it takes its partitions back without waiting for the
	// killed member's 45 s session timeout; the bound leaves room for a
	// loaded machine.
	waitPricingCaughtUp(t, c, func() string { return pricingAssignment(t, kafka) })
	// Each purchase counted exactly once by pricing, across the SIGKILL:
	// the SKU's partition of the three input topics, replayed in one
	// process with no crash, gives the same prices (each change with its
	// time and reason) and the same committed state (window, baseline,
	// stock) as the two processes did. A purchase counted twice (a batch
	// redone without its transaction's abort) or lost would show here.
	replay := readPricingLog(t, kafka).check(t, sku)
	if replay.counted+replay.late != purchases {
		t.Errorf("the replay counted %d purchases and %d late, want the %d on the log", replay.counted, replay.late, purchases)
	}
	testenv.WaitFor(t, "the lake to hold every sale", func() bool {
		_, ids := lakeSales(t, lakeDir)
		return ids == purchases
	})
	if rows, ids := lakeSales(t, lakeDir); rows != ids || ids != purchases {
		t.Errorf("sales lake: %d rows, %d distinct events, want %d purchases once each", rows, ids, purchases)
	}

	req, _ = http.NewRequest("GET", "http://"+api1.http+"/v1/purchase-orders?limit=1000", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	var pos struct {
		Items []struct {
			ID, Status, TriggerEvent string
			Urgent                   bool
		} `json:"items"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&pos)
	resp.Body.Close()
	triggers := map[string]string{}
	open := 0
	for _, po := range pos.Items {
		if prev, ok := triggers[po.TriggerEvent]; ok && po.TriggerEvent != "" {
			t.Errorf("purchase orders %s and %s raised by the same event %s", prev, po.ID, po.TriggerEvent)
		}
		triggers[po.TriggerEvent] = po.ID
		if !po.Urgent && po.Status != "received" && po.Status != "cancelled" {
			open++
		}
	}
	if open > 1 {
		t.Errorf("%d open non-urgent purchase orders for one SKU", open)
	}
	t.Logf("%d acknowledged, %d sold, %d purchase events (%d late), %d price changes, %d purchase orders",
		len(paid), sold, purchases, replay.late, replay.changes, len(pos.Items))
}

// syncBuffer is a process's stderr, read by the test while the process
// writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// brokerClient connects to a `mercato broker` the test started and waits
// until it has created its topics; the client closes at cleanup.
func brokerClient(t *testing.T, o bus.Options) *bus.Client {
	t.Helper()
	c, err := bus.NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	testenv.WaitFor(t, "mercato broker to create its topics", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.Partitions(ctx, event.TopicPurchases, event.TopicPrices)
		return err == nil
	})
	return c
}

// waitPricingCaughtUp waits, at most two minutes, until the pricing group
// has committed every input record; diag describes the group on failure.
func waitPricingCaughtUp(t *testing.T, c *bus.Client, diag func() string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		lag, err := c.GroupLag(ctx, "pricing", event.TopicPurchases, event.TopicInventory, event.TopicProducts)
		cancel()
		if err == nil && lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pricing group still lags %d records (%v) two minutes after the load:\n%s", lag, err, diag())
		}
	}
}

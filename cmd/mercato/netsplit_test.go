package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing"
	"github.com/mercato-platform/mercato/internal/pricing/stream"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// TestPricingCutOffFromTheBroker runs two pricing processes against
// `mercato broker` (TLS, SCRAM, one principal per role), one of them on a
// separate host: a network namespace behind a veth pair. Mid-load that
// host's link goes down for longer than the group session, as a failed
// switch port would take it: the process keeps running with its state in
// memory and, likely, a transaction open. The group moves its partitions
// to the other process, which restores their state from the changelog and
// goes on. When the link returns, the cut-off process is a zombie: the
// broker aborted its transaction and fences what it tries to commit, and it
// rejoins the group. Afterwards every SKU's price history (each change's
// time, price and reason) and committed state equal a replay of the log
// in one process: nothing the zombie did in the dark counted, and nothing
// was lost or counted twice across the move.
func TestPricingCutOffFromTheBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes and waits out a group session; skipped with -short")
	}
	t.Parallel()
	host := testenv.NetHost(t)
	root := t.TempDir()
	cert, key := selfSigned(t, root, host.HostIP)
	const adminPassword = "cut-off-test-admin-secret"
	pwFile := filepath.Join(root, "admin-password")
	if err := os.WriteFile(pwFile, []byte(adminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join(root, "role-secrets")
	// The broker listens on this host's side of the link, beyond loopback,
	// so it insists on TLS and SCRAM.
	kafka := host.HostIP + ":" + strconv.Itoa(testenv.FreePort(t))
	broker := &rolesProc{name: "broker", args: []string{"broker", "--data-dir", filepath.Join(root, "broker"),
		"--kafka-listen", kafka, "--partitions", strconv.Itoa(testPartitions),
		"--kafka-listen-tls-cert-file", cert, "--kafka-listen-tls-key-file", key,
		"--kafka-sasl-mechanism", "SCRAM-SHA-256", "--kafka-sasl-username", "mercato", "--kafka-sasl-password-file", pwFile,
		"--kafka-role-secrets-dir", secrets}}
	broker.start(t)
	admin := bus.Security{TLS: true, CAFile: cert, SASLMechanism: "SCRAM-SHA-256", Username: "mercato", Password: adminPassword}
	c := brokerClient(t, bus.Options{Brokers: []string{kafka}, Security: admin})
	// An operator provisions the topics (`mercato topics create`): the
	// role principals may not create any.
	ectx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	err := c.EnsureTopics(ectx, stream.Topics(), testPartitions)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	adminOpts, err := admin.ClientOpts() // for the test's own readers
	if err != nil {
		t.Fatal(err)
	}

	// Each pricing process authenticates as the pricing principal, whose
	// ACLs are all it needs.
	pricingProc := func(name, id string, h *testenv.Host) *rolesProc {
		ip := "127.0.0.1"
		if h != nil {
			ip = h.IP
		}
		p := &rolesProc{name: name, http: ip + ":" + strconv.Itoa(testenv.FreePort(t)), host: h}
		p.args = append([]string{"serve", "--profile", "distributed", "--roles", "pricing",
			"--kafka-brokers", kafka, "--kafka-tls-ca-file", cert,
			"--kafka-sasl-mechanism", "SCRAM-SHA-256", "--kafka-sasl-username", "mercato-pricing",
			"--kafka-sasl-password-file", filepath.Join(secrets, "pricing"),
			"--partitions", strconv.Itoa(testPartitions), "--data-dir", filepath.Join(root, name), "--http-addr", p.http,
			"--pricing-instance-id", id, "--kafka-session-timeout", "6s", "--kafka-auto-create-topics=false",
		}, pricingInSeconds...)
		return p
	}
	near, far := pricingProc("pricing-near", "near", nil), pricingProc("pricing-far", "far", host)
	near.start(t)
	far.start(t)

	ctx := context.Background()
	// The heuristic with no cooldown: each boundary can move a price.
	r := pricing.DefaultRule()
	r.ID, r.Category, r.Policy, r.CooldownSeconds = "cut@1", "cut", pricing.PolicyRule, 0
	rule, err := event.New(event.TypePricingRule, "test", "cut", time.Now(), event.PricingRule(r))
	if err != nil {
		t.Fatal(err)
	}
	msgs := []event.Message{{Topic: event.TopicPricingRules, Envelope: rule}}
	var skus []string
	for i := range 8 {
		sku := "CUT-" + strconv.Itoa(i)
		skus = append(skus, sku)
		env, err := event.New(event.TypeProductUpserted, "test", sku, time.Now(), event.ProductUpserted{Product: event.Product{
			SKU: sku, Name: sku, Category: "cut", BasePrice: 10000, PriceFloor: 5000, PriceCeiling: 20000}})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, event.Message{Topic: event.TopicProducts, Envelope: env})
	}
	if err := c.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	// The group's assignment, asked every half second (each ask is a TLS
	// and SCRAM handshake), for at most 90 s.
	waitOwners := func(what string, cond func(owners map[int32]string) bool) {
		t.Helper()
		var owners map[int32]string
		for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			if owners = pricingOwners(t, kafka, adminOpts...); cond(owners) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: partitions %v\nthe far process said:\n%s", what, owners, far.stderr.String())
			}
		}
	}
	waitOwners("both pricing processes to own partitions", func(owners map[int32]string) bool {
		return ownedBy(owners, "pricing-far") > 0 && ownedBy(owners, "pricing-near") > 0
	})

	// The load: a purchase of every SKU each 20 ms, dated now.
	var published atomic.Int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	defer func() { stopLoad(); <-loadDone }() // also when the test fails early
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-loadCtx.Done():
				return
			case <-tick.C:
			}
			batch := make([]event.Message, 0, len(skus))
			for _, sku := range skus {
				env, err := event.New(event.TypePurchase, "test", sku, time.Now(), event.Purchase{SKU: sku, Quantity: 1, UnitPrice: 10000,
					OrderID: "cut-" + strconv.Itoa(n) + "-" + sku})
				if err != nil {
					t.Error(err)
					return
				}
				batch = append(batch, event.Message{Topic: event.TopicPurchases, Envelope: env})
			}
			// A batch is published whole, so the count is exact.
			if err := c.Publish(ctx, batch...); err != nil {
				t.Errorf("publishing purchases: %v", err)
				return
			}
			published.Add(int64(len(batch)))
		}
	}()
	time.Sleep(4 * time.Second)
	before := pricingOwners(t, kafka, adminOpts...)
	farSKUs := 0
	for _, sku := range skus {
		if before[bus.PartitionOf([]byte(sku), testPartitions)] == "pricing-far" {
			farSKUs++
		}
	}
	if farSKUs == 0 {
		t.Fatalf("no SKU is priced by the process to cut off (partitions %v)", before)
	}
	host.Cut(t)
	waitOwners("the group to move the cut-off process's partitions", func(owners map[int32]string) bool {
		return ownedBy(owners, "pricing-near") == testPartitions
	})
	time.Sleep(2 * time.Second) // the near process prices them while the far one is in the dark
	host.Restore(t)
	waitOwners("the returning process to rejoin and own partitions again", func(owners map[int32]string) bool {
		return ownedBy(owners, "pricing-far") > 0
	})
	time.Sleep(12 * time.Second) // boundaries pass on the far process again
	stopLoad()
	<-loadDone
	select {
	case <-far.exited:
		t.Errorf("the cut-off pricing process exited: %s", far.stderr.String())
	default:
	}

	waitPricingCaughtUp(t, c, func() string {
		return pricingAssignment(t, kafka, adminOpts...) + "\nnear said:\n" + near.stderr.String() + "\nfar said:\n" + far.stderr.String()
	})
	replay := readPricingLog(t, kafka, adminOpts...).check(t, skus...)
	if got := int64(replay.counted + replay.late); got != published.Load() {
		t.Errorf("the replay counted %d purchases and %d late, want the %d published", replay.counted, replay.late, published.Load())
	}
	t.Logf("%d purchases (%d late), %d price changes of %d SKUs, %d of them priced by the cut-off process before the cut",
		published.Load(), replay.late, replay.changes, len(skus), farSKUs)
	t.Logf("the cut-off process said:\n%s", far.stderr.String())
}

// ownedBy counts the partitions owners gives to instance.
func ownedBy(owners map[int32]string, instance string) int {
	n := 0
	for _, id := range owners {
		if id == instance {
			n++
		}
	}
	return n
}

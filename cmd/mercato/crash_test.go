package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// TestCheckoutSurvivesKill9 drives orders at full speed and kill -9s the
// real binary five times mid-load, restarting it each time. At the end:
// every order that got a 201 is paid, commerce.purchases holds exactly one
// distinct event per paid order line, stock is conserved, and the sales lake
// holds each purchase exactly once (the lake-sink writes a file every 300ms,
// so kills land between a file write and its offset commit).
func TestCheckoutSurvivesKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	httpPort, kafkaPort := testenv.FreePort(t), testenv.FreePort(t)
	flags := []string{"--reservation-ttl", "2s", "--sweep-interval", "200ms", "--payment-timeout", "1s", "--order-recover-after", "2s", "--lake-flush-interval", "300ms"}
	p := startWith(t, dir, httpPort, kafkaPort, flags...)
	token := readToken(t, dir)
	const initial = 1_000_000
	if code := put(t, p.http, token, "CRASH-1", initial); code != 201 {
		t.Fatalf("PUT = %d", code)
	}

	load := &orderLoad{sku: "CRASH-1", keyPrefix: "crash", customers: 50, clients: 12,
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	drive := func(ctx context.Context, base string) { load.run(ctx, t, func() string { return base }) }
	rng := rand.New(rand.NewPCG(42, 7))
	for kill := range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { drive(ctx, p.http); close(done) }()
		time.Sleep(time.Duration(400+rng.IntN(800)) * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
		cancel()
		<-done
		t.Logf("kill %d: %d orders acknowledged so far", kill+1, len(load.acknowledged()))
		p = startWith(t, dir, httpPort, kafkaPort, flags...)
	}
	paidIDs := load.acknowledged()
	if len(paidIDs) < 50 {
		t.Fatalf("only %d orders acknowledged; the load did not run", len(paidIDs))
	}

	// Let recovery finish interrupted checkouts and expired holds.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + p.http + "/v1/inventory/CRASH-1")
		if err != nil {
			t.Fatal(err)
		}
		var l struct{ OnHand, Reserved int64 }
		_ = json.NewDecoder(resp.Body).Decode(&struct {
			OnHand   *int64 `json:"on_hand"`
			Reserved *int64 `json:"reserved"`
		}{&l.OnHand, &l.Reserved})
		resp.Body.Close()
		if l.Reserved == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stock still reserved after recovery: %+v", l)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // the order recovery runs after --order-recover-after (2s), every 200ms

	// Every acknowledged order is paid.
	for _, id := range paidIDs {
		req, _ := http.NewRequest("GET", "http://"+p.http+"/v1/orders/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var o orders.Order
		_ = json.NewDecoder(resp.Body).Decode(&o)
		resp.Body.Close()
		if o.Status != orders.StatusPaid {
			t.Errorf("acknowledged order %s is %q after the crashes", id, o.Status)
		}
	}
	// Wait for the relay to drain, then stop cleanly and read the books.
	time.Sleep(time.Second)
	purchases := distinctPurchases(t, p.kafka, "CRASH-1")
	lakeDeadline := time.Now().Add(30 * time.Second)
	for {
		rows, ids := lakeSales(t, filepath.Join(dir, "lake"))
		if ids == purchases || time.Now().After(lakeDeadline) {
			if rows != ids || ids != purchases {
				t.Errorf("sales lake: %d rows, %d distinct events, want %d purchases once each", rows, ids, purchases)
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	store, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(dir, "mercato.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	counts, err := store.CountOrders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	paid := counts[orders.StatusPaid]
	if counts[orders.StatusReserved] != 0 || counts[orders.StatusPending] != 0 || counts[orders.StatusFailing] != 0 {
		t.Errorf("orders left mid-checkout: %v", counts)
	}
	if int64(purchases) != paid {
		t.Errorf("distinct purchase events = %d, paid order lines = %d", purchases, paid)
	}
	l, err := store.Levels(context.Background(), "CRASH-1")
	if err != nil {
		t.Fatal(err)
	}
	if l.OnHand+paid != initial || l.Reserved != 0 {
		t.Errorf("stock not conserved: on_hand %d + sold %d != %d (reserved %d)", l.OnHand, paid, initial, l.Reserved)
	}
	onHand, reserved, _ := store.LedgerTotals(context.Background(), "CRASH-1")
	if onHand != l.OnHand || reserved != l.Reserved {
		t.Errorf("ledger totals %d/%d disagree with stock %d/%d", onHand, reserved, l.OnHand, l.Reserved)
	}
	t.Logf("%d acknowledged, %d paid (%v), %d purchase events", len(paidIDs), paid, counts, purchases)
}

// lakeSales counts the sales lake's rows and distinct event ids.
func lakeSales(t *testing.T, root string) (rows, distinct int) {
	t.Helper()
	days, err := lake.Dates(root, lake.TableSales)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, d := range days {
		files, err := lake.Files(root, lake.TableSales, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			sales, err := lake.ReadFile[lake.Sale](f.Path)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sales {
				rows++
				ids[s.EventID] = true
			}
		}
	}
	return rows, len(ids)
}

func readToken(t *testing.T, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}

func distinctPurchases(t *testing.T, seed, sku string) int {
	t.Helper()
	ids := map[string]bool{}
	readTopic(t, seed, event.TopicPurchases, false, func(r *kgo.Record) {
		if string(r.Key) == sku {
			env, err := event.Decode(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			ids[env.ID] = true
		}
	})
	return len(ids)
}

// readTopic passes every record of topic, from the start, to fn, until it
// has read the end the topic had when it began (readLog); committed reads
// only committed transactions; opts add client options (security).
func readTopic(t *testing.T, seed, topic string, committed bool, fn func(*kgo.Record), opts ...kgo.Opt) {
	t.Helper()
	readTopics(t, seed, []string{topic}, committed, fn, opts...)
}

// readTopics is readTopic for several topics with one client.
func readTopics(t *testing.T, seed string, topics []string, committed bool, fn func(*kgo.Record), opts ...kgo.Opt) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := readLog(ctx, seed, topics, committed, func(r *kgo.Record) error { fn(r); return nil }, opts...); err != nil {
		t.Fatalf("reading %v: %v", topics, err)
	}
}

// orderLoad places one-unit card orders of sku from clients goroutines, each
// with a fresh Idempotency-Key, and keeps the ids of the acknowledged (201)
// orders. A request to a process killed under it is dropped, after
// errorWait.
type orderLoad struct {
	sku, keyPrefix string
	customers      int64
	clients        int
	errorWait      time.Duration
	client         *http.Client

	seq  atomic.Int64
	mu   sync.Mutex
	paid []string
}

// run drives until ctx ends; base names the API to send each order to.
func (l *orderLoad) run(ctx context.Context, t *testing.T, base func() string) {
	body := `{"items":[{"sku":"` + l.sku + `","quantity":1}],"payment":{"method":"card","token":"tok_ok"}}`
	var wg sync.WaitGroup
	for range l.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := l.seq.Add(1)
				req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+base()+"/v1/orders", strings.NewReader(body))
				req.Header.Set("X-Customer-ID", fmt.Sprintf("c%d", n%l.customers))
				req.Header.Set("Idempotency-Key", fmt.Sprintf("%s-%d", l.keyPrefix, n))
				resp, err := l.client.Do(req)
				if err != nil {
					time.Sleep(l.errorWait) // the process was killed under us
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 201 {
					var o orders.Order
					if err := json.Unmarshal(raw, &o); err != nil {
						t.Errorf("201 body: %v", err)
						continue
					}
					l.mu.Lock()
					l.paid = append(l.paid, o.ID)
					l.mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
}

// acknowledged is the ids of the orders answered 201 so far.
func (l *orderLoad) acknowledged() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.paid...)
}

package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/memstore"
	"github.com/mercato-platform/mercato/internal/outbox"
	"github.com/mercato-platform/mercato/internal/testenv"
)

func openStore(t testing.TB, path string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), "sqlite", path, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func putProducts(t *testing.T, s catalog.Repository, n int) {
	t.Helper()
	svc := catalog.NewService(s, nil, nil)
	for i := range n {
		stock := int64(i)
		sku := fmt.Sprintf("SKU-%d", i%5)
		_, _, err := svc.Put(context.Background(), sku, catalog.PutRequest{
			Name: "item", Category: "c", BasePrice: 1000, PriceFloor: 900, PriceCeiling: 1100, Stock: &stock,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// consume reads topics from the start: at least atLeast records (waiting up
// to 30 s for them, as a loaded machine may be slow to serve the first
// fetch), then whatever follows until a poll comes back empty.
func consume(t *testing.T, seed string, atLeast int, topics ...string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		recs := cl.PollFetches(ctx).Records()
		cancel()
		if len(recs) == 0 && (len(out) >= atLeast || time.Now().After(deadline)) {
			return out
		}
		out = append(out, recs...)
	}
}

// failingMark simulates a crash after the broker acknowledged a batch but
// before the rows were marked sent.
type failingMark struct{ *sqlstore.Store }

func (failingMark) MarkOutboxSent(context.Context, []int64) error {
	return errors.New("process killed")
}

// The crash is a process restart: the rows the relay did not mark must
// still be in the database file the next process opens, so this test runs
// on SQLite.
func TestRelayPublishesInKeyOrderAndRepublishesAfterCrash(t *testing.T) {
	t.Parallel()
	b := testenv.Kafka(t, 4)
	producer := testenv.BusClient(t, b.Addr(), "")
	path := filepath.Join(t.TempDir(), "m.db")
	s := openStore(t, path)
	putProducts(t, s, 50) // 50 product events + 50 inventory events (each write changes stock or creates)

	crashing := outbox.NewRelay(failingMark{s}, producer, outbox.Options{Batch: 30})
	if _, err := crashing.RelayOnce(context.Background()); err == nil {
		t.Fatal("RelayOnce succeeded although marking failed")
	}
	s.Close()

	// Restart: a new process opens the same file and relays everything.
	s = openStore(t, path)
	defer s.Close()
	relay := outbox.NewRelay(s, producer, outbox.Options{Batch: 30})
	for {
		n, err := relay.RelayOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if n, _ := s.OutboxBacklog(context.Background()); n != 0 {
		t.Fatalf("backlog after relay = %d", n)
	}
	recs := consume(t, b.Addr(), 100, producer.Topic(event.TopicProducts), producer.Topic(event.TopicInventory))
	ids := map[string]int{}
	versions := map[string][]int64{}
	for _, r := range recs {
		env, err := event.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		ids[env.ID]++
		if env.Type == event.TypeProductUpserted && ids[env.ID] == 1 {
			var p event.ProductUpserted
			if err := env.DecodeData(&p); err != nil {
				t.Fatal(err)
			}
			versions[p.SKU] = append(versions[p.SKU], p.Version)
		}
	}
	if len(ids) != 100 {
		t.Fatalf("distinct events = %d, want 100", len(ids))
	}
	dups := 0
	for _, n := range ids {
		dups += n - 1
	}
	if dups != 30 {
		t.Errorf("republished events = %d, want the 30 of the unmarked batch", dups)
	}
	for sku, vs := range versions {
		for i := range vs {
			if vs[i] != int64(i+1) {
				t.Errorf("%s versions out of order: %v", sku, vs)
				break
			}
		}
	}
}

func TestRelayRunDrainsAndStops(t *testing.T) {
	t.Parallel()
	b := testenv.Kafka(t, 2)
	producer := testenv.BusClient(t, b.Addr(), "")
	s := memstore.New(memstore.Options{})
	relay := outbox.NewRelay(s, producer, outbox.Options{PollInterval: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	putProducts(t, s, 10)
	relay.Notify()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := s.OutboxBacklog(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog still %d", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

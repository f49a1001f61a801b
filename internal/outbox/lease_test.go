package outbox_test

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/outbox"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// relayLock is the advisory lock key the PostgreSQL store's relay lease takes.
const relayLock = 727002

func TestMain(m *testing.M) { testenv.Main(m) }

// recordingProducer records what a relay published, batch by batch.
type recordingProducer struct {
	mu      sync.Mutex
	batches [][]string // event ids
	sent    chan struct{}
}

func newRecordingProducer() *recordingProducer {
	return &recordingProducer{sent: make(chan struct{}, 1)}
}

func (p *recordingProducer) Produce(_ context.Context, recs ...*bus.Record) error {
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		for _, h := range r.Headers {
			if h.Key == bus.HeaderEventID {
				ids = append(ids, string(h.Value))
			}
		}
	}
	p.mu.Lock()
	p.batches = append(p.batches, ids)
	p.mu.Unlock()
	select {
	case p.sent <- struct{}{}:
	default:
	}
	return nil
}

func (p *recordingProducer) published() (batches, events int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.batches {
		events += len(b)
	}
	return len(p.batches), events
}

// lostSignal is a log handler that signals the relay's lease-lost record.
type lostSignal struct {
	mu   sync.Mutex
	n    int
	lost chan struct{}
}

func (h *lostSignal) Enabled(context.Context, slog.Level) bool { return true }
func (h *lostSignal) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *lostSignal) WithGroup(string) slog.Handler            { return h }
func (h *lostSignal) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "lease lost") {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
		select {
		case h.lost <- struct{}{}:
		default:
		}
	}
	return nil
}

func (h *lostSignal) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func openPostgres(t *testing.T, url string) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlstore.Open(ctx, "postgres", url, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// A relay whose lease connection drops while its process lives must stop
// publishing before its next batch, while a second relay takes over.
func TestRelayStopsPublishingWhenItsLeaseIsLost(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresDB(t)
	first, second := openPostgres(t, url), openPostgres(t, url)
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	backlog := func() int64 {
		n, err := first.OutboxBacklog(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p1, log1 := newRecordingProducer(), &lostSignal{lost: make(chan struct{}, 1)}
	relay1 := outbox.NewRelay(first, p1, outbox.Options{PollInterval: 5 * time.Millisecond, Logger: slog.New(log1)})
	done1 := make(chan error, 1)
	go func() { done1 <- relay1.Run(ctx) }()

	putProducts(t, first, 3)
	relay1.Notify()
	testenv.WaitFor(t, "the first relay to publish", func() bool { return backlog() == 0 })
	_, before := p1.published()
	if before == 0 {
		t.Fatal("the first relay published nothing")
	}
	select { // forget the batches so far: only a later one may signal
	case <-p1.sent:
	default:
	}

	// The first relay's lock session dies; its process and pool live on.
	holder := testenv.AdvisoryLockHolder(t, admin, relayLock)
	if holder == 0 {
		t.Fatal("no session holds the relay lock")
	}
	if _, err := admin.Exec(`SELECT pg_terminate_backend($1)`, holder); err != nil {
		t.Fatal(err)
	}

	// A second relay takes the lease. It polls rarely, so only a Notify
	// makes it publish: the first relay sees the next rows alone.
	p2 := newRecordingProducer()
	relay2 := outbox.NewRelay(second, p2, outbox.Options{PollInterval: time.Hour})
	done2 := make(chan error, 1)
	go func() { done2 <- relay2.Run(ctx) }()
	testenv.WaitFor(t, "the second relay to take the lease", func() bool {
		pid := testenv.AdvisoryLockHolder(t, admin, relayLock)
		return pid != 0 && pid != holder
	})

	putProducts(t, second, 2)
	pending := backlog()
	if pending == 0 {
		t.Fatal("writes left no outbox rows")
	}
	relay1.Notify()
	select {
	case <-log1.lost:
	case <-p1.sent:
		t.Fatal("the relay published a batch after losing its lease")
	case <-time.After(30 * time.Second):
		t.Fatal("the relay neither published nor noticed its lost lease")
	}
	if _, after := p1.published(); after != before {
		t.Fatalf("the first relay published %d events after losing its lease", after-before)
	}

	relay2.Notify()
	testenv.WaitFor(t, "the second relay to publish", func() bool { return backlog() == 0 })
	if _, n := p2.published(); int64(n) != pending {
		t.Errorf("the second relay published %d events, want the %d new ones", n, pending)
	}
	// The first relay keeps waiting for the lease rather than publishing
	// or ending the process's role.
	relay1.Notify()
	time.Sleep(100 * time.Millisecond)
	if _, after := p1.published(); after != before {
		t.Errorf("the first relay published %d events while the second held the lease", after-before)
	}
	select {
	case err := <-done1:
		t.Fatalf("the first relay stopped running after losing its lease: %v", err)
	default:
	}
	if n := log1.count(); n != 1 {
		t.Errorf("lease loss logged %d times, want once", n)
	}

	cancel()
	for _, done := range []chan error{done1, done2} {
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

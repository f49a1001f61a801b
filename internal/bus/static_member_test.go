package bus

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mercato-platform/mercato/internal/event"
)

// A transactor that crashes (no LeaveGroup reaches the broker) and restarts
// under the same id gets its partitions back at once, not after the crashed
// member's 45 s session timeout: it is a static member of its group.
func TestRestartedTransactorTakesOverBeforeSessionTimeout(t *testing.T) {
	t.Parallel()
	b, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	// A crashed process sends no LeaveGroup: swallow every one.
	var leaves atomic.Int64
	b.cluster.ControlKey(kmsg.LeaveGroup.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		b.cluster.KeepControl()
		leaves.Add(1)
		return nil, context.Canceled, true
	})
	c, err := NewClient(Options{Brokers: []string{b.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.EnsureTopics(context.Background(), []event.TopicSpec{{Name: event.TopicPurchases}}, 4); err != nil {
		t.Fatal(err)
	}

	start := func(id string) (assigned chan int, stop func()) {
		assigned = make(chan int, 8)
		tr, err := c.NewTransactor(TransactOptions{
			Group: "pricing", TransactionalID: id, Topics: []string{event.TopicPurchases},
			Process: func(context.Context, []*Record) ([]*Record, error) { return nil, nil },
			OnAssigned: func(_ context.Context, m map[string][]int32) {
				assigned <- len(m[event.TopicPurchases])
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = tr.Run(ctx) }()
		return assigned, func() { cancel(); <-done }
	}
	wait := func(what string, ch chan int, within time.Duration) int {
		t.Helper()
		select {
		case n := <-ch:
			return n
		case <-time.After(within):
			t.Fatalf("%s: no partitions within %s", what, within)
			return 0
		}
	}

	a, stopA := start("pricing-0")
	if n := wait("first start", a, 30*time.Second); n != 4 {
		t.Fatalf("first instance got %d partitions, want 4", n)
	}
	stopA() // the "crash": its LeaveGroup, if any, never arrives
	restarted := time.Now()
	a2, stopA2 := start("pricing-0")
	defer stopA2()
	// Well inside the 45 s session timeout the crashed member would hold.
	if n := wait("restart", a2, 20*time.Second); n != 4 {
		t.Fatalf("restarted instance got %d partitions, want 4", n)
	}
	t.Logf("restarted instance owned its partitions after %s (%d LeaveGroup swallowed)", time.Since(restarted).Round(time.Millisecond), leaves.Load())
}

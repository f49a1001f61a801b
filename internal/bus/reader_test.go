package bus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// transaction produces values to partitions of topic in one transaction,
// committed or aborted.
func transaction(t *testing.T, cl *kgo.Client, topic string, commit bool, at map[int32][]string) {
	t.Helper()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for p, vals := range at {
		for _, v := range vals {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
}

func TestReadRangeAndFollowReadCommittedPositions(t *testing.T) {
	t.Parallel()
	b := testenv.Kafka(t, 2)
	c := testenv.BusClient(t, b.Addr(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start, err := c.StableOffsets(ctx, event.TopicPrices)
	if err != nil {
		t.Fatal(err)
	}
	if want := (bus.Offsets{event.TopicPrices: {0: 0, 1: 0}}); fmt.Sprint(start) != fmt.Sprint(want) {
		t.Fatalf("StableOffsets of an empty topic = %v", start)
	}

	var (
		mu       sync.Mutex
		followed []string
	)
	fctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Follow(fctx, start, 100, func(recs []bus.Record) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range recs {
				followed = append(followed, fmt.Sprintf("%d/%d:%s", r.Partition, r.Offset, r.Value))
			}
		}, nil)
	}()

	tx, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.TransactionalID("reader-test"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	transaction(t, tx, event.TopicPrices, true, map[int32][]string{0: {"a", "b", "c"}})
	transaction(t, tx, event.TopicPrices, false, map[int32][]string{0: {"aborted1", "aborted2"}})
	transaction(t, tx, event.TopicPrices, true, map[int32][]string{1: {"d"}})

	end, err := c.StableOffsets(ctx, event.TopicPrices)
	if err != nil {
		t.Fatal(err)
	}
	// Partition 0: three records and a marker, two aborted and a marker.
	if end[event.TopicPrices][0] != 7 || end[event.TopicPrices][1] != 2 {
		t.Fatalf("stable offsets after the transactions = %v", end)
	}
	testenv.WaitFor(t, "Follow to read the committed records", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(followed) == 4
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	slices.Sort(followed)
	if want := []string{"0/0:a", "0/1:b", "0/2:c", "1/0:d"}; !slices.Equal(followed, want) {
		t.Errorf("Follow read %v, want %v", followed, want)
	}

	// A range that ends behind aborted records and markers still ends.
	var got []string
	err = c.ReadRange(ctx, bus.Offsets{event.TopicPrices: {0: 1}}, end, func(r *bus.Record) error {
		got = append(got, fmt.Sprintf("%d/%d:%s", r.Partition, r.Offset, r.Value))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"0/1:b", "0/2:c", "1/0:d"}; !slices.Equal(got, want) {
		t.Errorf("ReadRange = %v, want %v", got, want)
	}
	stopErr := errors.New("enough")
	if err := c.ReadRange(ctx, nil, end, func(*bus.Record) error { return stopErr }); !errors.Is(err, stopErr) {
		t.Errorf("ReadRange with a failing fn = %v", err)
	}
	if err := c.ReadRange(ctx, end, end, func(*bus.Record) error { return stopErr }); err != nil {
		t.Errorf("empty ReadRange = %v", err)
	}

	// Records retention deleted cannot be replayed.
	adm := kadm.NewClient(tx)
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: event.TopicPrices, Partition: 0, At: 2})
	if _, err := adm.DeleteRecords(ctx, del); err != nil {
		t.Fatal(err)
	}
	err = c.ReadRange(ctx, bus.Offsets{event.TopicPrices: {0: 1}}, end, func(*bus.Record) error { return nil })
	if !errors.Is(err, bus.ErrOffsetTrimmed) {
		t.Errorf("ReadRange below the log start = %v, want ErrOffsetTrimmed", err)
	}
}

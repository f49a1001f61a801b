package bus

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchOf builds a fetch of one partition of each topic: records at the
// given seconds, and the partition's last stable offset.
func fetchOf(parts ...fetchPart) kgo.Fetches {
	var f kgo.Fetch
	for _, fp := range parts {
		p := kgo.FetchPartition{Partition: fp.part, HighWatermark: fp.end, LastStableOffset: fp.end}
		for i, s := range fp.secs {
			p.Records = append(p.Records, &kgo.Record{Topic: fp.topic, Partition: fp.part, Offset: fp.first + int64(i),
				Timestamp: time.Unix(1_800_000_000+int64(s), 0)})
		}
		f.Topics = append(f.Topics, kgo.FetchTopic{Topic: fp.topic, Partitions: []kgo.FetchPartition{p}})
	}
	return kgo.Fetches{f}
}

type fetchPart struct {
	topic      string
	part       int32
	first, end int64
	secs       []int
}

func TestAlignerMergesAndPausesTheLeader(t *testing.T) {
	t.Parallel()
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	a := newAligner(2 * time.Second)
	// Catching up: purchases fetched through 10 s, stock only through 3 s
	// with more to read.
	got := a.batch(fetchOf(
		fetchPart{"purchases", 0, 0, 100, []int{1, 4, 7, 10}},
		fetchPart{"stock", 0, 0, 100, []int{1, 2, 3}},
	))
	var secs []int
	for _, r := range got {
		secs = append(secs, int(r.Timestamp.Unix()-1_800_000_000))
	}
	if want := []int{1, 1, 2, 3, 4, 7, 10}; !slices.Equal(secs, want) {
		t.Fatalf("merged batch at %v s, want %v", secs, want)
	}
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused["purchases"]) != 1 || len(paused["stock"]) != 0 {
		t.Fatalf("paused %v, want purchases/0 only", paused)
	}
	// Stock catches up to 9 s: within 2 s of purchases, which resume.
	a.batch(fetchOf(fetchPart{"stock", 0, 3, 100, []int{6, 9}}))
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused) != 0 {
		t.Fatalf("paused %v after stock caught up", paused)
	}
	// Purchases run ahead again, but stock has nothing left to read (its
	// last stable offset is one past a commit marker): nothing is held.
	a.batch(fetchOf(fetchPart{"purchases", 0, 4, 200, []int{20, 30}}, fetchPart{"stock", 0, 5, 6, nil}))
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused) != 0 {
		t.Fatalf("paused %v though stock is read to its end", paused)
	}
	// A partition seen only in empty fetches (its start is unknown) holds
	// nothing back either.
	a.batch(fetchOf(fetchPart{"products", 0, 0, 50, nil}, fetchPart{"purchases", 0, 6, 200, []int{40}}))
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused) != 0 {
		t.Fatalf("paused %v behind a partition never read", paused)
	}
	// Revoked partitions are forgotten and resumed.
	a.batch(fetchOf(fetchPart{"stock", 0, 7, 100, []int{41}}, fetchPart{"purchases", 0, 7, 300, []int{50}}))
	a.steer(cl)
	a.forget(cl, map[string][]int32{"purchases": {0}, "stock": {0}})
	if paused := cl.PauseFetchPartitions(nil); len(paused) != 0 || len(a.pos) != 0 {
		t.Fatalf("after revoke: paused %v, positions %v", paused, a.pos)
	}
}

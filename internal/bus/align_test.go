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
	a, cl, clock := testAligner(t)
	a.assign(map[string][]int32{"purchases": {0}, "stock": {0}})
	// Catching up: purchases fetched through 10 s, stock only through 3 s
	// with more to read. Purchases after 3 + 2 s wait for a later batch:
	// the consumer reads them again from offset 2.
	got, rewind := a.batch(fetchOf(
		fetchPart{"purchases", 0, 0, 100, []int{1, 4, 7, 10}},
		fetchPart{"stock", 0, 0, 100, []int{1, 2, 3}},
	))
	if want := []int{1, 1, 2, 3, 4}; !slices.Equal(seconds(got), want) {
		t.Fatalf("merged batch at %v s, want %v", seconds(got), want)
	}
	if len(rewind) != 1 || len(rewind["purchases"]) != 1 || rewind["purchases"][0].Offset != 2 {
		t.Fatalf("rewind %v, want purchases/0 at offset 2", rewind)
	}
	// Purchases read again from 7 s, stock still at 3 s: nothing of
	// purchases passes, and they are paused until stock catches up.
	got, rewind = a.batch(fetchOf(fetchPart{"purchases", 0, 2, 100, []int{7, 10}}))
	if len(got) != 0 || rewind["purchases"][0].Offset != 2 {
		t.Fatalf("batch %v s, rewind %v; want nothing, purchases/0 at offset 2 again", seconds(got), rewind)
	}
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused["purchases"]) != 1 || len(paused["stock"]) != 0 {
		t.Fatalf("paused %v, want purchases/0 only", paused)
	}
	// Stock catches up to 9 s: purchases pass, and resume.
	got, rewind = a.batch(fetchOf(fetchPart{"stock", 0, 3, 100, []int{6, 9}}, fetchPart{"purchases", 0, 2, 100, []int{7, 10, 11}}))
	if want := []int{6, 7, 9, 10, 11}; !slices.Equal(seconds(got), want) || rewind != nil {
		t.Fatalf("batch %v s, rewind %v; want %v and nothing held", seconds(got), rewind, want)
	}
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused) != 0 {
		t.Fatalf("paused %v after stock caught up", paused)
	}
	// Stock is read to its end (offset 5 of 5): purchases running ahead
	// are not held.
	a.batch(fetchOf(fetchPart{"stock", 0, 5, 6, []int{11}}, fetchPart{"purchases", 0, 4, 200, []int{20, 30}}))
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused) != 0 {
		t.Fatalf("paused %v though stock is read to its end", paused)
	}
	// A laggard that stops bringing records (its end is past commit
	// markers, or empty fetches are all the client sees) stops counting
	// as behind after a second.
	a.batch(fetchOf(fetchPart{"stock", 0, 6, 9, []int{12}}, fetchPart{"purchases", 0, 6, 200, []int{31}}))
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused["purchases"]) != 1 {
		t.Fatalf("paused %v, want purchases behind stock with records left", paused)
	}
	*clock = clock.Add(2 * time.Second)
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused) != 0 {
		t.Fatalf("paused %v by a laggard silent for 2 s", paused)
	}
	// A partition seen only in empty fetches (its start is unknown) holds
	// nothing back either, a second after its partition number was first
	// read (TestAlignerWaitsForAnInputNotReadYet).
	a.assign(map[string][]int32{"products": {0}})
	a.batch(fetchOf(fetchPart{"products", 0, 0, 50, nil}, fetchPart{"purchases", 0, 7, 200, []int{40}}))
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused) != 0 {
		t.Fatalf("paused %v behind a partition never read", paused)
	}
	// Revoked partitions are forgotten and resumed.
	a.batch(fetchOf(fetchPart{"stock", 0, 7, 100, []int{41}}, fetchPart{"purchases", 0, 8, 300, []int{50}}))
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused["purchases"]) != 1 {
		t.Fatalf("paused %v, want purchases", paused)
	}
	a.forget(cl, map[string][]int32{"purchases": {0}, "stock": {0}})
	if paused := cl.PauseFetchPartitions(nil); len(paused) != 0 || len(a.pos) != 0 {
		t.Fatalf("after revoke: paused %v, positions %v", paused, a.pos)
	}
	// Records of a partition no longer owned pass through unsteered.
	got, _ = a.batch(fetchOf(fetchPart{"stock", 0, 9, 100, []int{60}}, fetchPart{"purchases", 0, 9, 300, []int{70}}))
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(got) != 2 || len(paused) != 0 || len(a.pos) != 0 {
		t.Fatalf("unowned partitions: %d records, paused %v, positions %v", len(got), paused, a.pos)
	}
}

func seconds(recs []*kgo.Record) []int {
	secs := []int{}
	for _, r := range recs {
		secs = append(secs, int(r.Timestamp.Unix()-1_800_000_000))
	}
	return secs
}

// Right after an assignment, an input not read yet holds the others to
// within by of where they start, for up to a second.
func TestAlignerWaitsForAnInputNotReadYet(t *testing.T) {
	t.Parallel()
	a, cl, clock := testAligner(t)
	a.assign(map[string][]int32{"purchases": {0}, "stock": {0}})
	// The wait counts from the first records, not from the assignment: a
	// member may wait long for its committed offsets.
	*clock = clock.Add(time.Minute)
	got, rewind := a.batch(fetchOf(fetchPart{"purchases", 0, 0, 100, []int{1, 2, 4, 7}}))
	if want := []int{1, 2}; !slices.Equal(seconds(got), want) || rewind["purchases"][0].Offset != 2 {
		t.Fatalf("batch %v s, rewind %v; want %v and purchases/0 again from offset 2", seconds(got), rewind, want)
	}
	// Held there, paused, and not let through 2 s further at each poll.
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused["purchases"]) != 1 || !a.holding() {
		t.Fatalf("paused %v, want purchases/0 while stock is awaited", paused)
	}
	if got, _ = a.batch(fetchOf(fetchPart{"purchases", 0, 2, 100, []int{4, 7}})); len(got) != 0 {
		t.Fatalf("batch %v s while stock is awaited, want nothing", seconds(got))
	}
	got, rewind = a.batch(fetchOf(fetchPart{"stock", 0, 0, 100, []int{1, 3, 5}}, fetchPart{"purchases", 0, 2, 100, []int{4, 7}}))
	if want := []int{1, 3, 4, 5, 7}; !slices.Equal(seconds(got), want) || rewind != nil {
		t.Fatalf("batch %v s, rewind %v; want %v once stock shows", seconds(got), rewind, want)
	}
	// Never read, more than a second after the partition number first
	// brought records: no hold.
	a.assign(map[string][]int32{"products": {0}})
	*clock = clock.Add(1500 * time.Millisecond)
	got, rewind = a.batch(fetchOf(fetchPart{"purchases", 0, 4, 100, []int{8, 20}}, fetchPart{"stock", 0, 3, 3, []int{6}}))
	if want := []int{6, 8, 20}; !slices.Equal(seconds(got), want) || rewind != nil {
		t.Fatalf("batch %v s, rewind %v; want %v", seconds(got), rewind, want)
	}
}

// Two inputs each cut while the other lagged do not hold each other: a
// partition that holds a record back has read up to it.
func TestAlignerCutPartitionsDoNotHoldEachOther(t *testing.T) {
	t.Parallel()
	a, cl, _ := testAligner(t)
	a.assign(map[string][]int32{"x": {0}, "y": {0}})
	// A quiet spell in both: x jumps from 99 s to 1000 s while y is at 99 s.
	got, rewind := a.batch(fetchOf(fetchPart{"x", 0, 0, 100, []int{99, 1000}}, fetchPart{"y", 0, 0, 100, []int{98, 99}}))
	if want := []int{98, 99, 99}; !slices.Equal(seconds(got), want) || rewind["x"][0].Offset != 1 {
		t.Fatalf("batch %v s, rewind %v; want %v and x/0 again from offset 1", seconds(got), rewind, want)
	}
	// y's next records come after the spell too: x, holding 1000 s back,
	// is not behind at 99 s, so y passes.
	got, rewind = a.batch(fetchOf(fetchPart{"y", 0, 2, 100, []int{1000, 1001}}))
	if want := []int{1000, 1001}; !slices.Equal(seconds(got), want) || rewind != nil {
		t.Fatalf("batch %v s, rewind %v; want %v", seconds(got), rewind, want)
	}
	a.steer(cl)
	if paused := cl.PauseFetchPartitions(nil); len(paused) != 0 {
		t.Fatalf("paused %v: the two hold each other", paused)
	}
}

// testAligner is an aligner of by 2 s on a clock the test moves, and a
// client (never connected) to steer.
func testAligner(t *testing.T) (*aligner, *kgo.Client, *time.Time) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	a := newAligner(2 * time.Second)
	clock := time.Unix(1_900_000_000, 0)
	a.now = func() time.Time { return clock }
	return a, cl, &clock
}

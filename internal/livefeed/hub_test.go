package livefeed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
)

// fakeLog is an event log in memory: every topic has two partitions that
// start at offset 10 (as if older records existed), records produced go to
// the hub's Follow and stay readable by ReadRange.
type fakeLog struct {
	mu       sync.Mutex
	next     map[string]map[int32]int64
	logStart int64 // offsets below it were deleted by retention
	recs     []bus.Record
	live     chan []bus.Record
	ranges   int // ReadRange calls
}

func newFakeLog() *fakeLog {
	l := &fakeLog{next: map[string]map[int32]int64{}, live: make(chan []bus.Record, 1024)}
	for _, t := range Topics() {
		l.next[t.Logical] = map[int32]int64{0: 10, 1: 10}
	}
	return l
}

func (l *fakeLog) StableOffsets(_ context.Context, topics ...string) (bus.Offsets, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := bus.Offsets{}
	for _, t := range topics {
		out[t] = map[int32]int64{0: l.next[t][0], 1: l.next[t][1]}
	}
	return out, nil
}

func (l *fakeLog) Follow(ctx context.Context, _ bus.Offsets, _ int, fn func([]bus.Record), _ func(error)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case batch := <-l.live:
			fn(batch)
		}
	}
}

func (l *fakeLog) ReadRange(ctx context.Context, from, to bus.Offsets, fn func(*bus.Record) error) error {
	l.mu.Lock()
	l.ranges++
	recs := slices.Clone(l.recs)
	low := l.logStart
	l.mu.Unlock()
	for t, parts := range to {
		for p, end := range parts {
			if from[t][p] < end && from[t][p] < low {
				return fmt.Errorf("%w: %s/%d", bus.ErrOffsetTrimmed, t, p)
			}
		}
	}
	for i := range recs {
		r := &recs[i]
		end, ok := to[r.Topic][r.Partition]
		if ok && r.Offset >= from[r.Topic][r.Partition] && r.Offset < end {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// produce appends one event per (short topic name, partition) pair and
// hands them to the hub as one batch.
func (l *fakeLog) produce(t *testing.T, subject string, at ...any) {
	t.Helper()
	var batch []bus.Record
	l.mu.Lock()
	for i := 0; i+1 < len(at); i += 2 {
		tp, _ := TopicByName(at[i].(string))
		p := int32(at[i+1].(int))
		env, err := event.New(tp.Name+".test", "livefeed_test", subject, time.Now(), map[string]int{"n": len(l.recs)})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := bus.EventRecord(event.Message{Topic: tp.Logical, Envelope: env})
		if err != nil {
			t.Fatal(err)
		}
		rec.Partition, rec.Offset = p, l.next[tp.Logical][p]
		l.next[tp.Logical][p]++
		l.recs = append(l.recs, rec)
		batch = append(batch, rec)
	}
	l.mu.Unlock()
	l.live <- batch
}

func startHub(t *testing.T, l Log, o Options) *Hub {
	t.Helper()
	h := New(l, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

func open(t *testing.T, h *Hub, cursor string, topics ...string) *Stream {
	t.Helper()
	st, err := h.Open(context.Background(), topics, cursor)
	if err != nil {
		t.Fatalf("Open(%v, %q): %v", topics, cursor, err)
	}
	t.Cleanup(st.Close)
	return st
}

// next reads n events, failing the test after 5 s.
func next(t *testing.T, st *Stream, n int) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []Event
	for range n {
		ev, err := st.Next(ctx, nil)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		out = append(out, ev)
	}
	return out
}

// quiet checks that st has nothing more for a moment.
func quiet(t *testing.T, st *Stream) {
	t.Helper()
	ev, err := st.Next(context.Background(), time.After(100*time.Millisecond))
	if !errors.Is(err, ErrIdle) {
		t.Fatalf("expected no more events, got %+v %v", ev, err)
	}
}

// subjects are the envelope subjects of evs, read from their data.
func subjects(t *testing.T, evs []Event) []string {
	t.Helper()
	var out []string
	for _, ev := range evs {
		env, err := event.Decode(ev.Data)
		if err != nil {
			t.Fatalf("event data is not an envelope: %s", ev.Data)
		}
		if env.Type != ev.Type {
			t.Errorf("event type %q, envelope type %q", ev.Type, env.Type)
		}
		out = append(out, env.Subject)
	}
	return out
}

func TestHubFansOutByTopic(t *testing.T) {
	t.Parallel()
	l := newFakeLog()
	h := startHub(t, l, Options{})
	prices := open(t, h, "", "prices")
	all := open(t, h, "")
	both := open(t, h, "", "orders", "alerts")
	l.produce(t, "a", "prices", 0, "orders", 1)
	l.produce(t, "b", "alerts", 1, "prices", 1)
	l.produce(t, "c", "reviews", 0)
	if got := subjects(t, next(t, prices, 2)); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("prices stream = %v", got)
	}
	if got := subjects(t, next(t, all, 5)); !slices.Equal(got, []string{"a", "a", "b", "b", "c"}) {
		t.Errorf("all-topics stream = %v", got)
	}
	evs := next(t, both, 2)
	if got := subjects(t, evs); !slices.Equal(got, []string{"a", "b"}) || evs[0].Topic != "orders" || evs[1].Topic != "alerts" || evs[0].Type != "orders.test" {
		t.Errorf("orders+alerts stream = %v %+v", got, evs)
	}
	for _, st := range []*Stream{prices, all, both} {
		quiet(t, st)
	}
	if _, err := h.Open(context.Background(), []string{"prices", "carts"}, ""); !errors.Is(err, ErrUnknownTopic) {
		t.Errorf("unknown topic: %v", err)
	}
	if _, err := h.Open(context.Background(), nil, "1@@"); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

func TestSlowSubscriberIsDroppedAndCatchesUpFromItsCursor(t *testing.T) {
	t.Parallel()
	l := newFakeLog()
	h := startHub(t, l, Options{Buffer: 2})
	slow := open(t, h, "", "prices")
	fast := open(t, h, "", "prices")
	var want []string
	for i := range 5 {
		s := fmt.Sprintf("s%d", i)
		want = append(want, s)
		l.produce(t, s, "prices", i%2)
		// The fast one keeps up; the slow one reads nothing.
		if got := subjects(t, next(t, fast, 1)); got[0] != s {
			t.Fatalf("fast got %v, want %s", got, s)
		}
	}
	// The slow one gets what its buffer held, then learns it was dropped.
	got := next(t, slow, 2)
	if _, err := slow.Next(context.Background(), nil); !errors.Is(err, ErrDropped) {
		t.Fatalf("slow subscriber: %v, want ErrDropped", err)
	}
	// Reconnecting with its last cursor it gets exactly the rest.
	again := open(t, h, got[1].Cursor, "prices")
	got = append(got, next(t, again, 3)...)
	if s := subjects(t, got); !slices.Equal(s, want) {
		t.Errorf("slow subscriber saw %v, want %v", s, want)
	}
	quiet(t, again)
	quiet(t, fast)
	if l.ranges != 0 {
		t.Errorf("the ring covered the gap, yet the log was read %d times", l.ranges)
	}
}

func TestReconnectReplaysTheGapThenGoesLive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		ring      int
		fromLog   bool
		maxReplay int
	}{
		{name: "from the ring", ring: 100},
		{name: "from the log", ring: 2, fromLog: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newFakeLog()
			h := startHub(t, l, Options{Ring: tc.ring})
			st := open(t, h, "", "prices", "inventory")
			l.produce(t, "a", "prices", 0, "inventory", 1)
			l.produce(t, "b", "orders", 0) // not subscribed
			first := next(t, st, 2)
			st.Close()
			l.produce(t, "c", "prices", 1, "inventory", 0, "prices", 0)
			l.produce(t, "d", "inventory", 1)
			// An unrelated stream shows when the hub has read them.
			probe := open(t, h, "", "inventory")
			l.produce(t, "e", "inventory", 0)
			next(t, probe, 1)
			again := open(t, h, first[1].Cursor, "prices", "inventory")
			got := subjects(t, next(t, again, 5))
			if !slices.Equal(got, []string{"c", "c", "c", "d", "e"}) {
				t.Errorf("replay = %v", got)
			}
			l.produce(t, "f", "prices", 1)
			if got := subjects(t, next(t, again, 1)); got[0] != "f" {
				t.Errorf("live after replay = %v", got)
			}
			quiet(t, again)
			if (l.ranges > 0) != tc.fromLog {
				t.Errorf("log read %d times", l.ranges)
			}
		})
	}
}

func TestLongGapResetsTheStream(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		o       Options
		trimmed bool
	}{
		{name: "ring holds more than MaxReplay", o: Options{MaxReplay: 3}},
		{name: "log gap longer than MaxReplay", o: Options{Ring: 2, MaxReplay: 3}},
		{name: "gap deleted by retention", o: Options{Ring: 2}, trimmed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newFakeLog()
			h := startHub(t, l, tc.o)
			st := open(t, h, "", "prices")
			l.produce(t, "a", "prices", 0)
			cur := next(t, st, 1)[0].Cursor
			st.Close()
			probe := open(t, h, "", "prices")
			for i := range 5 {
				l.produce(t, "gap", "prices", i%2)
			}
			next(t, probe, 5)
			if tc.trimmed {
				l.mu.Lock()
				l.logStart = 13
				l.mu.Unlock()
			}
			again := open(t, h, cur, "prices")
			evs := next(t, again, 1)
			if evs[0].Type != TypeReset || !strings.Contains(string(evs[0].Data), `"reason"`) {
				t.Fatalf("first event = %+v, want a reset", evs[0])
			}
			l.produce(t, "live", "prices", 1)
			if got := subjects(t, next(t, again, 1)); got[0] != "live" {
				t.Errorf("after the reset got %v", got)
			}
			// The reset's cursor is the live position: resuming from it
			// replays only what came after.
			from := open(t, h, evs[0].Cursor, "prices")
			if got := subjects(t, next(t, from, 1)); got[0] != "live" {
				t.Errorf("resuming from the reset cursor got %v", got)
			}
			quiet(t, from)
		})
	}
}

func TestCursorFromAProcessAheadSkipsWhatItSaw(t *testing.T) {
	t.Parallel()
	l := newFakeLog()
	h := startHub(t, l, Options{})
	// Another process already sent prices/0 up to offset 12.
	ahead := make(Cursor, len(Topics()))
	ahead[2] = []int64{13, 10}
	st := open(t, h, ahead.String(), "prices")
	for i := range 4 {
		l.produce(t, fmt.Sprint(i), "prices", 0) // offsets 10..13
	}
	l.produce(t, "p1", "prices", 1)
	if got := subjects(t, next(t, st, 2)); !slices.Equal(got, []string{"3", "p1"}) {
		t.Errorf("got %v, want only offset 13 of partition 0 and partition 1", got)
	}
}

func TestStopClosesStreams(t *testing.T) {
	t.Parallel()
	l := newFakeLog()
	h := New(l, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	st, err := h.Open(context.Background(), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := st.Next(context.Background(), nil); !errors.Is(err, ErrStopped) {
		t.Errorf("Next after stop: %v", err)
	}
	if _, err := h.Open(context.Background(), nil, ""); !errors.Is(err, ErrStopped) {
		t.Errorf("Open after stop: %v", err)
	}
}

func TestMalformedRecordsAreSkipped(t *testing.T) {
	t.Parallel()
	l := newFakeLog()
	h := startHub(t, l, Options{})
	st := open(t, h, "", "prices")
	env, _ := event.New("price.changed", "t", "SKU", time.Now(), map[string]int{"n": 1})
	pretty := []byte("{\n  \"id\": \"" + env.ID + "\", \"type\": \"price.changed\", \"source\": \"t\",\n \"time\": \"2026-01-01T00:00:00Z\", \"subject\": \"SKU\", \"data\": {\"n\": 1}, \"schema_version\": 1}")
	l.live <- []bus.Record{
		{Topic: event.TopicPrices, Partition: 0, Offset: 10, Value: []byte("not json"), Headers: []bus.Header{{Key: bus.HeaderEventType, Value: []byte("x")}}},
		{Topic: event.TopicPrices, Partition: 0, Offset: 11, Value: []byte(`{"id":"1"}`)},
		{Topic: event.TopicPrices, Partition: 0, Offset: 12, Value: pretty},
		{Topic: event.TopicPrices, Partition: 0, Offset: 13, Value: []byte(`{}`), Headers: []bus.Header{{Key: bus.HeaderEventType, Value: []byte("evil\nevent: x")}}},
	}
	ev := next(t, st, 1)[0]
	if ev.Type != "price.changed" || strings.ContainsAny(string(ev.Data), "\r\n") {
		t.Errorf("multi-line envelope came out as %+v", ev)
	}
	quiet(t, st)
}

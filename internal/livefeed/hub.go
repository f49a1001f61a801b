package livefeed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/retry"
)

// Log is the event log the hub reads (bus.Client).
type Log interface {
	StableOffsets(ctx context.Context, topics ...string) (bus.Offsets, error)
	Follow(ctx context.Context, from bus.Offsets, max int, fn func([]bus.Record), onErr func(error)) error
	ReadRange(ctx context.Context, from, to bus.Offsets, fn func(*bus.Record) error) error
}

// Options configure a Hub. Zero values take the defaults.
type Options struct {
	// Buffer is how many events a subscriber may have waiting before it is
	// dropped as too slow (default 4096: several of the hub's reads, which
	// are at most followBatch records, so one burst does not drop anyone).
	Buffer int
	// Ring is how many recent events the hub keeps for reconnects
	// (default 8192).
	Ring int
	// MaxReplay is the most events a reconnect replays; a longer gap gets a
	// reset event instead (default 10000). For a gap older than the ring
	// the bound applies to the span of offsets, markers included.
	MaxReplay int
	// ReplayTimeout bounds reading a gap from the event log (default 20 s);
	// past it the stream starts with a reset event.
	ReplayTimeout time.Duration
	Logger        *slog.Logger
	// Registerer, when set, gets the hub's metrics.
	Registerer prometheus.Registerer
}

// TypeReset is the type of the event that tells a client its gap was not
// replayed and it should reload its state; the stream goes on live from
// the reset event's cursor.
const TypeReset = "reset"

// Errors of Open and Stream.Next.
var (
	ErrUnknownTopic = errors.New("livefeed: unknown topic")
	ErrStopped      = errors.New("livefeed: the live event feed has stopped")
	ErrDropped      = errors.New("livefeed: the subscriber fell behind and was dropped")
	ErrNotStarted   = errors.New("livefeed: the live event feed has not started yet")
	ErrIdle         = errors.New("livefeed: no event before the idle timer fired")
)

// followBatch is the most records the hub hands out at once.
const followBatch = 500

// startWait bounds how long Open waits for a hub that is still finding
// where the topics end (the event log is unreachable).
const startWait = 10 * time.Second

// Event is one event of a stream.
type Event struct {
	// Topic is the short topic name; empty for a reset.
	Topic string
	// Type is the envelope's type, or TypeReset.
	Type string
	// Data is the envelope JSON as on the topic, on one line (for a reset,
	// {"reason": ...}).
	Data []byte
	// Cursor is the stream's position after this event; empty after
	// Stream.SkipEventCursors.
	Cursor string
}

// item is one event as the hub keeps it.
type item struct {
	topic     int // index in Topics()
	partition int32
	offset    int64
	typ       string
	data      []byte
}

// subscriber is one stream's place in the hub. The hub sends it each
// fetched batch it wants something of, shared with the other subscribers
// (nobody changes a batch once sent), and counts the events it wants in
// pending until the stream takes the batch: one channel send per batch
// instead of one per event, which is most of what many open streams cost.
type subscriber struct {
	want    []bool // indexed like Topics()
	ch      chan []*item
	pending atomic.Int64 // wanted events sent and not yet received
	dropped bool         // guarded by Hub.mu
}

// wanted is how many of batch's events sub follows.
func (sub *subscriber) wanted(batch []*item) int64 {
	var n int64
	for _, it := range batch {
		if sub.want[it.topic] {
			n++
		}
	}
	return n
}

// Hub reads the stream's topics once and fans their events out.
type Hub struct {
	log    Log
	o      Options
	logger *slog.Logger
	topics []Topic
	index  map[string]int // logical topic -> index in topics
	ready  chan struct{}  // closed once the hub knows where it starts
	done   chan struct{}  // closed when Run has ended
	once   sync.Once

	mu      sync.Mutex
	stopped bool
	pos     Cursor // the next offset the hub reads, per partition
	floor   Cursor // the ring holds every event at or after floor
	ring    []*item
	head    int // oldest item
	size    int
	subs    map[*subscriber]struct{}

	dropped prometheus.Counter
	events  prometheus.Counter
}

// New builds a hub over log; Run starts it.
func New(log Log, o Options) *Hub {
	if o.Buffer <= 0 {
		o.Buffer = 4096
	}
	if o.Ring <= 0 {
		o.Ring = 8192
	}
	if o.MaxReplay <= 0 {
		o.MaxReplay = 10000
	}
	if o.ReplayTimeout <= 0 {
		o.ReplayTimeout = 20 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		log: log, o: o, logger: o.Logger, topics: Topics(), index: map[string]int{},
		ready: make(chan struct{}), done: make(chan struct{}),
		ring: make([]*item, o.Ring), subs: map[*subscriber]struct{}{},
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mercato_live_subscribers_dropped_total", Help: "Live event streams closed because the client fell behind.",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mercato_live_events_total", Help: "Events the live event hub read from the event log and fanned out.",
		}),
	}
	for i, t := range h.topics {
		h.index[t.Logical] = i
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(h.dropped, h.events, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mercato_live_subscribers", Help: "Open live event streams.",
		}, func() float64 {
			h.mu.Lock()
			defer h.mu.Unlock()
			return float64(len(h.subs))
		}))
	}
	return h
}

// Run reads the topics from their current end until ctx ends, then closes
// every stream. It returns nil on a clean stop. Call it once.
func (h *Hub) Run(ctx context.Context) error {
	defer h.stop()
	logical := make([]string, len(h.topics))
	for i, t := range h.topics {
		logical[i] = t.Logical
	}
	var start bus.Offsets
	err := retry.Policy{Backoff: retry.Backoff{First: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: true},
		OnRetry: func(attempt int, err error, _ time.Duration) {
			if attempt == 1 || attempt%10 == 0 {
				h.logger.Warn("live event feed cannot list offsets, retrying", "attempt", attempt, "err", err)
			}
		}}.Do(ctx, func(int) error {
		var err error
		start, err = h.log.StableOffsets(ctx, logical...)
		return err
	})
	if err != nil {
		return nil // only a cancelled ctx ends the retries
	}
	pos := make(Cursor, len(h.topics))
	for t, parts := range start {
		i, ok := h.index[t]
		if !ok {
			continue
		}
		// Kafka numbers a topic's partitions 0..n-1.
		pos[i] = make([]int64, len(parts))
		for p, o := range parts {
			if p >= 0 && int(p) < len(parts) {
				pos[i][p] = o
			}
		}
	}
	h.mu.Lock()
	h.pos, h.floor = pos, pos.clone()
	h.mu.Unlock()
	close(h.ready)
	return h.log.Follow(ctx, h.offsets(pos, nil), followBatch, h.publish, func(err error) {
		h.logger.Warn("live event feed fetch error", "err", err)
	})
}

// stop closes every stream: their clients reconnect to a running process.
func (h *Hub) stop() {
	h.mu.Lock()
	h.stopped = true
	for s := range h.subs {
		close(s.ch)
	}
	clear(h.subs)
	h.mu.Unlock()
	h.once.Do(func() { close(h.done) })
}

// offsets is c as the event log's offsets, only the topics of want (all
// when want is nil).
func (h *Hub) offsets(c Cursor, want []bool) bus.Offsets {
	out := bus.Offsets{}
	for i, parts := range c {
		if parts == nil || (want != nil && !want[i]) {
			continue
		}
		m := make(map[int32]int64, len(parts))
		for p, o := range parts {
			m[int32(p)] = o
		}
		out[h.topics[i].Logical] = m
	}
	return out
}

// toItem is the event of a record; false for a record no client could
// parse, which the stream skips (its consumers dead-letter it).
func (h *Hub) toItem(idx int, r *bus.Record) (*item, bool) {
	var typ string
	if v, ok := r.Header(bus.HeaderEventType); ok && json.Valid(r.Value) {
		typ = string(v)
	} else {
		env, err := event.Decode(r.Value)
		if err != nil {
			return nil, false
		}
		typ = env.Type
	}
	// The type is an SSE field and the data one data line.
	if typ == "" || strings.ContainsAny(typ, "\r\n") {
		return nil, false
	}
	var data []byte
	if bytes.ContainsAny(r.Value, "\r\n") {
		var b bytes.Buffer
		if err := json.Compact(&b, r.Value); err != nil {
			return nil, false
		}
		data = b.Bytes()
	} else {
		// A copy, so the ring does not pin the client's fetch buffers.
		data = bytes.Clone(r.Value)
	}
	return &item{topic: idx, partition: r.Partition, offset: r.Offset, typ: typ, data: data}, true
}

// publish moves the hub past batch and hands its events to the ring and
// the subscribers.
func (h *Hub) publish(batch []bus.Record) {
	type entry struct {
		idx int
		rec *bus.Record
		it  *item
		ok  bool
	}
	entries := make([]entry, 0, len(batch))
	for i := range batch {
		r := &batch[i]
		idx, ok := h.index[r.Topic]
		if !ok {
			continue
		}
		it, ok := h.toItem(idx, r)
		entries = append(entries, entry{idx: idx, rec: r, it: it, ok: ok})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*item, 0, len(entries))
	for _, e := range entries {
		parts := h.pos[e.idx]
		p := int(e.rec.Partition)
		if p < 0 || p >= len(parts) {
			continue
		}
		parts[p] = max(parts[p], e.rec.Offset+1)
		if !e.ok {
			continue
		}
		h.events.Inc()
		h.push(e.it)
		out = append(out, e.it)
	}
	if len(out) == 0 {
		return
	}
	for s := range h.subs {
		n := s.wanted(out)
		if n == 0 {
			continue
		}
		if s.pending.Add(n) <= int64(h.o.Buffer) {
			select {
			case s.ch <- out:
				continue
			default:
			}
		}
		// Too slow: it reconnects with its cursor and catches up from the
		// ring, instead of holding everyone back.
		s.dropped = true
		close(s.ch)
		delete(h.subs, s)
		h.dropped.Inc()
	}
}

// push adds it to the ring, forgetting the oldest item when full.
func (h *Hub) push(it *item) {
	if h.size == len(h.ring) {
		old := h.ring[h.head]
		h.floor[old.topic][old.partition] = max(h.floor[old.topic][old.partition], old.offset+1)
		h.ring[h.head] = it
		h.head = (h.head + 1) % len(h.ring)
		return
	}
	h.ring[(h.head+h.size)%len(h.ring)] = it
	h.size++
}

// Open starts a stream of the named topics (all when names is empty). With
// a cursor (from an earlier stream's Event.Cursor, on any process of the
// cluster) the stream first replays what came after it, or, when that is
// more than MaxReplay events or no longer in the log, starts with a reset
// event; without one it starts now. Open waits until the hub has started.
func (h *Hub) Open(ctx context.Context, names []string, cursor string) (*Stream, error) {
	want := make([]bool, len(h.topics))
	for _, n := range names {
		t, ok := TopicByName(n)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownTopic, n)
		}
		want[h.index[t.Logical]] = true
	}
	if len(names) == 0 {
		for i := range want {
			want[i] = true
		}
	}
	var from Cursor
	if cursor != "" {
		var err error
		if from, err = ParseCursor(cursor); err != nil {
			return nil, err
		}
	}
	wait := time.NewTimer(startWait)
	defer wait.Stop()
	select {
	case <-h.ready:
	case <-h.done:
		return nil, ErrStopped
	case <-wait.C:
		return nil, ErrNotStarted
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Each batch in the channel holds at least one wanted event, so
	// pending reaches Buffer before the channel fills.
	s := &Stream{hub: h, sub: &subscriber{want: want, ch: make(chan []*item, h.o.Buffer)}}
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return nil, ErrStopped
	}
	now := make(Cursor, len(h.topics))
	for i, parts := range h.pos {
		if want[i] && parts != nil {
			now[i] = append([]int64(nil), parts...)
		}
	}
	h.subs[s.sub] = struct{}{}
	s.pos = now.clone()
	fromLog := false
	if from != nil {
		s.pos = resume(from, now)
		var span int64
		covered := true
		for i, parts := range now {
			for p, end := range parts {
				if at := s.pos[i][p]; at < end {
					span += end - at
					covered = covered && at >= h.floor[i][p]
				}
			}
		}
		switch {
		case span == 0:
		case covered:
			s.replay = h.ringAfter(s.pos)
			if len(s.replay) > h.o.MaxReplay {
				s.resetTo(now, fmt.Sprintf("%d events happened since the cursor, more than the %d replayed", len(s.replay), h.o.MaxReplay))
			}
		case span > int64(h.o.MaxReplay):
			s.resetTo(now, fmt.Sprintf("%d offsets passed since the cursor, more than the %d events replayed", span, h.o.MaxReplay))
		default:
			fromLog = true
		}
	}
	h.mu.Unlock()
	if fromLog {
		if err := s.readGap(ctx, now); err != nil {
			if ctx.Err() != nil {
				s.Close()
				return nil, ctx.Err()
			}
			h.logger.Debug("live event replay from the event log failed; resetting the stream", "err", err)
			s.resetTo(now, "the events since the cursor could not be read: "+err.Error())
		}
	}
	return s, nil
}

// resume is where a stream that had reached from goes on, for the topics
// of now: a topic from does not cover starts now, a partition it lacks
// (added since) from its start.
func resume(from, now Cursor) Cursor {
	out := make(Cursor, len(now))
	for i, parts := range now {
		if parts == nil {
			continue
		}
		if i >= len(from) || from[i] == nil {
			out[i] = append([]int64(nil), parts...)
			continue
		}
		out[i] = make([]int64, len(parts))
		copy(out[i], from[i])
	}
	return out
}

// ringAfter is every ring item of pos's topics at or after pos, oldest first.
func (h *Hub) ringAfter(pos Cursor) []*item {
	var out []*item
	for k := range h.size {
		it := h.ring[(h.head+k)%len(h.ring)]
		if parts := pos[it.topic]; parts != nil && it.offset >= parts[it.partition] {
			out = append(out, it)
		}
	}
	return out
}

// Stream is one subscriber's events: first the replay, then live ones.
// Its methods are for one goroutine.
type Stream struct {
	hub    *Hub
	sub    *subscriber
	pos    Cursor
	replay []*item
	live   []*item // the rest of the batch the hub sent last
	reset  string  // reason of a reset event still to send
	// noCursors leaves Event.Cursor empty: encoding every partition's
	// offset for every event was most of a busy stream's cost.
	noCursors bool
}

// SkipEventCursors stops filling Event.Cursor. A caller that writes events
// in batches reads Cursor once after each batch instead: one encoding per
// write rather than per event.
func (s *Stream) SkipEventCursors() { s.noCursors = true }

// errTooMany stops a replay read that found more than MaxReplay events.
var errTooMany = errors.New("too many events since the cursor")

// readGap reads the stream's gap, from its position up to now, from the
// event log.
func (s *Stream) readGap(ctx context.Context, now Cursor) error {
	h := s.hub
	ctx, cancel := context.WithTimeout(ctx, h.o.ReplayTimeout)
	defer cancel()
	var got []*item
	err := h.log.ReadRange(ctx, h.offsets(s.pos, s.sub.want), h.offsets(now, s.sub.want), func(r *bus.Record) error {
		idx, ok := h.index[r.Topic]
		if !ok || !s.sub.want[idx] {
			return nil
		}
		it, ok := h.toItem(idx, r)
		if !ok {
			return nil
		}
		if len(got) == h.o.MaxReplay {
			return errTooMany
		}
		got = append(got, it)
		return nil
	})
	if err != nil {
		return err
	}
	s.replay = got
	return nil
}

// resetTo drops the replay and makes the stream start with a reset event
// at now (or later where the cursor was already past it).
func (s *Stream) resetTo(now Cursor, reason string) {
	s.replay = nil
	s.reset = reason
	for i, parts := range now {
		for p, o := range parts {
			s.pos[i][p] = max(s.pos[i][p], o)
		}
	}
}

// Cursor is the stream's position: where a stream opened with it goes on.
func (s *Stream) Cursor() string { return s.pos.String() }

// Next returns the stream's next event, waiting for it until ctx ends or
// idle fires (ErrIdle; a nil idle never fires). It returns ErrDropped once
// the subscriber fell behind (its buffered events were all returned
// first) and ErrStopped when the hub stopped.
func (s *Stream) Next(ctx context.Context, idle <-chan time.Time) (Event, error) {
	if ev, ok, err := s.TryNext(); ok || err != nil {
		return ev, err
	}
	for {
		select {
		case batch, ok := <-s.sub.ch:
			if !ok {
				return Event{}, s.closed()
			}
			s.received(batch)
			if ev, ok, _ := s.TryNext(); ok {
				return ev, nil
			}
		case <-idle:
			return Event{}, ErrIdle
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// TryNext is Next without waiting: false when no event is ready.
func (s *Stream) TryNext() (Event, bool, error) {
	if s.reset != "" {
		data, _ := json.Marshal(map[string]string{"reason": s.reset})
		s.reset = ""
		return Event{Type: TypeReset, Data: data, Cursor: s.pos.String()}, true, nil
	}
	for len(s.replay) > 0 {
		it := s.replay[0]
		s.replay[0] = nil
		s.replay = s.replay[1:]
		if ev, ok := s.accept(it); ok {
			return ev, true, nil
		}
	}
	for {
		for len(s.live) > 0 {
			it := s.live[0]
			s.live = s.live[1:] // shared with other streams: never written
			if ev, ok := s.accept(it); ok {
				return ev, true, nil
			}
		}
		s.live = nil // an idle stream does not keep its last batch alive
		select {
		case batch, ok := <-s.sub.ch:
			if !ok {
				return Event{}, false, s.closed()
			}
			s.received(batch)
		default:
			return Event{}, false, nil
		}
	}
}

// received takes a batch the hub sent.
func (s *Stream) received(batch []*item) {
	s.sub.pending.Add(-s.sub.wanted(batch))
	s.live = batch
}

// closed is why the hub closed the stream's channel.
func (s *Stream) closed() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if s.sub.dropped {
		return ErrDropped
	}
	return ErrStopped
}

// accept moves the stream past it; false when the stream was past it
// already (a cursor from a process ahead of this one).
func (s *Stream) accept(it *item) (Event, bool) {
	parts := s.pos[it.topic]
	if parts == nil || int(it.partition) >= len(parts) || it.offset < parts[it.partition] {
		return Event{}, false
	}
	parts[it.partition] = it.offset + 1
	ev := Event{Topic: s.hub.topics[it.topic].Name, Type: it.typ, Data: it.data}
	if !s.noCursors {
		ev.Cursor = s.pos.String()
	}
	return ev, true
}

// Close leaves the hub.
func (s *Stream) Close() {
	s.hub.mu.Lock()
	delete(s.hub.subs, s.sub)
	s.hub.mu.Unlock()
}

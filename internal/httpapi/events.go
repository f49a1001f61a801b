package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mercato-platform/mercato/internal/livefeed"
)

// SSE settings of GET /v1/events/stream.
const (
	sseRetryMillis   = 2000             // how long clients wait before reconnecting
	sseWriteTimeout  = 30 * time.Second // a client that reads nothing this long is cut off
	sseMaxCoalesced  = 4096             // ready events written before one flush
	defaultHeartbeat = 15 * time.Second
	// A stream writes at most this often: a busy shop's events wait in the
	// hub's per-stream buffer and go out together, one write (and one
	// wake-up of the client) per interval instead of one per event, so
	// open console tabs cost checkout little. A quiet stream's first
	// event goes out at once.
	sseMinFlushGap = 100 * time.Millisecond
	sseWriteBuffer = 64 << 10
	// A sampled stream (?sample=N) writes at most this often, each write
	// with at most N events of each type.
	sseSampleGap = 250 * time.Millisecond
	sseMaxSample = 1000
	// Ready events a sampled write reads, kept or counted: most are only
	// counted, so it reads far more than a full write does.
	sseMaxSampled = 1 << 16
)

// streamSample is the request's ?sample: 0 when it asks for every event.
func streamSample(r *http.Request) (int, error) {
	raw := r.URL.Query().Get("sample")
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > sseMaxSample {
		return 0, apiErr(http.StatusBadRequest, "invalid_sample", "sample is how many events of each type a write may carry, from 1 to %d", sseMaxSample)
	}
	return n, nil
}

// streamTopics are the short topic names a request asks for, checked
// against what the caller may see: all it may see when it names none.
func (s *Server) streamTopics(r *http.Request) ([]string, error) {
	admin := s.IsAdmin(r)
	var names []string
	seen := map[string]bool{}
	for _, raw := range strings.Split(r.URL.Query().Get("topics"), ",") {
		name := strings.TrimSpace(raw)
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		t, ok := livefeed.TopicByName(name)
		if !ok {
			return nil, apiErr(http.StatusBadRequest, "unknown_topic", "unknown topic %q; the stream serves %s", truncate(name, 64), strings.Join(topicNames(), ", "))
		}
		if t.AdminOnly && !admin {
			return nil, apiErr(http.StatusForbidden, "forbidden", "the %s topic needs Authorization: Bearer <admin token>", t.Name)
		}
		names = append(names, t.Name)
	}
	if len(names) == 0 {
		for _, t := range livefeed.Topics() {
			if admin || !t.AdminOnly {
				names = append(names, t.Name)
			}
		}
	}
	return names, nil
}

func topicNames() []string {
	var out []string
	for _, t := range livefeed.Topics() {
		out = append(out, t.Name)
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// streamEvents serves GET /v1/events/stream: Server-Sent Events, one per
// event of the asked topics. Events go out in writes (at most one per
// sseMinFlushGap); a write's last event carries the stream's cursor as id,
// which SSE clients keep for the events before it too. A client cut off in
// the middle of a write gets that write's events again on reconnect (each
// envelope has its own id to skip them by); one that reconnects after a
// whole write misses nothing and gets nothing twice.
//
// With ?sample=N the stream is sampled, for screens rather than programs:
// a write at most every sseSampleGap with at most N events of each type,
// the others counted in a "skipped" event (see sampler). An open console
// tab asks for that: it shows the latest events and reloads what it shows
// when some were skipped, and a busy shop's every event sent to every tab
// would cost checkout more than the tab can show.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) error {
	names, err := s.streamTopics(r)
	if err != nil {
		return err
	}
	sample, err := streamSample(r)
	if err != nil {
		return err
	}
	if s.o.Events == nil {
		return apiErr(http.StatusServiceUnavailable, "unavailable", "this process has no live event feed; ask a process that runs the api role")
	}
	cursor := r.Header.Get("Last-Event-ID")
	if cursor == "" {
		cursor = r.URL.Query().Get("last_event_id")
	}
	st, err := s.o.Events.Open(r.Context(), names, cursor)
	switch {
	case err == nil:
	case errors.Is(err, livefeed.ErrBadCursor):
		return apiErr(http.StatusBadRequest, "invalid_last_event_id", "Last-Event-ID is not a cursor of this stream; reconnect without it")
	case errors.Is(err, livefeed.ErrStopped), errors.Is(err, livefeed.ErrNotStarted):
		return apiErr(http.StatusServiceUnavailable, "unavailable", "the live event feed is not running: %v", err)
	case r.Context().Err() != nil:
		return nil // the client left while its gap was read
	default:
		return err
	}
	defer st.Close()
	st.SkipEventCursors()

	rc := http.NewResponseController(w)
	// A stream outlives the server's read and write timeouts: the read
	// deadline would cancel the request, the write deadline cut it off.
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies such as nginx must not buffer it
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, sseWriteBuffer)
	// The id-only block gives the client a cursor before the first event,
	// so a reconnect after a quiet spell misses nothing either.
	bw.WriteString("retry: " + strconv.Itoa(sseRetryMillis) + "\nid: " + st.Cursor() + "\n\n")
	if !flushSSE(bw, rc) {
		return nil
	}
	heartbeat := s.o.EventsHeartbeat
	if heartbeat <= 0 {
		heartbeat = defaultHeartbeat
	}
	idle := time.NewTimer(heartbeat)
	defer idle.Stop()
	pace := time.NewTimer(0)
	defer pace.Stop()
	gap := sseMinFlushGap
	var sampled *sampler
	if sample > 0 {
		gap, sampled = sseSampleGap, newSampler(sample)
	}
	lastFlush := time.Now()
	for {
		idle.Reset(heartbeat)
		ev, err := st.Next(r.Context(), idle.C)
		if err == nil {
			// Busy: let more events gather before this write; a sampled
			// stream reads them meanwhile, counting, so the hub's buffer
			// for it does not fill during its longer pauses.
			wait := gap - time.Since(lastFlush)
			if sampled != nil {
				sampled.add(ev)
				if !sampled.gather(r.Context(), st, pace, wait) {
					return nil // gone, dropped or stopping: it resumes from its last id
				}
			} else if !pause(r.Context(), pace, wait) {
				return nil
			}
		}
		// Writes of a full buffer happen before the flush: the deadline
		// covers them too.
		_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		switch {
		case err == nil && sampled != nil:
			sampled.write(bw, st)
		case err == nil:
			writeSSE(bw, ev)
			// Write what else is ready, then flush once. The write's last
			// event carries the id: the position after all of them.
			for range sseMaxCoalesced {
				ev, ok, err := st.TryNext()
				if !ok || err != nil {
					break
				}
				bw.WriteString("\n")
				writeSSE(bw, ev)
			}
			endWrite(bw, st)
		case errors.Is(err, livefeed.ErrIdle):
			bw.WriteString(": ping\n\n")
		default:
			// The client left, fell behind or the process is stopping:
			// the stream ends and the client reconnects with its last id.
			return nil
		}
		if !flushSSE(bw, rc) {
			return nil
		}
		lastFlush = time.Now()
	}
}

// sampler makes the writes of a sampled stream: of the events ready for a
// write it keeps the last n of each type (resets always), in the order
// they came, and counts the others in one "skipped" event at the end,
// {"type": count, …}. The write's id is the position after all of them,
// counted ones included: a client that reconnects with it is not sent
// them again.
type sampler struct {
	n       int
	seq     int
	rings   map[string]*sampleRing
	always  []sampledEvent
	skipped map[string]int
	out     []sampledEvent
	keys    map[string][]byte // each type as a JSON string, encoded once
}

type sampledEvent struct {
	seq int
	ev  livefeed.Event
}

// sampleRing holds a type's last n events of a write.
type sampleRing struct {
	buf  []sampledEvent
	next int // where the next event goes once buf is full
}

func newSampler(n int) *sampler {
	return &sampler{n: n, rings: map[string]*sampleRing{}, skipped: map[string]int{}, keys: map[string][]byte{}}
}

func (p *sampler) add(ev livefeed.Event) {
	p.seq++
	e := sampledEvent{p.seq, ev}
	if ev.Type == livefeed.TypeReset {
		p.always = append(p.always, e)
		return
	}
	r := p.rings[ev.Type]
	if r == nil {
		r = &sampleRing{}
		p.rings[ev.Type] = r
	}
	if len(r.buf) < p.n {
		r.buf = append(r.buf, e)
		return
	}
	p.skipped[ev.Type]++
	r.buf[r.next] = e
	r.next = (r.next + 1) % p.n
}

// write reads what else is ready and writes the sample of it and of what
// was added before, the skipped counts and the stream's id into bw.
func (p *sampler) write(bw *bufio.Writer, st *livefeed.Stream) {
	for range sseMaxSampled {
		ev, ok, err := st.TryNext()
		if !ok || err != nil {
			break
		}
		p.add(ev)
	}
	p.out = append(p.out[:0], p.always...)
	for _, r := range p.rings {
		p.out = append(p.out, r.buf...)
	}
	slices.SortFunc(p.out, func(a, b sampledEvent) int { return a.seq - b.seq })
	for i, e := range p.out {
		if i > 0 {
			bw.WriteString("\n")
		}
		writeSSE(bw, e.ev)
	}
	if len(p.skipped) > 0 {
		bw.WriteString("\nevent: skipped\ndata: {")
		for i, typ := range slices.Sorted(maps.Keys(p.skipped)) {
			if i > 0 {
				bw.WriteByte(',')
			}
			key, ok := p.keys[typ]
			if !ok {
				key, _ = json.Marshal(typ) // a string always encodes
				p.keys[typ] = key
			}
			bw.Write(key)
			bw.WriteByte(':')
			bw.WriteString(strconv.Itoa(p.skipped[typ]))
		}
		bw.WriteString("}\n")
	}
	endWrite(bw, st)
	clear(p.out)
	clear(p.always)
	p.out, p.always, p.seq = p.out[:0], p.always[:0], 0
	for _, r := range p.rings {
		clear(r.buf)
		r.buf, r.next = r.buf[:0], 0
	}
	clear(p.skipped)
}

// pause waits d on t (not at all when d <= 0); false when ctx ended first.
func pause(ctx context.Context, t *time.Timer, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t.Reset(d)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// gather adds what st brings during d on t (nothing when d <= 0); false
// when the stream ended.
func (p *sampler) gather(ctx context.Context, st *livefeed.Stream, t *time.Timer, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t.Reset(d)
	for {
		// Next returns ready events without looking at the timer: a stream
		// that always has one checks it here, or it would never write.
		select {
		case <-t.C:
			return true
		default:
		}
		ev, err := st.Next(ctx, t.C)
		if errors.Is(err, livefeed.ErrIdle) {
			return true
		}
		if err != nil {
			return false
		}
		p.add(ev)
	}
}

// endWrite ends a write with the stream's id: the position after every
// event the write read.
func endWrite(bw *bufio.Writer, st *livefeed.Stream) {
	bw.WriteString("id: ")
	bw.WriteString(st.Cursor())
	bw.WriteString("\n\n")
}

// writeSSE writes one event's fields, not the blank line that ends it: the
// caller adds it, after the id on a write's last event. The hub guarantees
// type and data are one line each.
func writeSSE(bw *bufio.Writer, ev livefeed.Event) {
	bw.WriteString("event: ")
	bw.WriteString(ev.Type)
	bw.WriteString("\ndata: ")
	bw.Write(ev.Data)
	bw.WriteString("\n")
}

// flushSSE sends what bw holds to the client now; false when the client
// is gone or did not read within sseWriteTimeout.
func flushSSE(bw *bufio.Writer, rc *http.ResponseController) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	if err := bw.Flush(); err != nil {
		return false
	}
	return rc.Flush() == nil
}

package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/httpapi"
	"github.com/mercato-platform/mercato/internal/livefeed"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// newEventsEnv is an API whose live event feed reads an embedded broker.
func newEventsEnv(t *testing.T, o livefeed.Options) (*env, *bus.Client) {
	t.Helper()
	b := testenv.Kafka(t, 2)
	c := testenv.BusClient(t, b.Addr(), "")
	hub := livefeed.New(c, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	e := newEnvOpts(t, func(o *httpapi.Options, _ *sqlstore.Store) {
		o.Events = hub
		o.EventsHeartbeat = 100 * time.Millisecond
	})
	// Registered after the server's cleanups, so it runs before them: the
	// hub closes its streams and the test server can shut down.
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub: %v", err)
		}
	})
	return e, c
}

// sseBlock is one block of an event stream: an event, or a comment.
type sseBlock struct {
	retry, event, data, comment string
	// id is the client's last event id after the block, as an EventSource
	// keeps it: the server sends it on a write's last event only (ownID).
	id    string
	ownID bool
}

// sseStream reads an event stream's blocks in the background.
type sseStream struct {
	resp   *http.Response
	blocks chan sseBlock
}

func openStream(t *testing.T, e *env, query string, headers ...string) *sseStream {
	t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+"/v1/events/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("GET /v1/events/stream%s = %d", query, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || resp.Header.Get("X-Accel-Buffering") != "no" {
		t.Errorf("stream headers: %v", resp.Header)
	}
	s := &sseStream{resp: resp, blocks: make(chan sseBlock, 1000)}
	t.Cleanup(s.close)
	go func() {
		defer close(s.blocks)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 2<<20)
		var b sseBlock
		var last string
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if b.ownID {
					last = b.id
				}
				b.id = last
				s.blocks <- b
				b = sseBlock{}
				continue
			}
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "":
				b.comment = value
			case "retry":
				b.retry = value
			case "id":
				b.id, b.ownID = value, true
			case "event":
				b.event = value
			case "data":
				b.data = value
			}
		}
	}()
	// The first block gives the retry delay and the starting cursor.
	first := s.next(t)
	if first.retry != "2000" || first.id == "" || first.event != "" {
		t.Fatalf("first block = %+v", first)
	}
	return s
}

func (s *sseStream) close() { s.resp.Body.Close() }

// next is the next block, failing after 5 s.
func (s *sseStream) next(t *testing.T) sseBlock {
	t.Helper()
	select {
	case b, ok := <-s.blocks:
		if !ok {
			t.Fatal("the stream ended")
		}
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no block within 5 s")
	}
	return sseBlock{}
}

// events reads n events, skipping heartbeats.
func (s *sseStream) events(t *testing.T, n int) []sseBlock {
	t.Helper()
	var out []sseBlock
	for len(out) < n {
		if b := s.next(t); b.comment == "" {
			out = append(out, b)
		}
	}
	return out
}

// publish sends one event per subject to topic and returns their JSON as
// on the topic.
func publish(t *testing.T, c *bus.Client, topic, typ string, subjects ...string) []string {
	t.Helper()
	var msgs []event.Message
	var out []string
	for _, s := range subjects {
		env, err := event.New(typ, "events_test", s, time.Now(), map[string]string{"sku": s})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := env.Encode()
		out = append(out, string(raw))
		msgs = append(msgs, event.Message{Topic: topic, Envelope: env})
	}
	if err := c.Publish(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameEvents checks that got carries exactly want's envelopes, in an order
// that only interleaves partitions (every slice here uses one subject per
// event, so compare as sets and check the count).
func sameEvents(t *testing.T, got []sseBlock, typ string, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for _, b := range got {
		if b.event != typ {
			t.Errorf("event block %+v, want event %s", b, typ)
		}
		seen[b.data] = true
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("missing event %s among %+v", w, got)
		}
	}
}

func TestEventStreamResumesFromLastEventID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		ring    int
		byQuery bool
	}{
		{name: "gap in the hub's ring", ring: 1000},
		{name: "gap read from the topics", ring: 1, byQuery: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, c := newEventsEnv(t, livefeed.Options{Ring: tc.ring})
			s := openStream(t, e, "?topics=prices")
			first := publish(t, c, event.TopicPrices, event.TypePriceChanged, "SKU-1", "SKU-2", "SKU-3")
			got := s.events(t, 3)
			sameEvents(t, got, event.TypePriceChanged, first)
			s.close()

			// Missed while away: three prices, and an order it does not follow.
			missed := publish(t, c, event.TopicPrices, event.TypePriceChanged, "SKU-4", "SKU-5", "SKU-6")
			publish(t, c, event.TopicOrders, event.TypeOrderCreated, "ORDER-1")
			// A second stream shows when the hub has read them.
			probe := openStream(t, e, "?topics=orders", admin...)
			publish(t, c, event.TopicOrders, event.TypeOrderCreated, "ORDER-2")
			probe.events(t, 1)

			// The write's last event carries the position after the write.
			if !got[len(got)-1].ownID {
				t.Fatalf("the last event of a write has no id: %+v", got)
			}
			last := got[len(got)-1].id
			var again *sseStream
			if tc.byQuery {
				again = openStream(t, e, "?topics=prices&last_event_id="+last)
			} else {
				again = openStream(t, e, "?topics=prices", "Last-Event-ID", last)
			}
			sameEvents(t, again.events(t, 3), event.TypePriceChanged, missed)
			live := publish(t, c, event.TopicPrices, event.TypePriceChanged, "SKU-7", "SKU-8")
			sameEvents(t, again.events(t, 2), event.TypePriceChanged, live)
			// Nothing more: an idle stream only gets heartbeats.
			for range 3 {
				if b := again.next(t); b.comment != "ping" {
					t.Fatalf("expected a heartbeat, got %+v", b)
				}
			}
		})
	}
}

func TestEventStreamTopicsAndAccess(t *testing.T) {
	t.Parallel()
	e, c := newEventsEnv(t, livefeed.Options{})
	for _, tc := range []struct {
		name, query string
		headers     []string
		status      int
		code        string
	}{
		{"orders need the admin token", "?topics=orders", nil, 403, "forbidden"},
		{"payments need the admin token", "?topics=prices,payments", nil, 403, "forbidden"},
		{"a wrong token is not admin", "?topics=orders", []string{"Authorization", "Bearer wrong-token-0123456789"}, 403, "forbidden"},
		{"unknown topic", "?topics=prices,carts", nil, 400, "unknown_topic"},
		{"full logical name is unknown", "?topics=commerce.prices", nil, 400, "unknown_topic"},
		{"bad Last-Event-ID", "?topics=prices", []string{"Last-Event-ID", "not-a-cursor"}, 400, "invalid_last_event_id"},
		{"sample of none", "?topics=prices&sample=0", nil, 400, "invalid_sample"},
		{"sample not a number", "?topics=prices&sample=few", nil, 400, "invalid_sample"},
		{"sample too large", "?topics=prices&sample=1001", nil, 400, "invalid_sample"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(t, "GET", "/v1/events/stream"+tc.query, "", tc.headers...)
			if status != tc.status || errCode(body) != tc.code {
				t.Errorf("= %d %v, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
	// Without topics a caller gets all it may see.
	public := openStream(t, e, "")
	adminStream := openStream(t, e, "?topics=", admin...)
	orders := publish(t, c, event.TopicOrders, event.TypeOrderCreated, "ORDER-1")
	prices := publish(t, c, event.TopicPrices, event.TypePriceChanged, "SKU-1")
	sameEvents(t, public.events(t, 1), event.TypePriceChanged, prices)
	// Two topics have no order between them: split by type.
	byType := map[string][]sseBlock{}
	for _, b := range adminStream.events(t, 2) {
		byType[b.event] = append(byType[b.event], b)
	}
	sameEvents(t, byType[event.TypeOrderCreated], event.TypeOrderCreated, orders)
	sameEvents(t, byType[event.TypePriceChanged], event.TypePriceChanged, prices)
}

// A sampled stream (?sample=N, what a console tab asks for) carries at most
// N events of each type per write and counts the rest in a "skipped"
// event; its ids move past the skipped ones too, so a reconnect gets only
// what came after.
func TestSampledEventStream(t *testing.T) {
	t.Parallel()
	e, c := newEventsEnv(t, livefeed.Options{})
	s := openStream(t, e, "?topics=prices,orders&sample=3", admin...)
	var subjects []string
	for i := range 50 {
		subjects = append(subjects, "SKU-"+strconv.Itoa(i))
	}
	prices := publish(t, c, event.TopicPrices, event.TypePriceChanged, subjects...)
	orders := publish(t, c, event.TopicOrders, event.TypeOrderCreated, "ORDER-1", "ORDER-2")

	all := map[string]bool{}
	for _, p := range append(prices, orders...) {
		all[p] = true
	}
	got, skipped, perWrite := map[string]int{}, map[string]int{}, map[string]int{}
	var last sseBlock
	for got[event.TypePriceChanged]+skipped[event.TypePriceChanged] < 50 || got[event.TypeOrderCreated] < 2 {
		b := s.next(t)
		switch {
		case b.comment != "":
			continue
		case b.event == "skipped":
			var counts map[string]int
			if err := json.Unmarshal([]byte(b.data), &counts); err != nil {
				t.Fatalf("skipped event %q: %v", b.data, err)
			}
			for typ, n := range counts {
				skipped[typ] += n
			}
			if !b.ownID {
				t.Errorf("the skipped counts are not a write's last event: %+v", b)
			}
		case !all[b.data]:
			t.Fatalf("unexpected event %+v", b)
		default:
			got[b.event]++
			perWrite[b.event]++
			if perWrite[b.event] > 3 {
				t.Fatalf("a write carried more than 3 %s events", b.event)
			}
		}
		if b.ownID {
			clear(perWrite)
			last = b
		}
	}
	if got[event.TypePriceChanged]+skipped[event.TypePriceChanged] != 50 || skipped[event.TypeOrderCreated] != 0 {
		t.Errorf("received %v and skipped %v of 50 prices and 2 orders", got, skipped)
	}
	if skipped[event.TypePriceChanged] == 0 {
		t.Errorf("50 prices published at once were all sent (%v): nothing was sampled", got)
	}
	s.close()

	// Resuming after the last write: only what came after it.
	again := openStream(t, e, "?topics=prices,orders&sample=3", append([]string{"Last-Event-ID", last.id}, admin...)...)
	later := publish(t, c, event.TopicPrices, event.TypePriceChanged, "SKU-50", "SKU-51")
	sameEvents(t, again.events(t, 2), event.TypePriceChanged, later)
}

// A sampled stream reads while it waits for its next write, so bursts that
// add up to more than the hub buffers for one stream do not drop it.
func TestSampledStreamKeepsReadingWhileItWaits(t *testing.T) {
	t.Parallel()
	e, c := newEventsEnv(t, livefeed.Options{Buffer: 60})
	s := openStream(t, e, "?topics=prices&sample=2")
	publish(t, c, event.TopicPrices, event.TypePriceChanged, "SKU-first")
	s.events(t, 1) // written at once: the next write waits 250 ms
	total := 1
	for burst := range 5 {
		var subjects []string
		for i := range 40 {
			subjects = append(subjects, fmt.Sprintf("SKU-%d-%d", burst, i))
		}
		publish(t, c, event.TopicPrices, event.TypePriceChanged, subjects...)
		total += len(subjects)
		time.Sleep(20 * time.Millisecond)
	}
	seen := 1
	for seen < total {
		b := s.next(t)
		switch {
		case b.comment != "":
		case b.event == "skipped":
			var counts map[string]int
			if err := json.Unmarshal([]byte(b.data), &counts); err != nil {
				t.Fatal(err)
			}
			seen += counts[event.TypePriceChanged]
		default:
			seen++
		}
	}
	if seen != total {
		t.Errorf("saw %d of %d events", seen, total)
	}
}

// A sampled stream keeps writing while events keep coming: it checks its
// clock between events, not only when it waits for one (a CI run under
// the race detector once saw a sampled stream that always had an event
// ready write nothing for 3 s).
func TestSampledStreamWritesUnderSteadyFlow(t *testing.T) {
	t.Parallel()
	e, c := newEventsEnv(t, livefeed.Options{Buffer: 1 << 16})
	s := openStream(t, e, "?topics=prices&sample=1")
	ctx, stop := context.WithCancel(context.Background())
	flowing := make(chan struct{})
	go func() {
		defer close(flowing)
		for n := 0; ctx.Err() == nil && n < 400; n++ {
			subjects := make([]string, 100)
			for i := range subjects {
				subjects[i] = fmt.Sprintf("SKU-%d-%d", n, i)
			}
			var msgs []event.Message
			for _, sub := range subjects {
				env, err := event.New(event.TypePriceChanged, "events_test", sub, time.Now(), map[string]string{"sku": sub})
				if err != nil {
					return
				}
				msgs = append(msgs, event.Message{Topic: event.TopicPrices, Envelope: env})
			}
			if err := c.Publish(ctx, msgs...); err != nil {
				return
			}
		}
	}()
	defer func() { stop(); <-flowing }()
	// Three writes while events keep coming: each ends with its id.
	for writes := 0; writes < 3; {
		if b := s.next(t); b.ownID && b.comment == "" {
			writes++
		}
	}
}

func TestEventStreamWithoutFeedIsUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, body := e.do(t, "GET", "/v1/events/stream?topics=prices", "")
	if status != 503 || errCode(body) != "unavailable" {
		t.Errorf("= %d %v, want 503 unavailable", status, body)
	}
	// Topics are still checked first.
	if status, body := e.do(t, "GET", "/v1/events/stream?topics=nope", ""); status != 400 || errCode(body) != "unknown_topic" {
		t.Errorf("unknown topic without a feed = %d %v", status, body)
	}
}

func TestEventStreamOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	e, c := newEventsEnv(t, livefeed.Options{})
	// The same API behind a server with short read and write timeouts, as
	// mercato serve has (longer): a stream must not be cut by them.
	srv := httptest.NewUnstartedServer(e.api)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	s := openStream(t, &env{srv: srv, api: e.api}, "?topics=prices")
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if b := s.next(t); b.comment != "ping" {
			t.Fatalf("expected heartbeats, got %+v", b)
		}
	}
	want := publish(t, c, event.TopicPrices, event.TypePriceChanged, "SKU-1")
	sameEvents(t, s.events(t, 1), event.TypePriceChanged, want)
}

package app_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/app"
)

// streamEvents opens GET /v1/events/stream as the admin and sends the
// event types and ids it reads to the returned channel, closed when the
// stream ends.
func streamEvents(t *testing.T, a *app.App, query, lastID string) (chan [2]string, func()) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+"/v1/events/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+a.AdminToken())
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v1/events/stream = %d", resp.StatusCode)
	}
	out := make(chan [2]string, 100)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 2<<20)
		var id, typ string
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				typ = strings.TrimPrefix(line, "event: ")
			case line == "":
				if typ == "" {
					typ = "(position)" // the id-only block a stream starts with
				}
				out <- [2]string{typ, id}
				typ = ""
			}
		}
	}()
	return out, func() { resp.Body.Close() }
}

func nextEvent(t *testing.T, ch chan [2]string) [2]string {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return [2]string{}
}

func TestLiveEventsOfTheAPIRole(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	a, err := app.New(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitReady(t, "http://"+a.HTTPAddr())

	events, disconnect := streamEvents(t, a, "?topics=products", "")
	if ev := nextEvent(t, events); ev[0] != "(position)" || ev[1] == "" {
		t.Fatalf("first block = %v", ev)
	}
	product := `{"name":"제주 감귤 5kg","category":"fresh","base_price":19900,"price_floor":15900,"price_ceiling":25900,"stock":30}`
	if code := call(t, a, "PUT", "/v1/products/TANGERINE-1", product); code != 201 {
		t.Fatalf("PUT = %d", code)
	}
	first := nextEvent(t, events)
	if first[0] != "product.upserted" {
		t.Fatalf("event = %v, want product.upserted", first)
	}
	disconnect()
	if code := call(t, a, "PUT", "/v1/products/TANGERINE-2", product); code != 201 {
		t.Fatalf("PUT = %d", code)
	}
	// Reconnecting with the last id brings the upsert made while away.
	events, _ = streamEvents(t, a, "?topics=products", first[1])
	nextEvent(t, events) // the position block
	if ev := nextEvent(t, events); ev[0] != "product.upserted" {
		t.Fatalf("after reconnecting: %v, want product.upserted", ev)
	}

	// Stopping the process ends open streams instead of waiting on them.
	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop")
	}
	if d := time.Since(stopped); d > 5*time.Second {
		t.Errorf("stopping with an open stream took %s", d)
	}
	for range events { // drains until the server closed the stream
	}
}

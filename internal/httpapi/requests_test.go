package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/httpapi"
	"github.com/mercato-platform/mercato/internal/pricing"
)

// raw sends bytes as they are to addr and reads one response.
func raw(t *testing.T, addr, request string) (int, map[string]any) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%d: body is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

func TestBodyReadErrorsAreToldApart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.product(t, "SKU-1", 1000, 10)
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	const orderHead = "POST /v1/orders HTTP/1.1\r\nHost: x\r\nX-Customer-ID: c1\r\nIdempotency-Key: %s\r\n"
	tests := []struct {
		name, request string
		status        int
		code          string
	}{
		{"order with broken chunked encoding", strings.Replace(orderHead, "%s", "k1", 1) + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "unreadable_body"},
		{"product with broken chunked encoding", "PUT /v1/products/SKU-2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "unreadable_body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if status, body := raw(t, addr, tt.request); status != tt.status || errCode(body) != tt.code {
				t.Errorf("got %d %v, want %d %s", status, body, tt.status, tt.code)
			}
		})
	}
	big := `{"items":[],"x":"` + strings.Repeat("x", httpapi.MaxBody) + `"}`
	if status, out, _ := e.order(t, "c1", "k2", big); status != 413 || !strings.Contains(string(out), `"body_too_large"`) {
		t.Errorf("oversized order: %d %s", status, out)
	}
	// Nothing was kept under the keys of requests that never ran.
	if status, out, _ := e.order(t, "c1", "k1", orderBody("tok_ok", "SKU-1", 1)); status != 201 {
		t.Errorf("order with the key of the broken request: %d %s", status, out)
	}
}

func TestBodyThatDoesNotArriveInTimeIs408(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := httptest.NewUnstartedServer(e.api)
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	// The body promises 100 bytes and sends 2, then the client stalls.
	req := "POST /v1/orders HTTP/1.1\r\nHost: x\r\nX-Customer-ID: c1\r\nIdempotency-Key: k1\r\nContent-Length: 100\r\n\r\n{\""
	if status, body := raw(t, srv.Listener.Addr().String(), req); status != 408 || errCode(body) != "request_timeout" {
		t.Errorf("stalled body: %d %v", status, body)
	}
}

func TestOversizedHeadersGetTheJSONError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name   string
		size   int
		status int
	}{
		{"70 KB", 70 << 10, 431},
		{"just over the limit", httpapi.MaxHeaderBytes, 431},
		{"60 KB", 60 << 10, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, hdr, body := e.call(t, "GET", "/healthz", "", "X-Padding", strings.Repeat("a", tt.size))
			if status != tt.status {
				t.Fatalf("got %d %v, want %d", status, body, tt.status)
			}
			if status == 431 && (errCode(body) != "headers_too_large" || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json")) {
				t.Errorf("431 is not the JSON error shape: %v %v", hdr, body)
			}
		})
	}
}

// rules records the pricing rules the API publishes.
type rules struct {
	mu  sync.Mutex
	got []pricing.Rule
}

func (r *rules) PublishRule(_ context.Context, rule pricing.Rule) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rule)
	return nil
}

func TestPricingRuleCategoriesAreValidated(t *testing.T) {
	t.Parallel()
	published := &rules{}
	e := newEnvOpts(t, func(o *httpapi.Options, _ *sqlstore.Store) { o.Rules = published })
	tests := []struct {
		path   string
		status int
	}{
		{"%FF", 400},                    // not UTF-8: once stored as "\ufffd"
		{"%EF%BF%BD", 400},              // U+FFFD itself
		{"a%00b", 400},                  // NUL
		{"a%0Ab", 400},                  // newline
		{"%20", 400},                    // blank
		{strings.Repeat("c", 101), 400}, // too long
		{"fresh", 200},
		{"%EC%8B%9D%ED%92%88", 200}, // 식품
		{"home%20%26%20kitchen", 200},
	}
	for _, tt := range tests {
		status, body := e.do(t, "PUT", "/v1/pricing/rules/"+tt.path, `{}`, admin...)
		if status != tt.status || (status == 400 && errCode(body) != "invalid_category") {
			t.Errorf("PUT rules/%s: %d %v, want %d", tt.path, status, body, tt.status)
		}
	}
	published.mu.Lock()
	defer published.mu.Unlock()
	var cats []string
	for _, r := range published.got {
		cats = append(cats, r.Category)
	}
	if strings.Join(cats, "|") != "fresh|식품|home & kitchen" {
		t.Errorf("published rules for %q", cats)
	}
}

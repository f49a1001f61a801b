package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// bench orders spreads its clients over every --url given (api processes of
// one deployment) and creates the SKUs through the first.
func TestBenchOrdersSpreadsClientsOverURLs(t *testing.T) {
	t.Parallel()
	var puts [2]atomic.Int64
	var posts [2]atomic.Int64
	var urls []string
	for i := range 2 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			switch r.Method {
			case http.MethodPut:
				puts[i].Add(1)
				w.WriteHeader(http.StatusOK)
			case http.MethodPost:
				posts[i].Add(1)
				w.WriteHeader(http.StatusCreated)
			}
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	var out, errOut strings.Builder
	code := runBench(context.Background(), []string{"orders", "--url", strings.Join(urls, ","), "--admin-token", "t",
		"--clients", "4", "--duration", "200ms", "--skus", "3"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if puts[0].Load() != 3 || puts[1].Load() != 0 {
		t.Fatalf("SKUs created %d and %d times; want 3 through the first URL only", puts[0].Load(), puts[1].Load())
	}
	if posts[0].Load() == 0 || posts[1].Load() == 0 {
		t.Fatalf("orders per URL: %d and %d; want both driven\n%s", posts[0].Load(), posts[1].Load(), out.String())
	}
}

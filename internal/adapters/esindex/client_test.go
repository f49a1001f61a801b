package esindex

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/reviews"
)

// step is one scripted exchange: the request the adapter must send and the
// recorded answer the fake cluster plays back.
type step struct {
	method, path string
	status       int
	file         string // under testdata/responses; empty for no body
}

// request is what the fake cluster received.
type request struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// fakeES is an httptest.Server that plays a script of recorded answers, so
// the adapter's real path (esapi, elastictransport, net/http) runs end to end.
type fakeES struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	steps []step
	got   []request
}

func newFakeES(t *testing.T, steps ...step) *fakeES {
	t.Helper()
	f := &fakeES{t: t, steps: steps}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, request{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, header: r.Header.Clone(), body: body})
	if len(f.steps) == 0 {
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	s := f.steps[0]
	f.steps = f.steps[1:]
	if r.Method != s.method || r.URL.EscapedPath() != s.path {
		f.t.Errorf("request %s %s, want %s %s", r.Method, r.URL.EscapedPath(), s.method, s.path)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.WriteHeader(s.status)
	if s.file != "" {
		_, _ = w.Write(fixture(f.t, s.file))
	}
}

// requests returns what was received, and checks the script was played out.
func (f *fakeES) requests() []request {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.steps) != 0 {
		f.t.Errorf("%d scripted requests never came: %+v", len(f.steps), f.steps)
	}
	return f.got
}

func newTestIndex(t *testing.T, f *fakeES, mod func(*Config)) *Index {
	t.Helper()
	cfg := testConfig()
	cfg.Addresses = []string{f.srv.URL}
	cfg.RetryBackoff = time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	x, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Close() })
	return x
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestEnsureTemplateCreatesIndex(t *testing.T) {
	t.Parallel()
	f := newFakeES(t,
		step{"PUT", "/_index_template/mercato-reviews", 200, "ack.json"},
		step{"PUT", "/mercato-reviews", 200, "create_index.json"},
	)
	if err := newTestIndex(t, f, nil).EnsureTemplate(tctx(t)); err != nil {
		t.Fatal(err)
	}
	got := f.requests()
	golden(t, "template.json", got[0].body)
	if len(got[1].body) != 0 {
		t.Errorf("create index sent a body %q; the template is the single source of the mapping", got[1].body)
	}
}

func TestEnsureTemplateUpdatesExistingIndexMapping(t *testing.T) {
	t.Parallel()
	f := newFakeES(t,
		step{"PUT", "/_index_template/mercato-reviews", 200, "ack.json"},
		step{"PUT", "/mercato-reviews", 400, "error_exists_400.json"},
		step{"PUT", "/mercato-reviews/_mapping", 200, "ack.json"},
	)
	if err := newTestIndex(t, f, nil).EnsureTemplate(tctx(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "mapping.json", f.requests()[2].body)

	// A mapping the index cannot take (other dims) is a clear error.
	f = newFakeES(t,
		step{"PUT", "/_index_template/mercato-reviews", 200, "ack.json"},
		step{"PUT", "/mercato-reviews", 400, "error_exists_400.json"},
		step{"PUT", "/mercato-reviews/_mapping", 400, "error_mapping_400.json"},
	)
	err := newTestIndex(t, f, nil).EnsureTemplate(tctx(t))
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || !strings.Contains(err.Error(), "Cannot update parameter [dims]") {
		t.Errorf("EnsureTemplate = %v, want the mapping conflict", err)
	}
	f.requests()
}

func TestIndexBulkRetriesRejectedItems(t *testing.T) {
	t.Parallel()
	rs := sampleReviews(t)[:3]
	f := newFakeES(t,
		step{"POST", "/mercato-reviews/_bulk", 200, "bulk_item_errors.json"},
		step{"POST", "/mercato-reviews/_bulk", 200, "bulk_retry_ok.json"},
	)
	err := newTestIndex(t, f, nil).Index(tctx(t), rs)
	var be *BulkError
	if !errors.As(err, &be) || be.Total != 3 || len(be.Failed) != 1 || be.Failed[0].ID != "r03" || be.Failed[0].Status != 400 {
		t.Fatalf("Index = %v, want a BulkError for r03 only (r02 was retried)", err)
	}
	got := f.requests()
	golden(t, "bulk.ndjson", append(got[0].body, mustBulkLine(t, sampleReviews(t)[3])...))
	if got[0].query != "refresh=wait_for" {
		t.Errorf("bulk query %q, want refresh=wait_for", got[0].query)
	}
	// Only the rejected review goes again.
	if lines := strings.Split(strings.TrimSpace(string(got[1].body)), "\n"); len(lines) != 2 || !strings.Contains(lines[0], `"_id":"r02"`) {
		t.Errorf("retry body = %q, want r02 alone", got[1].body)
	}
}

func mustBulkLine(t *testing.T, r reviews.Review) []byte {
	t.Helper()
	b, err := bulkAction("mercato-reviews", r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIndexGivesUpAfterMaxRetries(t *testing.T) {
	t.Parallel()
	f := newFakeES(t,
		step{"POST", "/mercato-reviews/_bulk", 200, "bulk_retry_429.json"},
		step{"POST", "/mercato-reviews/_bulk", 200, "bulk_retry_429.json"},
		step{"POST", "/mercato-reviews/_bulk", 200, "bulk_retry_429.json"},
	)
	r := sampleReviews(t)[0]
	r.ID = "r02"
	err := newTestIndex(t, f, func(c *Config) { c.MaxRetries = 2 }).Index(tctx(t), []reviews.Review{r})
	var be *BulkError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[0].Status != 429 {
		t.Errorf("Index = %v, want the 429 reported after 2 retries", err)
	}
	f.requests()
}

func TestIndexSplitsBatches(t *testing.T) {
	t.Parallel()
	rs := sampleReviews(t)[:3]
	f := newFakeES(t,
		step{"POST", "/mercato-reviews/_bulk", 200, "bulk_retry_ok.json"},
		step{"POST", "/mercato-reviews/_bulk", 200, "bulk_retry_ok.json"},
		step{"POST", "/mercato-reviews/_bulk", 200, "bulk_retry_ok.json"},
	)
	if err := newTestIndex(t, f, func(c *Config) { c.BulkDocs = 1 }).Index(tctx(t), rs); err != nil {
		t.Fatal(err)
	}
	for i, r := range f.requests() {
		if !strings.Contains(string(r.body), `"_id":"`+rs[i].ID+`"`) {
			t.Errorf("bulk %d = %q, want %s alone", i, r.body, rs[i].ID)
		}
	}
}

func TestIndexRefusesBadInputBeforeWriting(t *testing.T) {
	t.Parallel()
	f := newFakeES(t) // no request may reach the cluster
	x := newTestIndex(t, f, nil)
	rs := sampleReviews(t)
	noID := rs[1]
	noID.ID = ""
	if err := x.Index(tctx(t), []reviews.Review{rs[0], noID}); err == nil {
		t.Errorf("a review without id was accepted")
	}
	wrongDims := rs[0]
	wrongDims.Vector = []float32{1, 0}
	if err := x.Index(tctx(t), []reviews.Review{wrongDims}); err == nil || !strings.Contains(err.Error(), "2-dim") {
		t.Errorf("a 2-dim vector in a 4-dim index: %v", err)
	}
	if err := x.Index(tctx(t), nil); err != nil {
		t.Errorf("Index(nil) = %v", err)
	}
	if _, err := x.Similar(tctx(t), "", 3); err == nil {
		t.Errorf("Similar with an empty id was accepted")
	}
	// Only stopwords: nothing can match, the cluster is not asked.
	res, err := x.Search(tctx(t), reviews.Query{Text: "the", Limit: 10})
	if err != nil || res.Total != 0 || len(res.Aggregations.Rating) != 5 {
		t.Errorf("stopword search = %+v, %v", res, err)
	}
	f.requests()
}

func TestSearchEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFakeES(t, step{"POST", "/mercato-reviews/_search", 200, "search.json"})
	q := reviews.Query{Text: "배송이 빨라요", Limit: 20}
	res, err := newTestIndex(t, f, nil).Search(tctx(t), q)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 3 || res.Hits[0].ID != "r01" || res.Aggregations.Sentiment[reviews.Negative] != 2 {
		t.Errorf("result = %+v", res)
	}
	got := f.requests()
	golden(t, "search_korean.json", got[0].body)
	if ct := got[0].header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
}

func TestTermCountsEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFakeES(t, step{"POST", "/mercato-reviews/_search", 200, "termcounts.json"})
	q := reviews.Query{SKU: "KIMCHI-5KG", Sentiment: reviews.Negative, Text: "ignored"}
	tc, err := newTestIndex(t, f, nil).TermCounts(tctx(t), q, 10)
	if err != nil || tc.Docs != 7 || tc.Terms["김치"] != 6 {
		t.Fatalf("TermCounts = %+v, %v", tc, err)
	}
	golden(t, "termcounts.json", f.requests()[0].body)
}

// Several shards may count a term short; the adapter then recounts the
// chosen terms by name so the port's counts are exact.
func TestTermCountsRecountsWhenInexact(t *testing.T) {
	t.Parallel()
	f := newFakeES(t,
		step{"POST", "/mercato-reviews/_search", 200, "termcounts_inexact.json"},
		step{"POST", "/mercato-reviews/_search", 200, "termcounts_exact.json"},
	)
	tc, err := newTestIndex(t, f, nil).TermCounts(tctx(t), reviews.Query{SKU: "KIMCHI-5KG"}, 10)
	if err != nil || tc.Terms["배송"] != 4 {
		t.Fatalf("TermCounts = %+v, %v; want 배송 recounted to 4", tc, err)
	}
	golden(t, "termcounts_include.json", f.requests()[1].body)
}

func TestSimilarEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFakeES(t,
		step{"GET", "/mercato-reviews/_doc/r01", 200, "get_found.json"},
		step{"POST", "/mercato-reviews/_search", 200, "knn.json"},
	)
	ns, err := newTestIndex(t, f, nil).Similar(tctx(t), "r01", 5)
	if err != nil || len(ns) != 2 || ns[0].ID != "r05" {
		t.Fatalf("Similar = %+v, %v", ns, err)
	}
	got := f.requests()
	if got[0].query != "_source_includes=vector" {
		t.Errorf("get query %q, want only the vector", got[0].query)
	}
	golden(t, "knn.json", got[1].body)
}

func TestSimilarNotFound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    step
	}{
		{"missing review", step{"GET", "/mercato-reviews/_doc/no-such", 404, "get_404.json"}},
		{"missing index", step{"GET", "/mercato-reviews/_doc/no-such", 404, "error_404_index.json"}},
	} {
		f := newFakeES(t, tc.s)
		if _, err := newTestIndex(t, f, nil).Similar(tctx(t), "no-such", 5); !errors.Is(err, reviews.ErrNotFound) {
			t.Errorf("%s: Similar = %v, want ErrNotFound", tc.name, err)
		}
		f.requests()
	}
}

func TestSimilarEscapesIDAndSkipsReviewsWithoutVector(t *testing.T) {
	t.Parallel()
	f := newFakeES(t, step{"GET", "/mercato-reviews/_doc/a%2Fb%3Fc", 200, "get_novector.json"})
	ns, err := newTestIndex(t, f, nil).Similar(tctx(t), "a/b?c", 5)
	if err != nil || ns == nil || len(ns) != 0 {
		t.Errorf("Similar = %#v, %v; want no neighbours", ns, err)
	}
	f.requests()
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	search := func(status int, file string) step { return step{"POST", "/mercato-reviews/_search", status, file} }
	for _, tc := range []struct {
		name     string
		steps    []step
		status   int // 0: success
		requests int
	}{
		{"401 is not retried", []step{search(401, "error_401.json")}, 401, 1},
		{"404 missing index", []step{search(404, "error_404_index.json")}, 404, 1},
		{"429 retried then served", []step{search(429, "error_429.json"), search(200, "search_empty.json")}, 0, 2},
		{"429 until retries run out", []step{search(429, "error_429.json"), search(429, "error_429.json"), search(429, "error_429.json"), search(429, "error_429.json")}, 429, 4},
		{"502 503 504 retried", []step{search(502, ""), search(503, "error_503.json"), search(504, ""), search(200, "search_empty.json")}, 0, 4},
		{"500 is not retried", []step{search(500, "error_500.json")}, 500, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeES(t, tc.steps...)
			_, err := newTestIndex(t, f, nil).Search(tctx(t), reviews.Query{Limit: 1})
			if n := len(f.requests()); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
			if tc.status == 0 {
				if err != nil {
					t.Errorf("Search = %v, want success after retry", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status {
				t.Errorf("Search = %v, want an *Error with status %d", err, tc.status)
			}
		})
	}
}

func TestRetriesStopWithContext(t *testing.T) {
	t.Parallel()
	f := newFakeES(t, step{"POST", "/mercato-reviews/_search", 503, "error_503.json"})
	x := newTestIndex(t, f, func(c *Config) { c.RetryBackoff = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := x.Search(ctx, reviews.Query{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Search = %v, want the deadline while waiting to retry", err)
	}
	f.requests()
}

func TestCredentialsSentNeverShown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mod  func(*Config, string)
		auth string
	}{
		{"api key", func(c *Config, _ string) { c.APIKey = "c2VjcmV0LWlkOnNlY3JldC1rZXk=" }, "APIKey c2VjcmV0LWlkOnNlY3JldC1rZXk="},
		{"basic", func(c *Config, _ string) { c.Username, c.Password = "mercato", "hunter2-secret" }, "Basic bWVyY2F0bzpodW50ZXIyLXNlY3JldA=="},
		{"in address", func(c *Config, url string) {
			c.Addresses = []string{strings.Replace(url, "http://", "http://mercato:hunter2-secret@", 1)}
		}, "Basic bWVyY2F0bzpodW50ZXIyLXNlY3JldA=="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeES(t, step{"POST", "/mercato-reviews/_search", 401, "error_401.json"})
			var cfg Config
			x := newTestIndex(t, f, func(c *Config) { tc.mod(c, f.srv.URL); cfg = *c })
			_, err := x.Search(tctx(t), reviews.Query{})
			if got := f.requests()[0].header.Get("Authorization"); got != tc.auth {
				t.Errorf("Authorization %q, want %q", got, tc.auth)
			}
			var logged strings.Builder
			slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "es", cfg)
			for _, secret := range []string{"hunter2", "c2VjcmV0", "secret-key"} {
				if strings.Contains(err.Error(), secret) || strings.Contains(logged.String(), secret) {
					t.Errorf("secret %q shown: error %q, log %q", secret, err, logged.String())
				}
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no address", func(c *Config) { c.Addresses = nil }, "no addresses"},
		{"not a URL", func(c *Config) { c.Addresses = []string{"http://u:p@[bad"} }, "address 1"},
		{"no scheme", func(c *Config) { c.Addresses = []string{"es1:9200"} }, "address 1"},
		{"upper case index", func(c *Config) { c.Index = "Reviews" }, "lowercase"},
		{"index with star", func(c *Config) { c.Index = "reviews*" }, "forbids"},
		{"index starting with _", func(c *Config) { c.Index = "_reviews" }, "must not start"},
		{"dims", func(c *Config) { c.Dims = 5000 }, "dims"},
		{"refresh", func(c *Config) { c.Refresh = "sometimes" }, "refresh"},
	} {
		cfg := Config{Addresses: []string{"http://127.0.0.1:9200"}}
		tc.mod(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error about %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "u:p") {
			t.Errorf("%s: error %q shows the address's credentials", tc.name, err)
		}
	}
	x, err := New(Config{Addresses: []string{"http://127.0.0.1:9200"}})
	if err != nil {
		t.Fatal(err)
	}
	if x.cfg.Index != DefaultIndex || x.cfg.Dims != DefaultDims || x.cfg.Refresh != RefreshNone || x.cfg.MaxRetries != DefaultMaxRetries {
		t.Errorf("defaults = %+v", x.cfg)
	}
	if err := x.Close(); err != nil {
		t.Error(err)
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	t.Parallel()
	for n, lo := range map[int]time.Duration{1: 50 * time.Millisecond, 3: 200 * time.Millisecond, 30: maxBackoff / 2} {
		d := backoff(100*time.Millisecond, n)
		if d < lo || d > 2*lo {
			t.Errorf("backoff(%d) = %v, want in [%v, %v]", n, d, lo, 2*lo)
		}
	}
}

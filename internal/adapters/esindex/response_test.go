package esindex

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/reviews"
)

// fixture reads a recorded answer in Elasticsearch's documented format.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "responses", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSearch(t *testing.T) {
	t.Parallel()
	res, err := parseSearch(fixture(t, "search.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 3 || len(res.Hits) != 3 {
		t.Fatalf("total %d, %d hits; want 3, 3", res.Total, len(res.Hits))
	}
	h := res.Hits[0]
	want := reviews.Review{
		ID: "r01", SKU: "SHOE-RUN-270", Rating: 5, Text: "배송이 빨라요. 신발 사이즈도 딱 맞고 쿠션이 좋아요", Lang: "ko",
		Sentiment: reviews.Sentiment{Label: reviews.Positive, Score: 0.875},
		OrderID:   "ord-1000", CustomerID: "cust-000",
		CreatedAt: time.Date(2026, 11, 10, 1, 0, 0, 0, time.UTC),
	}
	if !reflect.DeepEqual(h.Review, want) {
		t.Errorf("hit 0 review = %+v\nwant %+v", h.Review, want)
	}
	if h.Score != 2.1784 || !reflect.DeepEqual(h.Highlights, []string{"<mark>배송이</mark> 빨라요. 신발 사이즈도 딱 맞고 쿠션이 좋아요"}) {
		t.Errorf("hit 0 score %v highlights %q", h.Score, h.Highlights)
	}
	// The text comes back as indexed; only the highlight is escaped.
	if r18 := res.Hits[1]; !strings.HasPrefix(r18.Text, "<script>") || !strings.HasPrefix(r18.Highlights[0], "&lt;script&gt;<mark>alert</mark>") {
		t.Errorf("r18 text %q highlight %q", r18.Text, r18.Highlights)
	}
	// Nanoseconds survive in _source even though the date field keeps ms.
	if r15 := res.Hits[2]; r15.CreatedAt.Nanosecond() != 123456789 || r15.Highlights == nil || len(r15.Highlights) != 0 {
		t.Errorf("r15 created %v highlights %#v; want ns kept and an empty, non-nil list", r15.CreatedAt, r15.Highlights)
	}
	wantAggs := reviews.Aggregations{
		Sentiment: map[string]int{reviews.Positive: 1, reviews.Negative: 2},
		Rating:    map[int]int{1: 1, 2: 1, 3: 0, 4: 0, 5: 1},
		ByDay: []reviews.DayCount{
			{Date: "2026-11-10", Count: 1, Positive: 1},
			{Date: "2026-11-12", Count: 2, Negative: 2},
		},
	}
	if !reflect.DeepEqual(res.Aggregations, wantAggs) {
		t.Errorf("aggregations = %+v\nwant %+v", res.Aggregations, wantAggs)
	}
}

func TestParseSearchEmptyKeepsEveryKey(t *testing.T) {
	t.Parallel()
	res, err := parseSearch(fixture(t, "search_empty.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, emptyResult()) {
		t.Errorf("empty answer = %+v, want %+v", res, emptyResult())
	}
	if len(res.Aggregations.Sentiment) != 2 || len(res.Aggregations.Rating) != 5 || res.Hits == nil || res.Aggregations.ByDay == nil {
		t.Errorf("empty answer must keep both sentiments, ratings 1..5 and empty (not null) lists: %+v", res)
	}
}

func TestParseSearchRejectsPartialAndMalformed(t *testing.T) {
	t.Parallel()
	for name, body := range map[string][]byte{
		"shard failure":   fixture(t, "search_shard_failure.json"),
		"not json":        []byte("<html>502 Bad Gateway</html>"),
		"no total":        []byte(`{"hits":{"hits":[]}}`),
		"bad source":      []byte(`{"hits":{"total":{"value":1},"hits":[{"_id":"x","_source":"nope"}]}}`),
		"bad day":         []byte(`{"hits":{"total":{"value":1},"hits":[]},"aggregations":{"by_day":{"buckets":[{"key":"soon","doc_count":1}]}}}`),
		"truncated":       fixture(t, "search.json")[:200],
		"total as string": []byte(`{"hits":{"total":"3","hits":[]}}`),
	} {
		if _, err := parseSearch(body); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
	_, err := parseSearch(fixture(t, "search_shard_failure.json"))
	if err == nil || !strings.Contains(err.Error(), "1 of 2 shards failed: query_shard_exception") {
		t.Errorf("shard failure error = %v", err)
	}
}

func TestParseSearchDayFromEpochKey(t *testing.T) {
	t.Parallel()
	body := []byte(`{"hits":{"total":{"value":1},"hits":[]},"aggregations":{"by_day":{"buckets":[{"key":1794268800000,"doc_count":1}]}}}`)
	res, err := parseSearch(body)
	if err != nil {
		t.Fatal(err)
	}
	if want := []reviews.DayCount{{Date: "2026-11-10", Count: 1}}; !reflect.DeepEqual(res.Aggregations.ByDay, want) {
		t.Errorf("by_day = %+v, want %+v", res.Aggregations.ByDay, want)
	}
}

func TestParseTermCounts(t *testing.T) {
	t.Parallel()
	tc, exact, err := parseTermCounts(fixture(t, "termcounts.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := reviews.TermCounts{Docs: 7, Terms: map[string]int{"김치": 6, "배송": 4, "맛있": 2}}
	if !exact || !reflect.DeepEqual(tc, want) {
		t.Errorf("term counts = %+v (exact %v), want %+v exact", tc, exact, want)
	}
	if _, exact, _ := parseTermCounts(fixture(t, "termcounts_inexact.json")); exact {
		t.Errorf("a doc_count_error_upper_bound of 2 was read as exact")
	}
}

func TestParseNeighboursMapsScoreToCosine(t *testing.T) {
	t.Parallel()
	ns, err := parseNeighbours(fixture(t, "knn.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 || ns[0].ID != "r05" || ns[1].ID != "r03" {
		t.Fatalf("neighbours = %+v", ns)
	}
	// _score = (1 + cos) / 2: 0.9 → 0.8, 0.25 → -0.5.
	if d := ns[0].Similarity - 0.8; d > 1e-9 || d < -1e-9 {
		t.Errorf("similarity %v, want 0.8", ns[0].Similarity)
	}
	if d := ns[1].Similarity + 0.5; d > 1e-9 || d < -1e-9 {
		t.Errorf("similarity %v, want -0.5", ns[1].Similarity)
	}
	if ns[0].SKU != "SHOE-RUN-270" || ns[0].Vector != nil || ns[0].Terms != nil {
		t.Errorf("neighbour review = %+v", ns[0].Review)
	}
}

func TestParseVector(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file  string
		vec   []float32
		found bool
	}{
		{"get_found.json", []float32{0.6, 0.8, 0, 0}, true},
		{"get_novector.json", nil, true},
		{"get_404.json", nil, false},
	} {
		vec, found, err := parseVector(fixture(t, tc.file))
		if err != nil || found != tc.found || !reflect.DeepEqual(vec, tc.vec) {
			t.Errorf("%s: %v %v %v, want %v %v", tc.file, vec, found, err, tc.vec, tc.found)
		}
	}
}

func TestParseBulk(t *testing.T) {
	t.Parallel()
	fs, err := parseBulk(fixture(t, "bulk_ok.json"), []string{"r01", "r02", "r03"})
	if err != nil || fs != nil {
		t.Fatalf("ok bulk: %v %v", fs, err)
	}
	fs, err = parseBulk(fixture(t, "bulk_item_errors.json"), []string{"r01", "r02", "r03"})
	if err != nil {
		t.Fatal(err)
	}
	want := []bulkFailure{
		{pos: 1, retryable: true, ItemError: ItemError{ID: "r02", Status: 429, Type: "es_rejected_execution_exception"}},
		{pos: 2, retryable: false, ItemError: ItemError{ID: "r03", Status: 400, Type: "document_parsing_exception"}},
	}
	if len(fs) != len(want) {
		t.Fatalf("failures = %+v, want %+v", fs, want)
	}
	for i := range want {
		got := fs[i]
		got.Reason = ""
		if got != want[i] {
			t.Errorf("failure %d = %+v, want %+v", i, got, want[i])
		}
	}
	if !strings.Contains(fs[1].Reason, "failed to parse field [rating]") {
		t.Errorf("reason %q lost", fs[1].Reason)
	}
	if _, err := parseBulk(fixture(t, "bulk_ok.json"), []string{"r01"}); err == nil {
		t.Errorf("an answer with more items than actions was accepted")
	}
}

func TestDecodeError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file   string
		status int
		typ    string
		reason string
		retry  bool
	}{
		{"error_401.json", 401, "security_exception", "unable to authenticate user [mercato]", false},
		{"error_404_index.json", 404, "index_not_found_exception", "no such index [mercato-reviews]", false},
		{"error_429.json", 429, "es_rejected_execution_exception", "queue capacity = 1000", true},
		{"error_503.json", 503, "search_phase_execution_exception", "all shards failed", true},
		{"error_500.json", 500, "null_pointer_exception", "hashCode", false},
		{"error_exists_400.json", 400, "resource_already_exists_exception", "already exists", false},
	} {
		e := decodeError(tc.status, bytes.NewReader(fixture(t, tc.file)))
		if e.Status != tc.status || e.Type != tc.typ || !strings.Contains(e.Reason, tc.reason) || e.Retryable() != tc.retry {
			t.Errorf("%s: %+v (retryable %v)", tc.file, e, e.Retryable())
		}
		var target *Error
		if !errors.As(error(e), &target) {
			t.Errorf("%s: not an *Error", tc.file)
		}
	}
	// Answers that are not Elasticsearch's JSON still give the status.
	for _, body := range []string{"", "<html>Bad Gateway</html>", `{"error":"plain message","status":400}`} {
		e := decodeError(502, strings.NewReader(body))
		if e.Status != 502 || !strings.Contains(e.Error(), "502 Bad Gateway") {
			t.Errorf("body %q: %v", body, e)
		}
	}
	if e := decodeError(400, strings.NewReader(`{"error":"plain message","status":400}`)); e.Reason != "plain message" {
		t.Errorf("string error reason = %q", e.Reason)
	}
}

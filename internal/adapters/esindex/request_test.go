package esindex

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/internal/sentiment"
)

var update = flag.Bool("update", false, "rewrite the golden request bodies under testdata/requests")

// golden compares got (JSON or NDJSON) with testdata/requests/name, after
// indenting JSON so key order and spacing do not matter and diffs read well.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	got = canonical(t, name, got)
	path := filepath.Join("testdata", "requests", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if want = canonical(t, name, want); !bytes.Equal(got, want) {
		t.Errorf("request %s differs from the golden file (go test -update rewrites it)\n got: %s\nwant: %s", name, got, want)
	}
}

// canonical re-encodes each JSON document of b, one per line for NDJSON.
func canonical(t *testing.T, name string, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if filepath.Ext(name) == ".ndjson" {
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var v any
			if err := json.Unmarshal(line, &v); err != nil {
				t.Fatalf("%s: line %q: %v", name, line, err)
			}
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false) // golden files show <mark> and review HTML as written
			_ = enc.Encode(v)
		}
		return out.Bytes()
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return out.Bytes()
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func terms(t *testing.T, text string) []string {
	t.Helper()
	ts, err := sentiment.SearchTerms(text)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

var (
	day0 = time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	kst  = time.FixedZone("KST", 9*3600)
)

func testConfig() Config {
	replicas := 0
	cfg := Config{Addresses: []string{"http://127.0.0.1:9200"}, Index: "mercato-reviews", Dims: 4, Shards: 1, Replicas: &replicas, Refresh: RefreshWaitFor}
	cfg.setDefaults()
	return cfg
}

func sampleReviews(t *testing.T) []reviews.Review {
	t.Helper()
	mk := func(id, sku string, rating int, label string, score float64, text string, at time.Time, vec []float32) reviews.Review {
		return reviews.Review{
			ID: id, SKU: sku, Rating: rating, Text: text, Lang: string(sentiment.Detect(text)),
			Sentiment: reviews.Sentiment{Label: label, Score: score}, CreatedAt: at,
			Terms: terms(t, text), Vector: vec,
		}
	}
	r1 := mk("r01", "SHOE-RUN-270", 5, reviews.Positive, 0.875, "배송이 빨라요. 신발 사이즈도 딱 맞고 쿠션이 좋아요", day0.Add(time.Hour), []float32{0.6, 0.8, 0, 0})
	r1.OrderID, r1.CustomerID = "ord-1000", "cust-000"
	// A local time zone must be stored as UTC; HTML and quotes as text.
	r2 := mk("r02", "EAR-BT-500", 1, reviews.Negative, 0.75, `<script>alert('x')</script> "Fake" product & no serial`, time.Date(2026, 11, 13, 6, 59, 0, 123456789, kst), []float32{0, 0, 1, 0})
	// No vector, and a zero vector, are both stored without one.
	r3 := mk("r03", "MUG-CER-350", 3, reviews.Negative, 0.625, "the", day0.Add(50*time.Hour), nil)
	r4 := mk("r04", "MUG-CER-350", 4, reviews.Positive, 0.5, "Good mug", day0.Add(51*time.Hour), []float32{0, 0, 0, 0})
	return []reviews.Review{r1, r2, r3, r4}
}

func TestRequestBodies(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	golden(t, "template.json", mustJSON(t, templateBody(cfg)))
	golden(t, "mapping.json", mustJSON(t, mappings(cfg.Dims)))

	var bulk bytes.Buffer
	for _, r := range sampleReviews(t) {
		line, err := bulkAction(cfg.Index, r)
		if err != nil {
			t.Fatal(err)
		}
		bulk.Write(line)
	}
	golden(t, "bulk.ndjson", bulk.Bytes())

	from := time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 11, 18, 9, 0, 0, 0, kst)
	for _, tc := range []struct {
		name string
		q    reviews.Query
	}{
		{"search_korean.json", reviews.Query{Text: "배송이 빨라요", Limit: 20}},
		{"search_english.json", reviews.Query{Text: "Great shoes, arrived quickly", Limit: 10}},
		{"search_filters.json", reviews.Query{Text: "shoes", SKU: "SHOE-RUN-270", Sentiment: reviews.Positive, MinRating: 4, From: from, To: to, Limit: 5}},
		{"search_empty_text.json", reviews.Query{SKU: "KIMCHI-5KG", Limit: 7}},
		{"search_no_limit.json", reviews.Query{Text: "김치", From: from, Limit: 0}},
		{"search_huge_limit.json", reviews.Query{Limit: 1 << 20}},
	} {
		golden(t, tc.name, mustJSON(t, searchBody(tc.q, terms(t, tc.q.Text))))
	}
	golden(t, "termcounts.json", mustJSON(t, termCountsBody(reviews.Query{SKU: "KIMCHI-5KG", Sentiment: reviews.Negative, Text: "ignored"}, 10, nil)))
	golden(t, "termcounts_include.json", mustJSON(t, termCountsBody(reviews.Query{SKU: "KIMCHI-5KG"}, 10, []string{"김치", "맛있", "배송"})))
	golden(t, "knn.json", mustJSON(t, knnBody("r01", []float32{0.6, 0.8, 0, 0}, 5)))
	golden(t, "knn_large_k.json", mustJSON(t, knnBody("r01", []float32{0.6, 0.8, 0, 0}, 5000)))
}

// The query text is analysed by sentiment.SearchTerms, never by the
// cluster: an inflected Korean query becomes its lemmas.
func TestSearchAnalysesQueryWithSearchTerms(t *testing.T) {
	t.Parallel()
	const q = "배송이 빨랐어요"
	lemmas := terms(t, q)
	if len(lemmas) < 2 || lemmas[0] != "배송" {
		t.Fatalf("SearchTerms(%q) = %v, want 배송 and a lemma of 빠르다", q, lemmas)
	}
	body := searchBody(reviews.Query{Text: q}, lemmas)
	must := body["query"].(obj)["bool"].(obj)["must"].([]any)[0].(obj)["match"].(obj)[fieldTerms].(obj)
	if must["query"] != strings.Join(lemmas, " ") || must["operator"] != "and" {
		t.Errorf("terms match = %v, want the lemmas %v, all required", must, lemmas)
	}
}

func TestBulkActionEncodesDocument(t *testing.T) {
	t.Parallel()
	r := sampleReviews(t)[1]
	line, err := bulkAction("idx", r)
	if err != nil {
		t.Fatal(err)
	}
	parts := bytes.Split(bytes.TrimSuffix(line, []byte("\n")), []byte("\n"))
	if len(parts) != 2 {
		t.Fatalf("bulk action has %d lines, want 2: %q", len(parts), line)
	}
	var d document
	if err := json.Unmarshal(parts[1], &d); err != nil {
		t.Fatal(err)
	}
	if d.Text != r.Text || !d.CreatedAt.Equal(r.CreatedAt) || d.CreatedAt.Location() != time.UTC {
		t.Errorf("document = %+v, want text as is and created_at in UTC", d)
	}
	if got := d.review(); got.Terms != nil || got.Vector != nil {
		t.Errorf("review() returns Terms/Vector %v %v, want none (the port does not return them)", got.Terms, got.Vector)
	}
}

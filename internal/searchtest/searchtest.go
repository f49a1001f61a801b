package searchtest

import (
	"context"
	"errors"
	"fmt"
	"html"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/internal/sentiment"
)

// Features says what an adapter promises beyond the common contract.
type Features struct {
	// ApproximateSimilar: Similar uses an approximate nearest-neighbour index
	// (HNSW, Elasticsearch kNN), so the suite checks order, exclusion of the
	// review itself and recall rather than the exact neighbour list.
	ApproximateSimilar bool
	// NativeHighlights: the engine's highlighter may cut a review into
	// windowed fragments. When false the suite also requires each highlight
	// of its (short) fixture reviews to hold the whole review text, as
	// Bleve's does; an adapter that windows even short texts sets it.
	NativeHighlights bool
}

// Run runs the suite. newIndex returns a fresh, empty index.
func Run(t *testing.T, f Features, newIndex func(t *testing.T) reviews.Index) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f Features, idx reviews.Index)
	}{
		{"KoreanLemmasAndParticles", testKorean},
		{"EnglishStems", testEnglish},
		{"AllTermsMustMatch", testConjunction},
		{"Filters", testFilters},
		{"EmptyTextNewestFirst", testNewestFirst},
		{"LimitCapsHitsNotTotals", testLimit},
		{"Aggregations", testAggregations},
		{"HitsRoundTripFields", testRoundTrip},
		{"HighlightsMarkAndEscape", testHighlights},
		{"ReindexReplaces", testReindex},
		{"TermCounts", testTermCounts},
		{"Similar", testSimilar},
		{"SimilarUnknownIsNotFound", testSimilarNotFound},
		{"EmptyIDIsAnError", testEmptyID},
		{"ConcurrentIndexAndSearch", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, f, newIndex(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// load indexes the corpus in two batches (so adapters see more than one bulk
// call) and returns it.
func load(t *testing.T, idx reviews.Index) []reviews.Review {
	t.Helper()
	rs, err := Corpus()
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Index(ctx(t), rs[:25]); err != nil {
		t.Fatalf("Index: %v", err)
	}
	if err := idx.Index(ctx(t), rs[25:]); err != nil {
		t.Fatalf("Index: %v", err)
	}
	return rs
}

func search(t *testing.T, idx reviews.Index, q reviews.Query) reviews.Result {
	t.Helper()
	res, err := idx.Search(ctx(t), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	return res
}

// want is the reference implementation of matching: filters as documented
// and every analysed query term among the review's terms.
func want(t *testing.T, rs []reviews.Review, q reviews.Query) []reviews.Review {
	t.Helper()
	var qterms []string
	if q.Text != "" {
		var err error
		if qterms, err = sentiment.SearchTerms(q.Text); err != nil {
			t.Fatal(err)
		}
		if len(qterms) == 0 {
			return nil
		}
	}
	var out []reviews.Review
	for _, r := range rs {
		if matches(r, q, qterms) {
			out = append(out, r)
		}
	}
	return out
}

func matches(r reviews.Review, q reviews.Query, qterms []string) bool {
	switch {
	case q.SKU != "" && r.SKU != q.SKU,
		q.Sentiment != "" && r.Sentiment.Label != q.Sentiment,
		r.Rating < q.MinRating,
		!q.From.IsZero() && r.CreatedAt.Before(q.From),
		!q.To.IsZero() && !r.CreatedAt.Before(q.To):
		return false
	}
	for _, term := range qterms {
		if !slices.Contains(r.Terms, term) {
			return false
		}
	}
	return true
}

func ids(rs []reviews.Review) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func hitIDs(hs []reviews.Hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// checkSet checks that q matches exactly the reference set, with every match
// returned as a hit, ordered by score.
func checkSet(t *testing.T, idx reviews.Index, rs []reviews.Review, q reviews.Query) reviews.Result {
	t.Helper()
	q.Limit = 100
	res := search(t, idx, q)
	exp := ids(want(t, rs, q))
	if got := sorted(hitIDs(res.Hits)); !slices.Equal(got, sorted(exp)) {
		t.Errorf("Search(%+v) hits = %v, want %v", q, got, sorted(exp))
	}
	if res.Total != len(exp) {
		t.Errorf("Search(%+v) total = %d, want %d", q, res.Total, len(exp))
	}
	if q.Text != "" {
		for i := 1; i < len(res.Hits); i++ {
			if res.Hits[i].Score > res.Hits[i-1].Score {
				t.Errorf("Search(%+v): hit %d scores %v above hit %d's %v", q, i, res.Hits[i].Score, i-1, res.Hits[i-1].Score)
			}
		}
	}
	return res
}

func mustContain(t *testing.T, q string, res reviews.Result, want ...string) {
	t.Helper()
	got := hitIDs(res.Hits)
	for _, id := range want {
		if !slices.Contains(got, id) {
			t.Errorf("Search(%q) = %v, want it to include %s", q, got, id)
		}
	}
}

func testKorean(t *testing.T, _ Features, idx reviews.Index) {
	rs := load(t, idx)
	// r01 배송이 빨라요, r05 빠른 배송, r07 배송은, r15 배송이 늦었어요, r17 배송도.
	res := checkSet(t, idx, rs, reviews.Query{Text: "배송"})
	mustContain(t, "배송", res, "r01", "r05", "r07", "r15", "r17")
	if res.Total < 10 {
		t.Errorf("배송 matched %d reviews, the corpus has more than ten", res.Total)
	}
	// Inflected query, inflected documents: 빨라요 / 빠른 / 빨랐는데 / 빠르고.
	res = checkSet(t, idx, rs, reviews.Query{Text: "빠르다"})
	mustContain(t, "빠르다", res, "r01", "r05", "r07", "r17")
	res = checkSet(t, idx, rs, reviews.Query{Text: "김치가"})
	mustContain(t, "김치가", res, "r21", "r22", "r23")
}

func testEnglish(t *testing.T, _ Features, idx reviews.Index) {
	rs := load(t, idx)
	for _, q := range []string{"shoe", "shoes", "Shoes"} {
		res := checkSet(t, idx, rs, reviews.Query{Text: q})
		mustContain(t, q, res, "r02", "r03", "r06", "r10", "r51")
	}
	res := checkSet(t, idx, rs, reviews.Query{Text: "Delivery"})
	mustContain(t, "Delivery", res, "r20", "r28")
	checkSet(t, idx, rs, reviews.Query{Text: "shipping"})
}

func testConjunction(t *testing.T, _ Features, idx reviews.Index) {
	rs := load(t, idx)
	res := checkSet(t, idx, rs, reviews.Query{Text: "배송 늦다"})
	if got := hitIDs(res.Hits); !slices.Equal(got, []string{"r15"}) {
		t.Errorf("배송 늦다 = %v, want only r15", got)
	}
	checkSet(t, idx, rs, reviews.Query{Text: "great shoes"})
	if res := search(t, idx, reviews.Query{Text: "the", Limit: 10}); res.Total != 0 || len(res.Hits) != 0 {
		t.Errorf("a stopword-only query matched %d reviews, want none", res.Total)
	}
}

func testFilters(t *testing.T, _ Features, idx reviews.Index) {
	rs := load(t, idx)
	from, to := rs[10].CreatedAt, rs[30].CreatedAt
	for _, q := range []reviews.Query{
		{SKU: skuKimchi},
		{SKU: "NO-SUCH-SKU"},
		{Sentiment: reviews.Negative},
		{Sentiment: reviews.Positive},
		{MinRating: 4},
		{MinRating: 5, SKU: skuMug},
		{From: from, To: to},
		{From: from},
		{To: to},
		{Text: "배송", Sentiment: reviews.Negative},
		{Text: "배송", SKU: skuKimchi, MinRating: 4},
		{Text: "shoes", SKU: skuShoe, Sentiment: reviews.Positive, From: rs[3].CreatedAt},
	} {
		checkSet(t, idx, rs, q)
	}
	// [From, To): the review at From is in, the one at To is out.
	res := search(t, idx, reviews.Query{From: from, To: to, Limit: 100})
	got := hitIDs(res.Hits)
	if !slices.Contains(got, rs[10].ID) || slices.Contains(got, rs[30].ID) {
		t.Errorf("From/To hits = %v, want %s in and %s out", got, rs[10].ID, rs[30].ID)
	}
}

func testNewestFirst(t *testing.T, _ Features, idx reviews.Index) {
	rs := load(t, idx)
	for _, q := range []reviews.Query{{Limit: 7}, {SKU: skuTee, Limit: 4}} {
		exp := want(t, rs, q)
		sort.Slice(exp, func(i, j int) bool { return exp[i].CreatedAt.After(exp[j].CreatedAt) })
		res := search(t, idx, q)
		if got, w := hitIDs(res.Hits), ids(exp[:q.Limit]); !slices.Equal(got, w) {
			t.Errorf("Search(%+v) = %v, want the newest %v", q, got, w)
		}
		if res.Total != len(exp) {
			t.Errorf("Search(%+v) total = %d, want %d", q, res.Total, len(exp))
		}
	}
}

func testLimit(t *testing.T, _ Features, idx reviews.Index) {
	rs := load(t, idx)
	all := want(t, rs, reviews.Query{Text: "배송"})
	for _, limit := range []int{1, 3, 0} {
		q := reviews.Query{Text: "배송", Limit: limit}
		res := search(t, idx, q)
		if len(res.Hits) != limit {
			t.Errorf("Limit %d gave %d hits", limit, len(res.Hits))
		}
		for _, h := range res.Hits {
			if !slices.Contains(ids(all), h.ID) {
				t.Errorf("Limit %d: hit %s does not match", limit, h.ID)
			}
		}
		if res.Total != len(all) {
			t.Errorf("Limit %d: total = %d, want every match (%d)", limit, res.Total, len(all))
		}
		checkAggs(t, q, res.Aggregations, all)
	}
}

// checkAggs compares aggregations with the reference computed over matches.
func checkAggs(t *testing.T, q reviews.Query, got reviews.Aggregations, matches []reviews.Review) {
	t.Helper()
	sent := map[string]int{reviews.Positive: 0, reviews.Negative: 0}
	rating := map[int]int{1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
	days := map[string]*reviews.DayCount{}
	for _, r := range matches {
		sent[r.Sentiment.Label]++
		rating[r.Rating]++
		d := r.CreatedAt.UTC().Format(time.DateOnly)
		if days[d] == nil {
			days[d] = &reviews.DayCount{Date: d}
		}
		days[d].Count++
		switch r.Sentiment.Label {
		case reviews.Positive:
			days[d].Positive++
		case reviews.Negative:
			days[d].Negative++
		}
	}
	var byDay []reviews.DayCount
	for _, d := range days {
		byDay = append(byDay, *d)
	}
	sort.Slice(byDay, func(i, j int) bool { return byDay[i].Date < byDay[j].Date })
	if fmt.Sprint(got.Sentiment) != fmt.Sprint(sent) || len(got.Sentiment) != 2 {
		t.Errorf("Search(%+v) sentiment = %v, want %v", q, got.Sentiment, sent)
	}
	if fmt.Sprint(got.Rating) != fmt.Sprint(rating) || len(got.Rating) != 5 {
		t.Errorf("Search(%+v) rating = %v, want %v", q, got.Rating, rating)
	}
	if !slices.Equal(got.ByDay, byDay) {
		t.Errorf("Search(%+v) by_day = %+v, want %+v", q, got.ByDay, byDay)
	}
}

func testAggregations(t *testing.T, _ Features, idx reviews.Index) {
	rs := load(t, idx)
	for _, q := range []reviews.Query{
		{},
		{Text: "배송"},
		{MinRating: 4},
		{SKU: skuEar, From: rs[12].CreatedAt, To: rs[50].CreatedAt},
		{SKU: "NO-SUCH-SKU"},
	} {
		q.Limit = 5
		res := search(t, idx, q)
		checkAggs(t, q, res.Aggregations, want(t, rs, q))
	}
	res := search(t, idx, reviews.Query{})
	if n := len(res.Aggregations.ByDay); n < 10 || n > 11 {
		t.Errorf("the corpus spans ten or eleven days, by_day has %d", n)
	}
}

func testRoundTrip(t *testing.T, _ Features, idx reviews.Index) {
	rs := load(t, idx)
	byID := map[string]reviews.Review{}
	for _, r := range rs {
		byID[r.ID] = r
	}
	res := search(t, idx, reviews.Query{Limit: 100})
	if len(res.Hits) != len(rs) {
		t.Fatalf("got %d hits, want %d", len(res.Hits), len(rs))
	}
	for _, h := range res.Hits {
		checkReview(t, h.Review, byID[h.ID])
	}
}

func checkReview(t *testing.T, got, w reviews.Review) {
	t.Helper()
	if got.ID != w.ID || got.SKU != w.SKU || got.Rating != w.Rating || got.Text != w.Text || got.Lang != w.Lang ||
		got.Sentiment.Label != w.Sentiment.Label || math.Abs(got.Sentiment.Score-w.Sentiment.Score) > 1e-6 ||
		got.OrderID != w.OrderID || got.CustomerID != w.CustomerID || !got.CreatedAt.Equal(w.CreatedAt) {
		t.Errorf("review %s came back as\n%+v\nwant\n%+v", w.ID, got, w)
	}
}

// marked returns the texts wrapped in <mark> in a highlight, and checks the
// highlight carries no markup but <mark> and escaped text.
func marked(t *testing.T, id, hl string) []string {
	t.Helper()
	var out []string
	rest := hl
	for {
		i := strings.Index(rest, "<mark>")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "</mark>")
		if j < 0 {
			t.Errorf("hit %s: unclosed <mark> in %q", id, hl)
			return out
		}
		out = append(out, html.UnescapeString(rest[i+len("<mark>"):i+j]))
		rest = rest[i+j+len("</mark>"):]
	}
	bare := strings.NewReplacer("<mark>", "", "</mark>", "").Replace(hl)
	if strings.ContainsAny(bare, `<>"`) {
		t.Errorf("hit %s: highlight %q is not HTML-escaped", id, hl)
	}
	return out
}

func testHighlights(t *testing.T, f Features, idx reviews.Index) {
	rs := load(t, idx)
	byID := map[string]reviews.Review{}
	for _, r := range rs {
		byID[r.ID] = r
	}
	for _, tc := range []struct {
		q, mark string // query, and what a marked span must contain
	}{
		{"배송", "배송"},
		{"shoe", "shoe"},
		{"alert", "alert"}, // r18 carries <script>
		{"주의", "주의"},       // r46 carries <b> and <script>
		{"value", "value"}, // r39 carries & and quotes
	} {
		res := search(t, idx, reviews.Query{Text: tc.q, Limit: 100})
		if len(res.Hits) == 0 {
			t.Errorf("Search(%q) found nothing", tc.q)
		}
		for _, h := range res.Hits {
			if len(h.Highlights) == 0 {
				t.Errorf("Search(%q): hit %s has no highlights", tc.q, h.ID)
				continue
			}
			found := false
			for _, hl := range h.Highlights {
				for _, m := range marked(t, h.ID, hl) {
					if strings.Contains(strings.ToLower(m), tc.mark) {
						found = true
					}
				}
				if !f.NativeHighlights {
					plain := html.UnescapeString(strings.NewReplacer("<mark>", "", "</mark>", "").Replace(hl))
					if plain != byID[h.ID].Text {
						t.Errorf("Search(%q): hit %s highlight %q does not hold the whole text", tc.q, h.ID, hl)
					}
				}
			}
			if !found {
				t.Errorf("Search(%q): hit %s highlights %q mark nothing containing %q", tc.q, h.ID, h.Highlights, tc.mark)
			}
			if h.Text != byID[h.ID].Text {
				t.Errorf("Search(%q): hit %s text %q, want it as indexed (escaping is for display)", tc.q, h.ID, h.Text)
			}
		}
	}
	res := search(t, idx, reviews.Query{Text: "alert", Limit: 10})
	for _, h := range res.Hits {
		for _, hl := range h.Highlights {
			if strings.Contains(hl, "<script") || (h.ID == "r18" && !strings.Contains(hl, "&lt;script&gt;")) {
				t.Errorf("hit %s highlight %q: <script> must come back escaped", h.ID, hl)
			}
		}
	}
}

func testReindex(t *testing.T, _ Features, idx reviews.Index) {
	rs := load(t, idx)
	old := rs[0] // 배송이 빨라요 …
	r, err := NewReview(old.ID, skuMug, 2, reviews.Negative, "손잡이가 뜨거워서 잡기 힘들어요", old.CreatedAt.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Index(ctx(t), []reviews.Review{r}); err != nil {
		t.Fatal(err)
	}
	rs[0] = r
	all := search(t, idx, reviews.Query{Limit: 100})
	if all.Total != len(rs) || len(all.Hits) != len(rs) {
		t.Errorf("after re-indexing one id: total %d, %d hits, want %d", all.Total, len(all.Hits), len(rs))
	}
	res := checkSet(t, idx, rs, reviews.Query{Text: "쿠션"})
	if slices.Contains(hitIDs(res.Hits), old.ID) {
		t.Errorf("the replaced text still matches")
	}
	res = checkSet(t, idx, rs, reviews.Query{Text: "손잡이"})
	mustContain(t, "손잡이", res, old.ID)
	for _, h := range res.Hits {
		if h.ID == old.ID {
			checkReview(t, h.Review, r)
		}
	}
	checkSet(t, idx, rs, reviews.Query{SKU: skuShoe})
	checkAggs(t, reviews.Query{}, all.Aggregations, rs)
	checkSimilar(t, Features{}, idx, rs, old.ID, 5)
	// Same batch twice: the last one wins.
	a, b := r, r
	a.Text, b.Text = "first version", "second version"
	a.Terms, _ = sentiment.SearchTerms(a.Text)
	b.Terms, _ = sentiment.SearchTerms(b.Text)
	if err := idx.Index(ctx(t), []reviews.Review{a, b}); err != nil {
		t.Fatal(err)
	}
	rs[0] = b
	checkSet(t, idx, rs, reviews.Query{Text: "version"})
	if res := search(t, idx, reviews.Query{Text: "version", Limit: 5}); len(res.Hits) == 1 && res.Hits[0].Text != b.Text {
		t.Errorf("two versions in one batch: got %q, want the last", res.Hits[0].Text)
	}
}

func testTermCounts(t *testing.T, _ Features, idx reviews.Index) {
	rs := load(t, idx)
	for _, tc := range []struct {
		q    reviews.Query
		size int
	}{
		{reviews.Query{SKU: skuKimchi, Sentiment: reviews.Negative}, 10},
		{reviews.Query{SKU: skuShoe, Sentiment: reviews.Positive, Text: "ignored"}, 5},
		{reviews.Query{MinRating: 4}, 20},
		{reviews.Query{SKU: "NO-SUCH-SKU"}, 10},
	} {
		got, err := idx.TermCounts(ctx(t), tc.q, tc.size)
		if err != nil {
			t.Fatalf("TermCounts(%+v): %v", tc.q, err)
		}
		q := tc.q
		q.Text = ""
		matches := want(t, rs, q)
		df := map[string]int{}
		for _, r := range matches {
			seen := map[string]bool{}
			for _, term := range r.Terms {
				if !seen[term] {
					seen[term] = true
					df[term]++
				}
			}
		}
		if got.Docs != len(matches) {
			t.Errorf("TermCounts(%+v) docs = %d, want %d", tc.q, got.Docs, len(matches))
		}
		for term, n := range got.Terms {
			if df[term] != n {
				t.Errorf("TermCounts(%+v)[%q] = %d, want %d", tc.q, term, n, df[term])
			}
		}
		// The top size terms must be there; ties at the cut may go either way.
		counts := make([]int, 0, len(df))
		for _, n := range df {
			counts = append(counts, n)
		}
		slices.Sort(counts)
		slices.Reverse(counts)
		if want := min(tc.size, len(df)); len(got.Terms) < want {
			t.Errorf("TermCounts(%+v) returned %d terms, want at least %d", tc.q, len(got.Terms), want)
		}
		if len(counts) > tc.size {
			cut := counts[tc.size-1]
			for term, n := range df {
				if _, ok := got.Terms[term]; n > cut && !ok {
					t.Errorf("TermCounts(%+v) lacks %q (in %d reviews, above the cut %d)", tc.q, term, n, cut)
				}
			}
		}
	}
	got, err := idx.TermCounts(ctx(t), reviews.Query{SKU: skuKimchi}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got.Terms["배송"] == 0 || got.Terms["김치"] == 0 {
		t.Errorf("kimchi reviews' top terms %v lack 배송 or 김치", got.Terms)
	}
}

func cosine(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// checkSimilar compares Similar with exact cosine neighbours over rs.
func checkSimilar(t *testing.T, f Features, idx reviews.Index, rs []reviews.Review, id string, k int) {
	t.Helper()
	var self reviews.Review
	byID := map[string]reviews.Review{}
	for _, r := range rs {
		byID[r.ID] = r
		if r.ID == id {
			self = r
		}
	}
	type nb struct {
		id  string
		sim float64
	}
	var exp []nb
	for _, r := range rs {
		if r.ID != id {
			exp = append(exp, nb{r.ID, cosine(self.Vector, r.Vector)})
		}
	}
	sort.Slice(exp, func(i, j int) bool { return exp[i].sim > exp[j].sim })
	exp = exp[:min(k, len(exp))]
	got, err := idx.Similar(ctx(t), id, k)
	if err != nil {
		t.Fatalf("Similar(%s, %d): %v", id, k, err)
	}
	if len(got) != len(exp) {
		t.Fatalf("Similar(%s, %d) returned %d neighbours, want %d", id, k, len(got), len(exp))
	}
	hits := 0
	for i, n := range got {
		if n.ID == id {
			t.Errorf("Similar(%s) returned the review itself", id)
		}
		if i > 0 && n.Similarity > got[i-1].Similarity+1e-6 {
			t.Errorf("Similar(%s): neighbour %d more similar than %d", id, i, i-1)
		}
		r, ok := byID[n.ID]
		if !ok {
			t.Errorf("Similar(%s): unknown neighbour %s", id, n.ID)
			continue
		}
		checkReview(t, n.Review, r)
		if d := math.Abs(n.Similarity - cosine(self.Vector, r.Vector)); d > 1e-4 {
			t.Errorf("Similar(%s): %s similarity %v, want cosine %v", id, n.ID, n.Similarity, cosine(self.Vector, r.Vector))
		}
		if !f.ApproximateSimilar && math.Abs(n.Similarity-exp[i].sim) > 1e-4 {
			t.Errorf("Similar(%s) #%d = %s (%v), want %s (%v)", id, i, n.ID, n.Similarity, exp[i].id, exp[i].sim)
		}
		if slices.ContainsFunc(exp, func(e nb) bool { return e.id == n.ID }) {
			hits++
		}
	}
	if f.ApproximateSimilar && float64(hits) < 0.8*float64(len(exp)) {
		t.Errorf("Similar(%s, %d): recall %d/%d, want at least 80%%", id, k, hits, len(exp))
	}
}

func testSimilar(t *testing.T, f Features, idx reviews.Index) {
	rs := load(t, idx)
	for _, id := range []string{"r01", "r18", "r33", "r60"} {
		checkSimilar(t, f, idx, rs, id, 5)
	}
	checkSimilar(t, f, idx, rs, "r02", 100) // k beyond the corpus: all others
	// Reviews about fast delivery sit near r01 (배송이 빨라요).
	got, err := idx.Similar(ctx(t), "r01", 3)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Similarity < 0.25 {
		t.Errorf("r01's nearest neighbour %s has similarity %v, want a shared-terms review above 0.25", got[0].ID, got[0].Similarity)
	}
}

func testSimilarNotFound(t *testing.T, _ Features, idx reviews.Index) {
	load(t, idx)
	if _, err := idx.Similar(ctx(t), "no-such-review", 5); !errors.Is(err, reviews.ErrNotFound) {
		t.Errorf("Similar(unknown) error = %v, want ErrNotFound", err)
	}
}

func testEmptyID(t *testing.T, _ Features, idx reviews.Index) {
	rs := load(t, idx)
	bad := rs[3]
	bad.ID = ""
	if err := idx.Index(ctx(t), []reviews.Review{bad}); err == nil {
		t.Errorf("Index accepted a review without an id")
	}
	if _, err := idx.Similar(ctx(t), "", 3); err == nil {
		t.Errorf("Similar accepted an empty id")
	}
	if err := idx.Index(ctx(t), nil); err != nil {
		t.Errorf("Index(nil) = %v, want a no-op", err)
	}
	if res := search(t, idx, reviews.Query{}); res.Total != len(rs) {
		t.Errorf("after rejected input: total %d, want %d", res.Total, len(rs))
	}
}

func testConcurrent(t *testing.T, _ Features, idx reviews.Index) {
	rs := load(t, idx)
	const writers, batches, perBatch = 3, 5, 4
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				var batch []reviews.Review
				for i := range perBatch {
					n := (w*batches+b)*perBatch + i
					r, err := NewReview(fmt.Sprintf("c%03d", n), skuShoe, 1+n%5, reviews.Positive,
						fmt.Sprintf("동시 색인 리뷰 %d 배송 빠르고 좋아요", n), corpusStart.Add(time.Duration(n)*time.Minute))
					if err != nil {
						errs <- err
						return
					}
					batch = append(batch, r)
				}
				if err := idx.Index(ctx(t), batch); err != nil {
					errs <- fmt.Errorf("indexing: %w", err)
					return
				}
			}
		})
	}
	for range 3 {
		wg.Go(func() {
			for range 10 {
				if _, err := idx.Search(ctx(t), reviews.Query{Text: "배송", Limit: 5}); err != nil {
					errs <- fmt.Errorf("searching: %w", err)
					return
				}
				if _, err := idx.TermCounts(ctx(t), reviews.Query{SKU: skuShoe}, 10); err != nil {
					errs <- fmt.Errorf("counting terms: %w", err)
					return
				}
				if _, err := idx.Similar(ctx(t), "r01", 3); err != nil {
					errs <- fmt.Errorf("finding similar reviews: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := len(rs) + writers*batches*perBatch
	if res := search(t, idx, reviews.Query{}); res.Total != total {
		t.Errorf("after concurrent indexing: total %d, want %d", res.Total, total)
	}
	if res := search(t, idx, reviews.Query{Text: "동시"}); res.Total != writers*batches*perBatch {
		t.Errorf("concurrently indexed reviews found: %d, want %d", res.Total, writers*batches*perBatch)
	}
}

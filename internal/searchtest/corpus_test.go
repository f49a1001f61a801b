package searchtest

import (
	"math"
	"testing"
)

// The suite relies on the corpus being what its doc says: unique ids, every
// rating and both labels present, unit vectors, Terms from SearchTerms.
func TestCorpus(t *testing.T) {
	t.Parallel()
	rs, err := Corpus()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	ratings := map[int]bool{}
	labels := map[string]bool{}
	langs := map[string]int{}
	for _, r := range rs {
		if ids[r.ID] {
			t.Errorf("duplicate id %s", r.ID)
		}
		ids[r.ID] = true
		ratings[r.Rating] = true
		labels[r.Sentiment.Label] = true
		langs[r.Lang]++
		var n float64
		for _, x := range r.Vector {
			n += float64(x) * float64(x)
		}
		if len(r.Vector) != Dims || math.Abs(n-1) > 1e-5 {
			t.Errorf("%s: vector of %d dims and squared norm %v, want unit %d-dim", r.ID, len(r.Vector), n, Dims)
		}
		if len(r.Terms) == 0 {
			t.Errorf("%s: no terms", r.ID)
		}
	}
	if len(rs) < 50 || len(ratings) != 5 || len(labels) != 2 || langs["ko"] < 20 || langs["en"] < 20 {
		t.Errorf("corpus: %d reviews, ratings %v, labels %v, langs %v", len(rs), ratings, labels, langs)
	}
	days := map[string]bool{}
	for _, r := range rs {
		days[r.CreatedAt.Format("2006-01-02")] = true
	}
	if len(days) < 10 {
		t.Errorf("corpus spans %d days, want ten", len(days))
	}
}

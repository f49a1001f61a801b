package reviews_test

import (
	"testing"

	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/internal/sentiment"
)

// TestEmbeddingNeighboursAgree evaluates the review vectors on the project's
// own labelled shop reviews: how often a review's nearest neighbour (by
// cosine, itself excluded) has the same sentiment label, against the share a
// random neighbour would have. Neighbours are found within each language.
func TestEmbeddingNeighboursAgree(t *testing.T) {
	t.Parallel()
	for _, lang := range []sentiment.Lang{sentiment.LangKorean, sentiment.LangEnglish} {
		examples, err := sentiment.ShopReviews(lang)
		if err != nil {
			t.Fatal(err)
		}
		vecs := make([][]float32, len(examples))
		pos := 0
		for i, ex := range examples {
			terms, err := sentiment.SearchTerms(ex.Text)
			if err != nil {
				t.Fatal(err)
			}
			vecs[i] = reviews.Embed(terms)
			if ex.Label == sentiment.Positive {
				pos++
			}
		}
		agree := 0
		for i := range examples {
			best, bestSim := -1, -2.0
			for j := range examples {
				if j == i {
					continue
				}
				if s := reviews.Cosine(vecs[i], vecs[j]); s > bestSim {
					best, bestSim = j, s
				}
			}
			if examples[best].Label == examples[i].Label {
				agree++
			}
		}
		p := float64(pos) / float64(len(examples))
		chance := p*p + (1-p)*(1-p)
		got := float64(agree) / float64(len(examples))
		t.Logf("%s: %d reviews, nearest neighbour shares the label %.1f %% of the time (chance %.1f %%)", lang, len(examples), 100*got, 100*chance)
		if got <= chance+0.05 {
			t.Errorf("%s: neighbours agree %.3f, barely above chance %.3f", lang, got, chance)
		}
	}
}

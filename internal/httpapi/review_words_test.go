package httpapi_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/bleveindex"
	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/httpapi"
	"github.com/mercato-platform/mercato/internal/reviews"
)

// The summary's top terms read as the words people wrote: 빨라요 for the
// stem 빠르, quickly for quickli.
func TestReviewSummaryTermsCarryWords(t *testing.T) {
	t.Parallel()
	var idx *bleveindex.Index
	e := newEnvOpts(t, func(o *httpapi.Options, s *sqlstore.Store) {
		var err error
		if idx, err = bleveindex.OpenInMemory(bleveindex.Options{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = idx.Close() })
		o.Reviews = reviews.NewService(s, s, storeOrders{s}, func() (reviews.Classifier, error) { return positive{}, nil }, idx, reviews.Options{})
	})
	texts := map[string][]string{
		"KO": {"배송이 빨라요 최고", "포장이 빨라요 만족", "빨라서 좋았어요"},
		"EN": {"Arrived quickly", "It arrived quickly, nice", "Arrives quickly every time"},
		// The background: what every product's reviews say.
		"BG": {"보통이에요", "그냥 그래요", "average product", "it works", "괜찮아요", "fine enough"},
	}
	var batch []reviews.Review
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for sku, ts := range texts {
		e.product(t, sku, 1000, 1)
		for i, text := range ts {
			r, err := reviews.Prepare(reviews.Review{ID: fmt.Sprintf("r-%s-%d", sku, i), SKU: sku, Rating: 5, Text: text,
				Sentiment: reviews.Sentiment{Label: reviews.Positive, Score: 0.9}, CreatedAt: at.Add(time.Duration(i) * time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			batch = append(batch, r)
		}
	}
	if err := idx.Index(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ sku, term, word string }{
		{"KO", "빠르", "빨라요"},
		{"EN", "quickli", "quickly"},
		{"EN", "arriv", "arrived"},
	} {
		status, body := e.do(t, "GET", "/v1/products/"+tc.sku+"/review-summary", "")
		if status != 200 {
			t.Fatalf("%s: %d %v", tc.sku, status, body)
		}
		terms, _ := body["top_positive_terms"].([]any)
		words, _ := body["top_positive_words"].([]any)
		if len(terms) != len(words) {
			t.Fatalf("%s: terms %v, words %v", tc.sku, terms, words)
		}
		found := false
		for i, w := range words {
			m := w.(map[string]any)
			if m["term"] != terms[i] {
				t.Errorf("%s: word %d is for %v, term %d is %v", tc.sku, i, m["term"], i, terms[i])
			}
			if m["term"] == tc.term {
				found = true
				if m["word"] != tc.word {
					t.Errorf("%s: word of %s = %v, want %s", tc.sku, tc.term, m["word"], tc.word)
				}
			}
		}
		if !found {
			t.Errorf("%s: %s is not a top term: %v", tc.sku, tc.term, words)
		}
		if neg, ok := body["top_negative_words"].([]any); !ok || len(neg) != 0 {
			t.Errorf("%s: negative words = %v", tc.sku, body["top_negative_words"])
		}
	}
}

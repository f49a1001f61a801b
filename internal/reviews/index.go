package reviews

import (
	"context"
	"errors"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
)

// Sentiment labels.
const (
	Positive = "positive"
	Negative = "negative"
)

// Sentiment is a review's classified sentiment.
type Sentiment = event.Sentiment

// Review is one customer review as indexed.
type Review struct {
	ID         string    `json:"id"`
	SKU        string    `json:"sku"`
	Rating     int       `json:"rating"` // 1..5
	Text       string    `json:"text"`
	Lang       string    `json:"lang"` // ko, en, other
	Sentiment  Sentiment `json:"sentiment"`
	OrderID    string    `json:"order_id,omitempty"`
	CustomerID string    `json:"customer_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	// Terms are the review's analysed terms (Korean morphemes / English
	// stems), computed once by the domain so every index analyses alike and
	// Elasticsearch needs no Korean plugin.
	Terms []string `json:"-"`
	// Vector is the review's dense embedding (unit length).
	Vector []float32 `json:"-"`
}

// Event is the review as review.created carries it.
func (r Review) Event() event.Review {
	return event.Review{ID: r.ID, SKU: r.SKU, Rating: r.Rating, Text: r.Text, Lang: r.Lang, Sentiment: r.Sentiment,
		OrderID: r.OrderID, CustomerID: r.CustomerID, CreatedAt: r.CreatedAt}
}

// reviewOf is the review an event carries, before analysis.
func reviewOf(e event.Review) Review {
	return Review{ID: e.ID, SKU: e.SKU, Rating: e.Rating, Text: e.Text, Lang: e.Lang, Sentiment: e.Sentiment,
		OrderID: e.OrderID, CustomerID: e.CustomerID, CreatedAt: e.CreatedAt}
}

// Query selects reviews. Empty fields do not filter.
type Query struct {
	// Text is analysed with sentiment.SearchTerms; a review matches when it
	// holds every query term (AND). Text of stopwords only matches nothing.
	Text      string
	SKU       string
	Sentiment string // positive | negative
	MinRating int
	From, To  time.Time // created_at in [From, To): To is exclusive
	Limit     int       // hits to return; <= 0 returns aggregations only (they cover every match)
}

// Hit is one matching review.
type Hit struct {
	Review
	Score      float64  `json:"score"`
	Highlights []string `json:"highlights"` // fragments with matches wrapped in <mark></mark>, text HTML-escaped
}

// DayCount is one day of the by-day histogram (UTC days).
type DayCount struct {
	Date     string `json:"date"` // YYYY-MM-DD
	Count    int    `json:"count"`
	Positive int    `json:"positive"`
	Negative int    `json:"negative"`
}

// Aggregations summarise every review matching a query.
type Aggregations struct {
	Sentiment map[string]int `json:"sentiment"` // positive, negative (both keys always present)
	Rating    map[int]int    `json:"rating"`    // 1..5 (all keys always present)
	ByDay     []DayCount     `json:"by_day"`    // ascending, days with matches only
}

// Result is a search answer.
type Result struct {
	Total        int          `json:"total"`
	Hits         []Hit        `json:"hits"`
	Aggregations Aggregations `json:"aggregations"`
}

// TermCounts is how many matching reviews contain each term (document
// frequency), for significant-terms analysis.
type TermCounts struct {
	Docs  int            // matching reviews
	Terms map[string]int // term -> reviews containing it (the top Size terms at least)
}

// Neighbour is a review near another in vector space.
type Neighbour struct {
	Review
	Similarity float64 `json:"similarity"` // cosine, -1..1
}

// ErrNotFound: no review with that id in the index.
var ErrNotFound = errors.New("review not found")

// Index is the search port. Every adapter passes searchtest.Run.
type Index interface {
	// Index adds or replaces reviews by id (bulk).
	Index(ctx context.Context, rs []Review) error
	// Search runs q: hits by relevance (newest first when Text is empty).
	Search(ctx context.Context, q Query) (Result, error)
	// TermCounts returns document frequencies of the top size terms among
	// reviews matching q (Text ignored).
	TermCounts(ctx context.Context, q Query, size int) (TermCounts, error)
	// Similar returns the k reviews nearest to review id by cosine
	// similarity of their vectors, the review itself excluded.
	Similar(ctx context.Context, id string, k int) ([]Neighbour, error)
	Close() error
}

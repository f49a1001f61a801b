package reviews

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/sentiment"
)

// Sentinel errors.
var (
	ErrInvalid    = errors.New("invalid review")
	ErrUnknownSKU = errors.New("unknown sku")
	// ErrOrderNotFound: a review's order_id names no order of its author
	// (whether the order is missing or another customer's is not told).
	ErrOrderNotFound = errors.New("order not found")
	// ErrBadDateRange: a search's from/to is outside the searchable years
	// or from is after to.
	ErrBadDateRange = errors.New("invalid date range")
)

// Searchable years. Bleve keeps datetimes as int64 nanoseconds (years
// 1677-2262) and fails the whole search on anything outside; a shop's
// reviews all fall well inside these bounds.
const (
	MinSearchYear = 1970
	MaxSearchYear = 2200
)

// Store keeps reviews in the system of record.
type Store interface {
	CreateReview(ctx context.Context, r Review, events []event.Message) error
	GetReview(ctx context.Context, id string) (Review, error)
}

// Products tells whether a SKU exists.
type Products interface {
	ProductExists(ctx context.Context, sku string) (bool, error)
}

// Orders tells who placed an order, so a review can cite only its
// author's own order.
type Orders interface {
	// OrderCustomer returns the customer id of order id; ok is false when
	// there is no such order.
	OrderCustomer(ctx context.Context, id string) (customerID string, ok bool, err error)
}

// Classifier is the sentiment model.
type Classifier interface {
	Classify(text string) sentiment.Result
}

// Service records, indexes and analyses reviews.
type Service struct {
	store      Store
	products   Products
	orders     Orders
	classifier func() (Classifier, error)
	index      Index
	now        func() time.Time
	committed  func()
	log        *slog.Logger
}

// Options build a Service.
type Options struct {
	Now       func() time.Time
	Committed func()
	Logger    *slog.Logger
}

// NewService builds the service; classifier loads the model on first use.
func NewService(store Store, products Products, orders Orders, classifier func() (Classifier, error), index Index, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Committed == nil {
		o.Committed = func() {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, products: products, orders: orders, classifier: classifier, index: index, now: o.Now, committed: o.Committed, log: o.Logger}
}

// Request is the body of POST /v1/reviews.
type Request struct {
	SKU     string `json:"sku"`
	Rating  int    `json:"rating"`
	Text    string `json:"text"`
	OrderID string `json:"order_id"`
}

// MaxTextRunes bounds a review's text.
const MaxTextRunes = 5000

// Create validates, classifies and stores a review and publishes it on
// commerce.reviews (through the outbox) for the reviews role to index.
func (s *Service) Create(ctx context.Context, customerID string, req Request) (Review, error) {
	n := utf8.RuneCountInString(strings.TrimSpace(req.Text))
	switch {
	case !utf8.ValidString(req.Text):
		return Review{}, fmt.Errorf("%w: text is not valid UTF-8", ErrInvalid)
	case n < 1 || utf8.RuneCountInString(req.Text) > MaxTextRunes:
		return Review{}, fmt.Errorf("%w: text must be 1-%d characters", ErrInvalid, MaxTextRunes)
	case req.Rating < 1 || req.Rating > 5:
		return Review{}, fmt.Errorf("%w: rating must be 1-5", ErrInvalid)
	case len(req.OrderID) > 64:
		return Review{}, fmt.Errorf("%w: order_id is too long", ErrInvalid)
	}
	ok, err := s.products.ProductExists(ctx, req.SKU)
	if err != nil {
		return Review{}, err
	}
	if !ok {
		return Review{}, fmt.Errorf("%w: %s", ErrUnknownSKU, req.SKU)
	}
	if req.OrderID != "" {
		owner, ok, err := s.orders.OrderCustomer(ctx, req.OrderID)
		if err != nil {
			return Review{}, fmt.Errorf("looking up order %s: %w", req.OrderID, err)
		}
		if !ok || owner != customerID {
			return Review{}, fmt.Errorf("%w: %s", ErrOrderNotFound, req.OrderID)
		}
	}
	c, err := s.classifier()
	if err != nil {
		return Review{}, fmt.Errorf("loading the sentiment model: %w", err)
	}
	res := c.Classify(req.Text)
	now := s.now().UTC().Truncate(time.Microsecond)
	r := Review{
		ID: "rev_" + event.NewID(), SKU: req.SKU, Rating: req.Rating, Text: req.Text, Lang: string(res.Lang),
		Sentiment: Sentiment{Label: res.Label, Score: res.Score}, OrderID: req.OrderID, CustomerID: customerID, CreatedAt: now,
	}
	env, err := event.New(event.TypeReviewCreated, "mercato/reviews", r.SKU, now, r.Event())
	if err != nil {
		return Review{}, err
	}
	if err := s.store.CreateReview(ctx, r, []event.Message{{Topic: event.TopicReviews, Envelope: env}}); err != nil {
		return Review{}, fmt.Errorf("storing review: %w", err)
	}
	s.committed()
	return r, nil
}

// Prepare fills a review's analysed terms and vector before indexing.
func Prepare(r Review) (Review, error) {
	terms, err := sentiment.SearchTerms(r.Text)
	if err != nil {
		return r, fmt.Errorf("analysing review %s: %w", r.ID, err)
	}
	r.Terms, r.Vector = terms, Embed(terms)
	return r, nil
}

// IndexEvents indexes review events (the reviews role's handler).
func (s *Service) IndexEvents(ctx context.Context, envs []event.Envelope) error {
	batch := make([]Review, 0, len(envs))
	for _, env := range envs {
		var e event.Review
		if err := env.DecodeData(&e); err != nil {
			return err
		}
		r := reviewOf(e)
		if r.ID == "" || r.SKU == "" {
			return fmt.Errorf("%w: review event without id or sku", event.ErrMalformed)
		}
		p, err := Prepare(r)
		if err != nil {
			return err
		}
		batch = append(batch, p)
	}
	return s.index.Index(ctx, batch)
}

// Search runs a query; hits without highlights from the index get them here.
func (s *Service) Search(ctx context.Context, q Query) (Result, error) {
	if q.Limit == 0 {
		q.Limit = 20
	}
	if q.Limit < 0 || q.Limit > 100 {
		return Result{}, fmt.Errorf("%w: limit must be 1-100", ErrInvalid)
	}
	if q.Sentiment != "" && q.Sentiment != Positive && q.Sentiment != Negative {
		return Result{}, fmt.Errorf("%w: sentiment must be positive or negative", ErrInvalid)
	}
	if q.MinRating < 0 || q.MinRating > 5 {
		return Result{}, fmt.Errorf("%w: min_rating must be 1-5", ErrInvalid)
	}
	if utf8.RuneCountInString(q.Text) > 500 {
		return Result{}, fmt.Errorf("%w: q must be at most 500 characters", ErrInvalid)
	}
	if err := CheckDateRange(q.From, q.To); err != nil {
		return Result{}, err
	}
	res, err := s.index.Search(ctx, q)
	if err != nil {
		return Result{}, err
	}
	for i := range res.Hits {
		// Search is public: who wrote a review, and for which order, is not.
		res.Hits[i].CustomerID, res.Hits[i].OrderID = "", ""
		if len(res.Hits[i].Highlights) == 0 {
			res.Hits[i].Highlights = []string{html.EscapeString(snippet(res.Hits[i].Text, 160))}
		}
	}
	return res, nil
}

// CheckDateRange checks a search's created_at bounds (zero times are open
// ends): each inside years MinSearchYear-MaxSearchYear, from not after to.
func CheckDateRange(from, to time.Time) error {
	for _, b := range []struct {
		name string
		t    time.Time
	}{{"from", from}, {"to", to}} {
		if y := b.t.UTC().Year(); !b.t.IsZero() && (y < MinSearchYear || y > MaxSearchYear) {
			return fmt.Errorf("%w: %s %s is outside years %d-%d", ErrBadDateRange, b.name, b.t.Format(time.RFC3339), MinSearchYear, MaxSearchYear)
		}
	}
	if !from.IsZero() && !to.IsZero() && from.After(to) {
		return fmt.Errorf("%w: from %s is after to %s", ErrBadDateRange, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return nil
}

func snippet(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

// Summary is a product's review summary.
type Summary struct {
	SKU              string   `json:"sku"`
	Count            int      `json:"count"`
	Positive         int      `json:"positive"`
	Negative         int      `json:"negative"`
	PositiveRatio    float64  `json:"positive_ratio"`
	AvgRating        float64  `json:"avg_rating"`
	TopPositiveTerms []string `json:"top_positive_terms"`
	TopNegativeTerms []string `json:"top_negative_terms"`
	// TopPositiveWords and TopNegativeWords are the same terms, in the
	// same order, each with the word people wrote most for it.
	TopPositiveWords []TermWord `json:"top_positive_words"`
	TopNegativeWords []TermWord `json:"top_negative_words"`
	Trend            []DayCount `json:"trend"`
}

// TermWord is a significant term and the word written most often for it
// in the reviews it was found in (a stem such as 빠르 or quickli reads as
// 빨라요 or quickly).
type TermWord struct {
	Term string `json:"term"`
	Word string `json:"word"`
}

// wordSample is how many of a product's reviews on one side are read for
// the words of its terms.
const wordSample = 100

// Summarize builds a product's summary. Top terms are significant terms:
// terms much more frequent in the product's positive (negative) reviews
// than in all reviews, scored by JLH — (fg% − bg%) × fg% / bg% — as
// Elasticsearch's significant_terms does, so words every review uses (배송,
// good) do not crowd out what is particular to this product.
func (s *Service) Summarize(ctx context.Context, sku string) (Summary, error) {
	ok, err := s.products.ProductExists(ctx, sku)
	if err != nil {
		return Summary{}, err
	}
	if !ok {
		return Summary{}, fmt.Errorf("%w: %s", ErrUnknownSKU, sku)
	}
	res, err := s.index.Search(ctx, Query{SKU: sku, Limit: 1})
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{SKU: sku, Count: res.Total, Positive: res.Aggregations.Sentiment[Positive], Negative: res.Aggregations.Sentiment[Negative],
		Trend: res.Aggregations.ByDay, TopPositiveTerms: []string{}, TopNegativeTerms: []string{},
		TopPositiveWords: []TermWord{}, TopNegativeWords: []TermWord{}}
	if sum.Trend == nil {
		sum.Trend = []DayCount{}
	}
	if sum.Count > 0 {
		sum.PositiveRatio = float64(sum.Positive) / float64(sum.Count)
		total := 0
		for star, n := range res.Aggregations.Rating {
			total += star * n
		}
		sum.AvgRating = math.Round(float64(total)/float64(sum.Count)*100) / 100
	}
	bg, err := s.index.TermCounts(ctx, Query{}, 2000)
	if err != nil {
		return Summary{}, err
	}
	for _, side := range []struct {
		label string
		out   *[]string
		words *[]TermWord
	}{{Positive, &sum.TopPositiveTerms, &sum.TopPositiveWords}, {Negative, &sum.TopNegativeTerms, &sum.TopNegativeWords}} {
		fg, err := s.index.TermCounts(ctx, Query{SKU: sku, Sentiment: side.label}, 200)
		if err != nil {
			return Summary{}, err
		}
		*side.out = significant(fg, bg, 10)
		if *side.words, err = s.termWords(ctx, Query{SKU: sku, Sentiment: side.label, Limit: wordSample}, *side.out); err != nil {
			return Summary{}, err
		}
	}
	return sum, nil
}

// termWords gives each term the word written most often for it in the
// reviews q finds (ties go to the word first in byte order); a term none
// of them holds reads as itself.
func (s *Service) termWords(ctx context.Context, q Query, terms []string) ([]TermWord, error) {
	out := make([]TermWord, len(terms))
	if len(terms) == 0 {
		return out, nil
	}
	res, err := s.index.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	counts := make(map[string]map[string]int, len(terms))
	for _, t := range terms {
		counts[t] = map[string]int{}
	}
	for _, h := range res.Hits {
		tws, err := sentiment.TermWords(h.Text)
		if err != nil {
			return nil, fmt.Errorf("reading the words of review %s: %w", h.ID, err)
		}
		for _, tw := range tws {
			if c, ok := counts[tw.Term]; ok {
				c[tw.Word]++
			}
		}
	}
	for i, t := range terms {
		best, n := t, 0
		for w, c := range counts[t] {
			if c > n || (c == n && w < best) {
				best, n = w, c
			}
		}
		out[i] = TermWord{Term: t, Word: best}
	}
	return out, nil
}

// significant ranks fg's terms by JLH against bg and returns the top n
// that appear in at least two foreground reviews (one review proves little).
func significant(fg, bg TermCounts, n int) []string {
	type scored struct {
		term  string
		score float64
	}
	var all []scored
	for t, f := range fg.Terms {
		if f < 2 || fg.Docs == 0 || bg.Docs == 0 {
			continue
		}
		b := bg.Terms[t]
		if b < f {
			b = f // the background contains the foreground
		}
		fp, bp := float64(f)/float64(fg.Docs), float64(b)/float64(bg.Docs)
		if fp <= bp {
			continue
		}
		all = append(all, scored{t, (fp - bp) * fp / bp})
	}
	slices.SortFunc(all, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return strings.Compare(a.term, b.term)
	})
	out := []string{}
	for _, s := range all[:min(n, len(all))] {
		out = append(out, s.term)
	}
	return out
}

// Similar returns the k reviews nearest to id.
func (s *Service) Similar(ctx context.Context, id string, k int) ([]Neighbour, error) {
	if k < 1 || k > 50 {
		return nil, fmt.Errorf("%w: k must be 1-50", ErrInvalid)
	}
	ns, err := s.index.Similar(ctx, id, k)
	for i := range ns {
		ns[i].CustomerID, ns[i].OrderID = "", ""
	}
	return ns, err
}

package bleveindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/internal/sentiment"
)

// Field names in the Bleve documents.
const (
	fieldText      = "text"       // mercato analyzer, stored for highlighting
	fieldTerms     = "terms"      // Review.Terms as keywords, for term counts
	fieldSKU       = "sku"        // keyword
	fieldLang      = "lang"       // keyword
	fieldSentiment = "sentiment"  // keyword
	fieldFacet     = "facet"      // "2026-11-20|positive|5", for every aggregation
	fieldRating    = "rating"     // numeric
	fieldCreatedAt = "created_at" // datetime, for From/To
	fieldNewest    = "newest"     // sortable keyword, for newest first
	fieldDoc       = "doc"        // the review as JSON, stored, not indexed
)

// maxFacetTerms is the facet size asked of Bleve. Bleve gathers every
// distinct value of the matches anyway; the size only trims its answer, so it
// is set far above the ~3,650 values a year of reviews has (365 days × 2
// labels × 5 ratings) and aggregations are never silently cut.
const maxFacetTerms = 1 << 20

// Options tune an index. The zero value is ready to use.
type Options struct {
	// MaxHits caps Query.Limit (default 10,000, Elasticsearch's default
	// result window), so one request cannot ask for the whole index.
	MaxHits int
	// MaxNeighbours caps k in Similar (default 1,000).
	MaxNeighbours int
	// SimilarWorkers is how many goroutines scan vectors in Similar
	// (default GOMAXPROCS).
	SimilarWorkers int
}

func (o Options) withDefaults() Options {
	if o.MaxHits <= 0 {
		o.MaxHits = 10000
	}
	if o.MaxNeighbours <= 0 {
		o.MaxNeighbours = 1000
	}
	return o
}

// Index is a reviews.Index on Bleve, safe for concurrent use.
type Index struct {
	bleve   bleve.Index
	vectors *vectorStore
	opts    Options
	// writeMu serialises Index calls so the vector log and Bleve see
	// replacements of one id in the same order.
	writeMu sync.Mutex
}

var _ reviews.Index = (*Index)(nil)

// Open opens the index in directory path, creating it if it does not exist.
// The directory holds the Bleve index (bleve/) and the vector log
// (vectors.log).
func Open(path string, opts Options) (*Index, error) {
	if err := warmUp(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("creating the review index directory: %w", err)
	}
	dir := filepath.Join(path, "bleve")
	var (
		b   bleve.Index
		err error
	)
	if _, statErr := os.Stat(dir); statErr == nil {
		b, err = bleve.Open(dir)
	} else {
		var m mapping.IndexMapping
		if m, err = newMapping(); err == nil {
			b, err = bleve.New(dir, m)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening the review index at %s: %w", dir, err)
	}
	opts = opts.withDefaults()
	vs, err := openVectorStore(filepath.Join(path, "vectors.log"), opts.SimilarWorkers)
	if err != nil {
		b.Close()
		return nil, err
	}
	return &Index{bleve: b, vectors: vs, opts: opts}, nil
}

// OpenInMemory returns an index that lives in memory only, for tests and
// short-lived tools.
func OpenInMemory(opts Options) (*Index, error) {
	if err := warmUp(); err != nil {
		return nil, err
	}
	m, err := newMapping()
	if err != nil {
		return nil, err
	}
	b, err := bleve.NewMemOnly(m)
	if err != nil {
		return nil, fmt.Errorf("creating an in-memory review index: %w", err)
	}
	opts = opts.withDefaults()
	return &Index{bleve: b, vectors: newVectorStore(opts.SimilarWorkers), opts: opts}, nil
}

// warmUp loads the Korean dictionary now, so a failure shows at Open rather
// than as silently empty analysis inside Bleve's tokenizer.
func warmUp() error {
	if _, err := sentiment.SearchTerms("배송"); err != nil {
		return fmt.Errorf("loading the review analyzer: %w", err)
	}
	return nil
}

func newMapping() (mapping.IndexMapping, error) {
	im := bleve.NewIndexMapping()
	if err := im.AddCustomAnalyzer(AnalyzerName, analyzerConfig); err != nil {
		return nil, fmt.Errorf("registering the %s analyzer: %w", AnalyzerName, err)
	}
	im.DefaultAnalyzer = keyword.Name
	im.StoreDynamic = false
	im.IndexDynamic = false
	im.DocValuesDynamic = false

	keywordField := func(docValues bool) *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Store = false
		f.IncludeInAll = false
		f.IncludeTermVectors = false
		f.DocValues = docValues
		return f
	}
	text := bleve.NewTextFieldMapping()
	text.Analyzer = AnalyzerName
	text.Store = true              // the highlighter reads the stored text
	text.IncludeTermVectors = true // term offsets, for highlighting
	text.IncludeInAll = false
	text.DocValues = false

	rating := bleve.NewNumericFieldMapping()
	rating.Store = false
	rating.IncludeInAll = false
	rating.DocValues = false // filtered on, never faceted: see fieldFacet

	created := bleve.NewDateTimeFieldMapping()
	created.Store = false
	created.IncludeInAll = false
	created.DocValues = false // filtered on, never sorted on: see fieldNewest

	doc := bleve.NewTextFieldMapping()
	doc.Index = false
	doc.Store = true
	doc.IncludeInAll = false
	doc.IncludeTermVectors = false
	doc.DocValues = false

	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt(fieldText, text)
	dm.AddFieldMappingsAt(fieldTerms, keywordField(true))
	dm.AddFieldMappingsAt(fieldSKU, keywordField(false))
	dm.AddFieldMappingsAt(fieldLang, keywordField(false))
	dm.AddFieldMappingsAt(fieldSentiment, keywordField(false))
	dm.AddFieldMappingsAt(fieldFacet, keywordField(true))
	dm.AddFieldMappingsAt(fieldRating, rating)
	dm.AddFieldMappingsAt(fieldCreatedAt, created)
	dm.AddFieldMappingsAt(fieldNewest, keywordField(true))
	dm.AddFieldMappingsAt(fieldDoc, doc)
	im.DefaultMapping = dm
	if err := im.Validate(); err != nil {
		return nil, fmt.Errorf("validating the review index mapping: %w", err)
	}
	return im, nil
}

// validate rejects reviews the index cannot hold sensibly.
func validate(r reviews.Review) error {
	switch {
	case r.ID == "":
		return errors.New("review has no id")
	case len(r.ID) > maxIDLen:
		return fmt.Errorf("review id is %d bytes, at most %d", len(r.ID), maxIDLen)
	case !utf8.ValidString(r.ID):
		return errors.New("review id is not valid UTF-8")
	case r.Rating < 1 || r.Rating > 5:
		return fmt.Errorf("review %s: rating %d outside 1..5", r.ID, r.Rating)
	case r.CreatedAt.IsZero():
		return fmt.Errorf("review %s has no creation time", r.ID)
	}
	return nil
}

// Index adds or replaces reviews by id. Terms are taken from the review
// when the domain filled them and analysed here otherwise.
func (x *Index) Index(ctx context.Context, rs []reviews.Review) error {
	if len(rs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("indexing reviews: %w", err)
	}
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	batch := x.bleve.NewBatch()
	ids := make([]string, len(rs))
	vecs := make([][]float32, len(rs))
	dims := 0
	for i, r := range rs {
		if err := validate(r); err != nil {
			return fmt.Errorf("indexing reviews: %w", err)
		}
		if err := x.vectors.check(&dims, r.Vector); err != nil {
			return fmt.Errorf("indexing review %s: %w", r.ID, err)
		}
		d, err := document(r)
		if err != nil {
			return fmt.Errorf("indexing review %s: %w", r.ID, err)
		}
		if err := batch.Index(r.ID, d); err != nil {
			return fmt.Errorf("indexing review %s: %w", r.ID, err)
		}
		ids[i], vecs[i] = r.ID, r.Vector
	}
	if err := x.bleve.Batch(batch); err != nil {
		return fmt.Errorf("indexing %d reviews: %w", len(rs), err)
	}
	// Vectors after the documents: a crash in between leaves a review with
	// its previous vector until it is indexed again, never a vector without
	// its review being retrievable.
	if err := x.vectors.put(ids, vecs); err != nil {
		return fmt.Errorf("indexing %d review vectors: %w", len(rs), err)
	}
	return nil
}

// document is the Bleve document for r.
func document(r reviews.Review) (map[string]any, error) {
	terms := r.Terms
	if terms == nil {
		var err error
		if terms, err = sentiment.SearchTerms(r.Text); err != nil {
			return nil, fmt.Errorf("analysing: %w", err)
		}
	}
	stored := r
	stored.Terms, stored.Vector = nil, nil
	stored.CreatedAt = r.CreatedAt.UTC()
	raw, err := json.Marshal(stored)
	if err != nil {
		return nil, fmt.Errorf("encoding: %w", err)
	}
	return map[string]any{
		fieldText:      r.Text,
		fieldTerms:     distinct(terms),
		fieldSKU:       r.SKU,
		fieldLang:      r.Lang,
		fieldSentiment: r.Sentiment.Label,
		fieldFacet:     facetValue(r),
		fieldRating:    float64(r.Rating),
		fieldCreatedAt: r.CreatedAt.UTC(),
		fieldNewest:    newestKey(r),
		fieldDoc:       string(raw),
	}, nil
}

// newestKey sorts like (CreatedAt, ID) as a string. Sorting on it reads one
// keyword doc value per match, where the datetime field holds several
// prefix-coded terms and a tie-break on _id looks up every match's id; at
// 100,000 reviews that made "newest first" three times slower than a text
// query with more matches.
func newestKey(r reviews.Review) string {
	// Flipping the sign bit orders negative Unix times before positive ones.
	return fmt.Sprintf("%016x|%s", uint64(r.CreatedAt.UnixNano())^(1<<63), r.ID)
}

// facetValue packs everything the aggregations count into one keyword.
// Reading doc values dominates Bleve's search time on large result sets
// (70 % in a profile at a million reviews), and one field per document is
// read much faster than three, the numeric one with several prefix-coded
// terms per value.
func facetValue(r reviews.Review) string {
	return r.CreatedAt.UTC().Format(time.DateOnly) + "|" + r.Sentiment.Label + "|" + strconv.Itoa(r.Rating)
}

// distinct drops repeated terms: the terms field answers "does the review
// contain it", one count per review.
func distinct(terms []string) []string {
	out := slices.Clone(terms)
	slices.Sort(out)
	return slices.Compact(out)
}

// filters turns the query's filters into Bleve queries.
func filters(q reviews.Query) []query.Query {
	var out []query.Query
	term := func(field, value string) {
		tq := bleve.NewTermQuery(value)
		tq.SetField(field)
		out = append(out, tq)
	}
	if q.SKU != "" {
		term(fieldSKU, q.SKU)
	}
	if q.Sentiment != "" {
		term(fieldSentiment, q.Sentiment)
	}
	if q.MinRating > 0 {
		lo, in := float64(q.MinRating), true
		rq := bleve.NewNumericRangeInclusiveQuery(&lo, nil, &in, nil)
		rq.SetField(fieldRating)
		out = append(out, rq)
	}
	if !q.From.IsZero() || !q.To.IsZero() {
		in, ex := true, false
		dq := bleve.NewDateRangeInclusiveQuery(q.From, q.To, &in, &ex)
		dq.SetField(fieldCreatedAt)
		out = append(out, dq)
	}
	return out
}

func conjunction(qs []query.Query) query.Query {
	if len(qs) == 0 {
		return bleve.NewMatchAllQuery()
	}
	return bleve.NewConjunctionQuery(qs...)
}

// Search runs q.
func (x *Index) Search(ctx context.Context, q reviews.Query) (reviews.Result, error) {
	qs := filters(q)
	if q.Text != "" {
		mq := bleve.NewMatchQuery(q.Text)
		mq.SetField(fieldText)
		mq.Analyzer = AnalyzerName
		// Every term must match: "배송 늦다" is about late delivery, not
		// about delivery or lateness.
		mq.SetOperator(query.MatchQueryOperatorAnd)
		qs = append([]query.Query{mq}, qs...)
	}
	size := min(max(q.Limit, 0), x.opts.MaxHits)
	req := bleve.NewSearchRequestOptions(conjunction(qs), size, 0, false)
	req.Fields = []string{fieldDoc}
	if q.Text == "" {
		req.SortBy([]string{"-" + fieldNewest})
	} else {
		req.Highlight = bleve.NewHighlightWithStyle("html")
		req.Highlight.AddField(fieldText)
	}
	req.AddFacet(fieldFacet, bleve.NewFacetRequest(fieldFacet, maxFacetTerms))

	res, err := x.bleve.SearchInContext(ctx, req)
	if err != nil {
		return reviews.Result{}, fmt.Errorf("searching reviews: %w", err)
	}
	out := reviews.Result{Total: int(res.Total), Hits: make([]reviews.Hit, 0, len(res.Hits))}
	for _, h := range res.Hits {
		r, err := storedReview(h)
		if err != nil {
			return reviews.Result{}, err
		}
		hl := h.Fragments[fieldText]
		if hl == nil {
			hl = []string{}
		}
		out.Hits = append(out.Hits, reviews.Hit{Review: r, Score: h.Score, Highlights: hl})
	}
	out.Aggregations = aggregations(res.Facets)
	return out, nil
}

func storedReview(h *search.DocumentMatch) (reviews.Review, error) {
	raw, ok := h.Fields[fieldDoc].(string)
	if !ok {
		return reviews.Review{}, fmt.Errorf("review %s: stored document missing", h.ID)
	}
	var r reviews.Review
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return reviews.Review{}, fmt.Errorf("review %s: decoding the stored document: %w", h.ID, err)
	}
	return r, nil
}

// aggregations unpacks the facet of fieldFacet values into the port's
// aggregations, with every sentiment and rating key present.
func aggregations(fs search.FacetResults) reviews.Aggregations {
	a := reviews.Aggregations{
		Sentiment: map[string]int{reviews.Positive: 0, reviews.Negative: 0},
		Rating:    map[int]int{1: 0, 2: 0, 3: 0, 4: 0, 5: 0},
		ByDay:     []reviews.DayCount{},
	}
	f := fs[fieldFacet]
	if f == nil || f.Terms == nil {
		return a
	}
	days := map[string]*reviews.DayCount{}
	for _, t := range f.Terms.Terms() {
		parts := strings.Split(t.Term, "|")
		if len(parts) != 3 {
			continue
		}
		d, label := parts[0], parts[1]
		if _, ok := a.Sentiment[label]; ok {
			a.Sentiment[label] += t.Count
		}
		if r, err := strconv.Atoi(parts[2]); err == nil {
			if _, ok := a.Rating[r]; ok {
				a.Rating[r] += t.Count
			}
		}
		dc := days[d]
		if dc == nil {
			dc = &reviews.DayCount{Date: d}
			days[d] = dc
		}
		dc.Count += t.Count
		switch label {
		case reviews.Positive:
			dc.Positive += t.Count
		case reviews.Negative:
			dc.Negative += t.Count
		}
	}
	for _, dc := range days {
		a.ByDay = append(a.ByDay, *dc)
	}
	slices.SortFunc(a.ByDay, func(x, y reviews.DayCount) int { return strings.Compare(x.Date, y.Date) })
	return a
}

// TermCounts returns how many reviews matching q's filters contain each of
// the size most common terms.
func (x *Index) TermCounts(ctx context.Context, q reviews.Query, size int) (reviews.TermCounts, error) {
	if size <= 0 {
		return reviews.TermCounts{}, fmt.Errorf("term counts: size %d must be positive", size)
	}
	req := bleve.NewSearchRequestOptions(conjunction(filters(q)), 0, 0, false)
	req.AddFacet(fieldTerms, bleve.NewFacetRequest(fieldTerms, size))
	res, err := x.bleve.SearchInContext(ctx, req)
	if err != nil {
		return reviews.TermCounts{}, fmt.Errorf("counting review terms: %w", err)
	}
	out := reviews.TermCounts{Docs: int(res.Total), Terms: map[string]int{}}
	if f := res.Facets[fieldTerms]; f != nil && f.Terms != nil {
		for _, t := range f.Terms.Terms() {
			out.Terms[t.Term] = t.Count
		}
	}
	return out, nil
}

// Similar returns the k reviews nearest to id by cosine similarity, found by
// scanning every vector (see docs/search.md for why not HNSW).
func (x *Index) Similar(ctx context.Context, id string, k int) ([]reviews.Neighbour, error) {
	if id == "" {
		return nil, errors.New("similar reviews: empty id")
	}
	if k <= 0 {
		return nil, fmt.Errorf("similar reviews: k %d must be positive", k)
	}
	k = min(k, x.opts.MaxNeighbours)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("similar reviews: %w", err)
	}
	near, ok := x.vectors.nearest(id, k)
	if !ok {
		// No vector: either no such review or one indexed without a vector.
		doc, err := x.bleve.Document(id)
		if err != nil {
			return nil, fmt.Errorf("similar reviews of %s: %w", id, err)
		}
		if doc == nil {
			return nil, fmt.Errorf("similar reviews of %s: %w", id, reviews.ErrNotFound)
		}
		return []reviews.Neighbour{}, nil
	}
	if len(near) == 0 {
		return []reviews.Neighbour{}, nil
	}
	ids := make([]string, len(near))
	for i, n := range near {
		ids[i] = n.id
	}
	req := bleve.NewSearchRequestOptions(bleve.NewDocIDQuery(ids), len(ids), 0, false)
	req.Fields = []string{fieldDoc}
	res, err := x.bleve.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("similar reviews of %s: fetching neighbours: %w", id, err)
	}
	byID := make(map[string]reviews.Review, len(res.Hits))
	for _, h := range res.Hits {
		r, err := storedReview(h)
		if err != nil {
			return nil, fmt.Errorf("similar reviews of %s: %w", id, err)
		}
		byID[h.ID] = r
	}
	out := make([]reviews.Neighbour, 0, len(near))
	for _, n := range near {
		// A vector whose review is gone (a crash between the two writes)
		// is skipped rather than returned half-empty.
		if r, ok := byID[n.id]; ok {
			out = append(out, reviews.Neighbour{Review: r, Similarity: n.sim})
		}
	}
	return out, nil
}

// Close closes the index.
func (x *Index) Close() error {
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	return errors.Join(x.bleve.Close(), x.vectors.close())
}

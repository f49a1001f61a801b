package esindex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/internal/sentiment"
)

// Index is the Elasticsearch review index. It is safe for concurrent use.
type Index struct {
	cfg Config
	tp  *elastictransport.Client
	log *slog.Logger
}

var _ reviews.Index = (*Index)(nil)

// New builds the adapter. It does not contact the cluster; call
// EnsureTemplate at startup.
func New(cfg Config) (*Index, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	urls, user, pass, err := parseAddresses(cfg.Addresses)
	if err != nil {
		return nil, err
	}
	if cfg.Username == "" && user != "" {
		cfg.Username, cfg.Password = user, pass
	}
	opts := []elastictransport.Option{
		elastictransport.WithURLs(urls...),
		elastictransport.WithUserAgent("mercato-esindex"),
	}
	switch {
	case cfg.APIKey != "":
		opts = append(opts, elastictransport.WithAPIKey(cfg.APIKey))
	case cfg.Username != "":
		opts = append(opts, elastictransport.WithBasicAuth(cfg.Username, cfg.Password))
	}
	if cfg.MaxRetries < 0 {
		opts = append(opts, elastictransport.WithDisableRetry())
	} else {
		base := cfg.RetryBackoff
		opts = append(opts,
			// 429 is added to the client's default 502/503/504: a cluster
			// shedding load asks to be called again later.
			elastictransport.WithRetry(cfg.MaxRetries, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
			elastictransport.WithRetryBackoff(func(attempt int) time.Duration { return backoff(base, attempt) }),
		)
	}
	if cfg.Transport != nil {
		opts = append(opts, elastictransport.WithTransport(cfg.Transport))
	}
	tp, err := elastictransport.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client: %w", err)
	}
	return &Index{cfg: cfg, tp: tp, log: cfg.Logger}, nil
}

// Close releases the client's connections.
func (x *Index) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := x.tp.Close(ctx); err != nil && !errors.Is(err, elastictransport.ErrAlreadyClosed) {
		return fmt.Errorf("closing elasticsearch client: %w", err)
	}
	return nil
}

// answer is a response read to the end.
type answer struct {
	status int
	body   []byte
}

// do sends req and reads the whole answer. Transport failures (after the
// transport's own retries) are errors; any HTTP status is returned for the
// caller to judge.
func (x *Index) do(ctx context.Context, op string, req esapi.Request) (answer, error) {
	res, err := req.Do(ctx, x.tp)
	if err != nil {
		return answer{}, fmt.Errorf("elasticsearch %s: %w", op, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{}, fmt.Errorf("elasticsearch %s: reading answer: %w", op, err)
	}
	return answer{status: res.StatusCode, body: body}, nil
}

// ok returns an *Error for a non-2xx answer.
func (a answer) ok(op string) error {
	if a.status < 300 {
		return nil
	}
	return fmt.Errorf("elasticsearch %s: %w", op, decodeError(a.status, bytes.NewReader(a.body)))
}

func jsonBody(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	return bytes.NewReader(b), nil
}

// EnsureTemplate installs the index template, creates the index if it is
// missing (so searches before the first review see an empty index, not a
// 404) and, if it already existed, adds any new fields to its mapping. A
// mapping change Elasticsearch cannot apply in place (other dims, say) is an
// error: such an index has to be reindexed.
func (x *Index) EnsureTemplate(ctx context.Context) error {
	body, err := jsonBody(templateBody(x.cfg))
	if err != nil {
		return err
	}
	a, err := x.do(ctx, "put index template", esapi.IndicesPutIndexTemplateRequest{Name: x.cfg.Index, Body: body})
	if err != nil {
		return err
	}
	if err := a.ok("put index template"); err != nil {
		return err
	}
	a, err = x.do(ctx, "create index", esapi.IndicesCreateRequest{Index: x.cfg.Index})
	if err != nil {
		return err
	}
	if a.status < 300 {
		return nil
	}
	if e := decodeError(a.status, bytes.NewReader(a.body)); e.Type != "resource_already_exists_exception" {
		return fmt.Errorf("elasticsearch create index: %w", e)
	}
	body, err = jsonBody(mappings(x.cfg.Dims))
	if err != nil {
		return err
	}
	a, err = x.do(ctx, "put mapping", esapi.IndicesPutMappingRequest{Index: []string{x.cfg.Index}, Body: body})
	if err != nil {
		return err
	}
	return a.ok("put mapping")
}

// DeleteIndex drops the index and its template (test clean-up, reindexing).
// Missing ones are not an error.
func (x *Index) DeleteIndex(ctx context.Context) error {
	a, err := x.do(ctx, "delete index", esapi.IndicesDeleteRequest{Index: []string{x.cfg.Index}})
	if err != nil {
		return err
	}
	if a.status != http.StatusNotFound {
		if err := a.ok("delete index"); err != nil {
			return err
		}
	}
	a, err = x.do(ctx, "delete index template", esapi.IndicesDeleteIndexTemplateRequest{Name: x.cfg.Index})
	if err != nil {
		return err
	}
	if a.status != http.StatusNotFound {
		return a.ok("delete index template")
	}
	return nil
}

// Index adds or replaces reviews by id through the Bulk API, in requests of
// at most BulkDocs reviews / BulkBytes bytes. Reviews the cluster rejects as
// overloaded are resent with backoff; the rest of the failures are returned
// together as a *BulkError once every review has been tried. Indexing is
// idempotent by id, so after any error the caller can resend the whole call.
func (x *Index) Index(ctx context.Context, rs []reviews.Review) error {
	var (
		failed []ItemError
		size   int // bytes in the batch
		ids    []string
		lines  [][]byte
	)
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		f, err := x.bulk(ctx, ids, lines)
		failed = append(failed, f...)
		ids, lines, size = ids[:0], lines[:0], 0
		return err
	}
	// Bad input refuses the whole call before anything is written.
	for i, r := range rs {
		if r.ID == "" {
			return fmt.Errorf("elasticsearch index: review %d of %d has no id", i+1, len(rs))
		}
		if len(r.Vector) != 0 && len(r.Vector) != x.cfg.Dims {
			return fmt.Errorf("elasticsearch index: review %q has a %d-dim vector, index wants %d", r.ID, len(r.Vector), x.cfg.Dims)
		}
	}
	for _, r := range rs {
		line, err := bulkAction(x.cfg.Index, r)
		if err != nil {
			return err
		}
		if len(ids) > 0 && (len(ids) >= x.cfg.BulkDocs || size+len(line) > x.cfg.BulkBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		size += len(line)
		ids = append(ids, r.ID)
		lines = append(lines, line)
	}
	if err := flush(); err != nil {
		return err
	}
	if len(failed) > 0 {
		return &BulkError{Total: len(rs), Failed: failed}
	}
	return nil
}

// bulk sends one batch, resending the actions rejected as overloaded, and
// returns the actions that failed for good.
func (x *Index) bulk(ctx context.Context, ids []string, lines [][]byte) ([]ItemError, error) {
	var failed []ItemError
	for attempt := 0; ; attempt++ {
		var body bytes.Buffer
		for _, l := range lines {
			body.Write(l)
		}
		a, err := x.do(ctx, "bulk", esapi.BulkRequest{Index: x.cfg.Index, Body: &body, Refresh: x.cfg.Refresh})
		if err != nil {
			return failed, err
		}
		if err := a.ok("bulk"); err != nil {
			return failed, err
		}
		fs, err := parseBulk(a.body, ids)
		if err != nil {
			return failed, err
		}
		var (
			retryIDs   []string
			retryLines [][]byte
		)
		for _, f := range fs {
			if f.retryable && attempt < x.cfg.MaxRetries {
				retryIDs = append(retryIDs, ids[f.pos])
				retryLines = append(retryLines, lines[f.pos])
				continue
			}
			failed = append(failed, f.ItemError)
		}
		if len(retryIDs) == 0 {
			return failed, nil
		}
		x.log.DebugContext(ctx, "elasticsearch bulk: resending rejected reviews", "reviews", len(retryIDs), "attempt", attempt+1)
		t := time.NewTimer(backoff(x.cfg.RetryBackoff, attempt+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return failed, fmt.Errorf("elasticsearch bulk: %d reviews waiting for a retry: %w", len(retryIDs), ctx.Err())
		case <-t.C:
		}
		ids, lines = retryIDs, retryLines
	}
}

// Search runs q: the query text is analysed by sentiment.SearchTerms, as the
// reviews were.
func (x *Index) Search(ctx context.Context, q reviews.Query) (reviews.Result, error) {
	var terms []string
	if q.Text != "" {
		var err error
		if terms, err = sentiment.SearchTerms(q.Text); err != nil {
			return reviews.Result{}, fmt.Errorf("analysing query: %w", err)
		}
		if len(terms) == 0 {
			// Only stopwords: nothing to match, no need to ask.
			return emptyResult(), nil
		}
	}
	body, err := x.search(ctx, "search", searchBody(q, terms))
	if err != nil {
		return reviews.Result{}, err
	}
	res, err := parseSearch(body)
	if err != nil {
		return reviews.Result{}, fmt.Errorf("elasticsearch search: %w", err)
	}
	return res, nil
}

// TermCounts returns how many reviews matching q's filters contain each of
// the size most common terms.
func (x *Index) TermCounts(ctx context.Context, q reviews.Query, size int) (reviews.TermCounts, error) {
	q.Text = ""
	body, err := x.search(ctx, "term counts", termCountsBody(q, max(size, 1), nil))
	if err != nil {
		return reviews.TermCounts{}, err
	}
	tc, exact, err := parseTermCounts(body)
	if err != nil {
		return reviews.TermCounts{}, fmt.Errorf("elasticsearch term counts: %w", err)
	}
	if size <= 0 {
		clear(tc.Terms)
		return tc, nil
	}
	if exact || len(tc.Terms) == 0 {
		return tc, nil
	}
	// With several shards a term outside one shard's top list is counted
	// short. The port promises exact counts, so count the chosen terms again,
	// by name: every shard then reports each of them.
	include := slices.Sorted(maps.Keys(tc.Terms))
	body, err = x.search(ctx, "term counts", termCountsBody(q, size, include))
	if err != nil {
		return reviews.TermCounts{}, err
	}
	if tc, _, err = parseTermCounts(body); err != nil {
		return reviews.TermCounts{}, fmt.Errorf("elasticsearch term counts: %w", err)
	}
	return tc, nil
}

// Similar returns the k reviews whose vectors are nearest review id's, by
// approximate kNN over the HNSW graph. A review stored without a vector has
// no neighbours.
func (x *Index) Similar(ctx context.Context, id string, k int) ([]reviews.Neighbour, error) {
	if id == "" {
		return nil, errors.New("elasticsearch similar: empty review id")
	}
	a, err := x.do(ctx, "get review", esapi.GetRequest{
		Index: x.cfg.Index,
		// esapi pastes the id into the path as is.
		DocumentID:     url.PathEscape(id),
		SourceIncludes: []string{fieldVector},
	})
	if err != nil {
		return nil, err
	}
	if a.status == http.StatusNotFound {
		// Both "no such review" and "no such index" (found: false or an
		// index_not_found_exception) mean the review is not indexed.
		return nil, reviews.ErrNotFound
	}
	if err := a.ok("get review"); err != nil {
		return nil, err
	}
	vec, found, err := parseVector(a.body)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch get review: %w", err)
	}
	if !found {
		return nil, reviews.ErrNotFound
	}
	if len(vec) == 0 || k <= 0 {
		return []reviews.Neighbour{}, nil
	}
	body, err := x.search(ctx, "knn", knnBody(id, vec, min(k, maxCandidates)))
	if err != nil {
		return nil, err
	}
	ns, err := parseNeighbours(body)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch knn: %w", err)
	}
	return ns, nil
}

// search posts a search body and returns the 2xx answer.
func (x *Index) search(ctx context.Context, op string, q any) ([]byte, error) {
	body, err := jsonBody(q)
	if err != nil {
		return nil, err
	}
	a, err := x.do(ctx, op, esapi.SearchRequest{Index: []string{x.cfg.Index}, Body: body})
	if err != nil {
		return nil, err
	}
	if err := a.ok(op); err != nil {
		return nil, err
	}
	return a.body, nil
}

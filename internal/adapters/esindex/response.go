package esindex

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mercato-platform/mercato/internal/reviews"
)

// Error is an error answer from Elasticsearch. Match it with errors.As to
// read the status (401 bad credentials, 403 missing privilege, 404 missing
// index, 429 still overloaded after the retries, ...).
type Error struct {
	Status int
	Type   string // e.g. security_exception, index_not_found_exception
	Reason string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("elasticsearch: %d %s", e.Status, http.StatusText(e.Status))
	if e.Type != "" {
		msg += ": " + e.Type
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Retryable reports whether a later attempt may succeed (the cluster was
// overloaded or unavailable rather than the request wrong).
func (e *Error) Retryable() bool { return retryableStatus(e.Status) }

func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// errorBody is Elasticsearch's error answer:
// {"error":{"type":..,"reason":..,"root_cause":[..]},"status":N}. Some
// answers (a 404 from a proxy, an old node) carry a plain string instead.
type errorBody struct {
	Error  json.RawMessage `json:"error"`
	Status int             `json:"status"`
}

type errorCause struct {
	Type      string       `json:"type"`
	Reason    string       `json:"reason"`
	RootCause []errorCause `json:"root_cause"`
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// decodeError builds an *Error from a non-2xx answer.
func decodeError(status int, body io.Reader) *Error {
	e := &Error{Status: status}
	raw, err := io.ReadAll(io.LimitReader(body, maxErrorBody))
	if err != nil || len(raw) == 0 {
		return e
	}
	var eb errorBody
	if json.Unmarshal(raw, &eb) != nil || len(eb.Error) == 0 {
		return e
	}
	var cause errorCause
	if json.Unmarshal(eb.Error, &cause) == nil {
		e.Type, e.Reason = cause.Type, cause.Reason
		// The root cause names what actually failed (a mapping conflict
		// under a generic illegal_argument_exception, say).
		if e.Reason == "" && len(cause.RootCause) > 0 {
			e.Type, e.Reason = cause.RootCause[0].Type, cause.RootCause[0].Reason
		}
		return e
	}
	var s string
	if json.Unmarshal(eb.Error, &s) == nil {
		e.Reason = s
	}
	return e
}

// shards is the _shards section of a search answer.
type shards struct {
	Total    int `json:"total"`
	Failed   int `json:"failed"`
	Failures []struct {
		Reason errorCause `json:"reason"`
	} `json:"failures"`
}

// partial reports failed shards as an error: a search that silently missed
// a shard would show wrong counts in every aggregation.
func (s shards) partial() error {
	if s.Failed == 0 {
		return nil
	}
	reason := ""
	if len(s.Failures) > 0 {
		reason = ": " + s.Failures[0].Reason.Type + ": " + s.Failures[0].Reason.Reason
	}
	return fmt.Errorf("elasticsearch: %d of %d shards failed%s", s.Failed, s.Total, reason)
}

type searchHit struct {
	ID        string              `json:"_id"`
	Score     *float64            `json:"_score"`
	Source    json.RawMessage     `json:"_source"`
	Highlight map[string][]string `json:"highlight"`
}

type bucket struct {
	Key         json.RawMessage `json:"key"`
	KeyAsString string          `json:"key_as_string"`
	DocCount    int             `json:"doc_count"`
	Sentiment   *termsAgg       `json:"sentiment"`
}

type termsAgg struct {
	// DocCountError is the most a bucket's count may be short, summed over
	// shards that did not report it; 0 means every count is exact.
	DocCountError int      `json:"doc_count_error_upper_bound"`
	Buckets       []bucket `json:"buckets"`
}

type searchResponse struct {
	Shards shards `json:"_shards"`
	Hits   struct {
		Total *struct {
			Value    int    `json:"value"`
			Relation string `json:"relation"`
		} `json:"total"`
		Hits []searchHit `json:"hits"`
	} `json:"hits"`
	Aggregations struct {
		Sentiment termsAgg `json:"sentiment"`
		Rating    termsAgg `json:"rating"`
		ByDay     termsAgg `json:"by_day"`
		Terms     termsAgg `json:"terms"`
	} `json:"aggregations"`
}

func decodeSearch(body []byte) (searchResponse, error) {
	var sr searchResponse
	if err := json.Unmarshal(body, &sr); err != nil {
		return sr, fmt.Errorf("decoding search answer: %w", err)
	}
	if err := sr.Shards.partial(); err != nil {
		return sr, err
	}
	if sr.Hits.Total == nil {
		return sr, errors.New("decoding search answer: no hits.total (was track_total_hits dropped?)")
	}
	return sr, nil
}

// keyString reads a bucket key that is a JSON string or number.
func (b bucket) keyString() string {
	var s string
	if json.Unmarshal(b.Key, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(b.Key))
}

// keyInt reads a numeric bucket key (terms on an integer field).
func (b bucket) keyInt() (int, bool) {
	f, err := strconv.ParseFloat(b.keyString(), 64)
	if err != nil || f != float64(int(f)) {
		return 0, false
	}
	return int(f), true
}

// emptyResult is the answer with no match: every aggregation key present,
// as the port promises.
func emptyResult() reviews.Result {
	return reviews.Result{
		Hits: []reviews.Hit{},
		Aggregations: reviews.Aggregations{
			Sentiment: map[string]int{reviews.Positive: 0, reviews.Negative: 0},
			Rating:    map[int]int{1: 0, 2: 0, 3: 0, 4: 0, 5: 0},
			ByDay:     []reviews.DayCount{},
		},
	}
}

// parseSearch turns a search answer into the port's Result.
func parseSearch(body []byte) (reviews.Result, error) {
	sr, err := decodeSearch(body)
	if err != nil {
		return reviews.Result{}, err
	}
	res := emptyResult()
	res.Total = sr.Hits.Total.Value
	for _, h := range sr.Hits.Hits {
		var d document
		if err := json.Unmarshal(h.Source, &d); err != nil {
			return reviews.Result{}, fmt.Errorf("decoding review %q: %w", h.ID, err)
		}
		if d.ID == "" {
			d.ID = h.ID
		}
		hit := reviews.Hit{Review: d.review(), Highlights: []string{}}
		if h.Score != nil {
			hit.Score = *h.Score
		}
		if hl := h.Highlight[fieldText]; hl != nil {
			hit.Highlights = hl
		}
		res.Hits = append(res.Hits, hit)
	}
	a := sr.Aggregations
	for _, b := range a.Sentiment.Buckets {
		if k := b.keyString(); k == reviews.Positive || k == reviews.Negative {
			res.Aggregations.Sentiment[k] = b.DocCount
		}
	}
	for _, b := range a.Rating.Buckets {
		if r, ok := b.keyInt(); ok && r >= 1 && r <= 5 {
			res.Aggregations.Rating[r] = b.DocCount
		}
	}
	for _, b := range a.ByDay.Buckets {
		day, err := bucketDay(b)
		if err != nil {
			return reviews.Result{}, err
		}
		dc := reviews.DayCount{Date: day, Count: b.DocCount}
		if b.Sentiment != nil {
			for _, s := range b.Sentiment.Buckets {
				switch s.keyString() {
				case reviews.Positive:
					dc.Positive = s.DocCount
				case reviews.Negative:
					dc.Negative = s.DocCount
				}
			}
		}
		res.Aggregations.ByDay = append(res.Aggregations.ByDay, dc)
	}
	return res, nil
}

// bucketDay is a date_histogram bucket's UTC day. key_as_string is asked for
// in yyyy-MM-dd; the epoch-millis key is the fallback if a proxy strips it.
func bucketDay(b bucket) (string, error) {
	if _, err := time.Parse(time.DateOnly, b.KeyAsString); err == nil {
		return b.KeyAsString, nil
	}
	ms, err := strconv.ParseInt(b.keyString(), 10, 64)
	if err != nil {
		return "", fmt.Errorf("decoding by_day bucket key %q: not a date", b.KeyAsString)
	}
	return time.UnixMilli(ms).UTC().Format(time.DateOnly), nil
}

// parseTermCounts reads a term counts answer; exact is false when some
// count may be short (a term missing from some shard's top list).
func parseTermCounts(body []byte) (tc reviews.TermCounts, exact bool, err error) {
	sr, err := decodeSearch(body)
	if err != nil {
		return reviews.TermCounts{}, false, err
	}
	agg := sr.Aggregations.Terms
	tc = reviews.TermCounts{Docs: sr.Hits.Total.Value, Terms: make(map[string]int, len(agg.Buckets))}
	for _, b := range agg.Buckets {
		tc.Terms[b.keyString()] = b.DocCount
	}
	return tc, agg.DocCountError == 0, nil
}

// getResponse is a GET _doc answer.
type getResponse struct {
	Found  bool            `json:"found"`
	Source json.RawMessage `json:"_source"`
}

// parseVector reads the vector out of a GET _doc answer; nil when the review
// has none.
func parseVector(body []byte) ([]float32, bool, error) {
	var g getResponse
	if err := json.Unmarshal(body, &g); err != nil {
		return nil, false, fmt.Errorf("decoding review: %w", err)
	}
	if !g.Found {
		return nil, false, nil
	}
	var d struct {
		Vector []float32 `json:"vector"`
	}
	if len(g.Source) > 0 {
		if err := json.Unmarshal(g.Source, &d); err != nil {
			return nil, false, fmt.Errorf("decoding review vector: %w", err)
		}
	}
	return d.Vector, true, nil
}

// parseNeighbours reads a knn answer. Elasticsearch scores cosine as
// (1 + cos) / 2 so that scores are positive; the port speaks cosine.
func parseNeighbours(body []byte) ([]reviews.Neighbour, error) {
	sr, err := decodeSearch(body)
	if err != nil {
		return nil, err
	}
	out := make([]reviews.Neighbour, 0, len(sr.Hits.Hits))
	for _, h := range sr.Hits.Hits {
		var d document
		if err := json.Unmarshal(h.Source, &d); err != nil {
			return nil, fmt.Errorf("decoding review %q: %w", h.ID, err)
		}
		if d.ID == "" {
			d.ID = h.ID
		}
		n := reviews.Neighbour{Review: d.review()}
		if h.Score != nil {
			n.Similarity = min(max(2*(*h.Score)-1, -1), 1)
		}
		out = append(out, n)
	}
	return out, nil
}

// bulkResponse is a bulk answer: one item per action, in request order.
type bulkResponse struct {
	Errors bool `json:"errors"`
	Items  []map[string]struct {
		ID     string      `json:"_id"`
		Status int         `json:"status"`
		Error  *errorCause `json:"error"`
	} `json:"items"`
}

// ItemError is one review a bulk request did not index.
type ItemError struct {
	ID     string
	Status int
	Type   string
	Reason string
}

// BulkError lists the reviews of an Index call that were not indexed after
// the retries; the others were. Match it with errors.As.
type BulkError struct {
	Total  int // reviews in the call
	Failed []ItemError
}

func (e *BulkError) Error() string {
	if len(e.Failed) == 0 {
		return "elasticsearch bulk: no failures"
	}
	f := e.Failed[0]
	return fmt.Sprintf("elasticsearch bulk: %d of %d reviews not indexed; first: review %q: %d %s: %s",
		len(e.Failed), e.Total, f.ID, f.Status, f.Type, f.Reason)
}

// bulkFailure is one action of a bulk request that was not applied.
type bulkFailure struct {
	pos       int // action's position in the request
	retryable bool
	ItemError
}

// parseBulk reads a bulk answer for the reviews ids (in request order) and
// returns the actions that failed.
func parseBulk(body []byte, ids []string) ([]bulkFailure, error) {
	var br bulkResponse
	if err := json.Unmarshal(body, &br); err != nil {
		return nil, fmt.Errorf("decoding bulk answer: %w", err)
	}
	if len(br.Items) != len(ids) {
		return nil, fmt.Errorf("decoding bulk answer: %d items for %d reviews", len(br.Items), len(ids))
	}
	if !br.Errors {
		return nil, nil
	}
	var out []bulkFailure
	for i, item := range br.Items {
		for _, res := range item { // one key: the action ("index")
			if res.Error == nil && res.Status < 300 {
				continue
			}
			f := bulkFailure{pos: i, ItemError: ItemError{ID: ids[i], Status: res.Status}}
			if res.Error != nil {
				f.Type, f.Reason = res.Error.Type, res.Error.Reason
			}
			// 429 es_rejected_execution_exception is a full write queue; the
			// same review is accepted a moment later. 503 is a shard that is
			// not yet allocated.
			f.retryable = res.Status == http.StatusTooManyRequests || res.Status == http.StatusServiceUnavailable
			out = append(out, f)
		}
	}
	return out, nil
}

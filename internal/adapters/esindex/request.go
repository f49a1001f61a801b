package esindex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mercato-platform/mercato/internal/reviews"
)

// obj is a JSON object of the query DSL; maps marshal with sorted keys, so
// request bodies are deterministic and golden-testable.
type obj = map[string]any

// Field names in the index.
const (
	fieldID             = "id"
	fieldSKU            = "sku"
	fieldRating         = "rating"
	fieldText           = "text"
	fieldLang           = "lang"
	fieldSentiment      = "sentiment"
	fieldSentimentScore = "sentiment_score"
	fieldOrderID        = "order_id"
	fieldCustomerID     = "customer_id"
	fieldCreatedAt      = "created_at"
	fieldTerms          = "terms"
	fieldTermsKeyword   = "terms.keyword"
	fieldVector         = "vector"
)

// Limits Elasticsearch enforces on a search.
const (
	maxResultWindow = 10000 // index.max_result_window default
	maxCandidates   = 10000 // knn num_candidates limit
)

// document is a review as stored in _source.
type document struct {
	ID             string    `json:"id"`
	SKU            string    `json:"sku"`
	Rating         int       `json:"rating"`
	Text           string    `json:"text"`
	Lang           string    `json:"lang"`
	Sentiment      string    `json:"sentiment"`
	SentimentScore float64   `json:"sentiment_score"`
	OrderID        string    `json:"order_id,omitempty"`
	CustomerID     string    `json:"customer_id,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	Terms          []string  `json:"terms"`
	Vector         []float32 `json:"vector,omitempty"`
}

func toDocument(r reviews.Review) document {
	terms := r.Terms
	if terms == nil {
		terms = []string{}
	}
	d := document{
		ID: r.ID, SKU: r.SKU, Rating: r.Rating, Text: r.Text, Lang: r.Lang,
		Sentiment: r.Sentiment.Label, SentimentScore: r.Sentiment.Score,
		OrderID: r.OrderID, CustomerID: r.CustomerID,
		CreatedAt: r.CreatedAt.UTC(), Terms: terms,
	}
	// A zero vector has no direction: Elasticsearch refuses it for cosine, and
	// it has no neighbours anyway, so the review is stored without one.
	for _, x := range r.Vector {
		if x != 0 {
			d.Vector = r.Vector
			break
		}
	}
	return d
}

// review is the stored review as the port returns it: without Terms and
// Vector, which are the index's business.
func (d document) review() reviews.Review {
	return reviews.Review{
		ID: d.ID, SKU: d.SKU, Rating: d.Rating, Text: d.Text, Lang: d.Lang,
		Sentiment: reviews.Sentiment{Label: d.Sentiment, Score: d.SentimentScore},
		OrderID:   d.OrderID, CustomerID: d.CustomerID,
		CreatedAt: d.CreatedAt.UTC(),
	}
}

// mappings is the index mapping. dynamic: strict makes a field this code
// does not know a loud write error instead of a silently guessed mapping.
func mappings(dims int) obj {
	keyword := obj{"type": "keyword"}
	return obj{
		"dynamic": "strict",
		"properties": obj{
			fieldID:        keyword,
			fieldSKU:       keyword,
			fieldRating:    obj{"type": "integer"},
			fieldLang:      keyword,
			fieldSentiment: keyword,
			// Read back only, never searched or aggregated.
			fieldSentimentScore: obj{"type": "float", "index": false},
			fieldOrderID:        keyword,
			fieldCustomerID:     keyword,
			fieldCreatedAt:      obj{"type": "date"},
			// Standard analysis for English phrasing and for highlighting;
			// offsets make the unified highlighter read postings instead of
			// re-analysing reviews of up to 5000 characters.
			fieldText: obj{"type": "text", "analyzer": "standard", "index_options": "offsets"},
			// Already analysed by sentiment.SearchTerms: the cluster only
			// splits on whitespace (no nori plugin). Aggregations read the
			// keyword sub-field, so fielddata stays off.
			fieldTerms: obj{
				"type": "text", "analyzer": "whitespace", "fielddata": false,
				"fields": obj{"keyword": obj{"type": "keyword", "ignore_above": 256}},
			},
			// Plain float HNSW: Elasticsearch 8.14+ defaults to int8_hnsw,
			// whose quantised scores would not be the cosine the port promises.
			fieldVector: obj{
				"type": "dense_vector", "dims": dims, "index": true, "similarity": "cosine",
				"index_options": obj{"type": "hnsw", "m": 16, "ef_construction": 100},
			},
		},
	}
}

func settings(cfg Config) obj {
	s := obj{}
	if cfg.Shards > 0 {
		s["number_of_shards"] = cfg.Shards
	}
	if cfg.Replicas != nil {
		s["number_of_replicas"] = *cfg.Replicas
	}
	return s
}

// templateBody is the composable index template (PUT _index_template/<name>).
func templateBody(cfg Config) obj {
	return obj{
		"index_patterns": []string{cfg.Index},
		// Above the built-in templates (priority 100) so ours wins if a
		// pattern ever overlaps.
		"priority": 200,
		"template": obj{"settings": settings(cfg), "mappings": mappings(cfg.Dims)},
		"_meta":    obj{"description": "Mercato review search index", "schema_version": 1},
	}
}

// bulkAction is one index action and its source, the two NDJSON lines of a
// bulk request.
func bulkAction(index string, r reviews.Review) ([]byte, error) {
	meta, err := json.Marshal(obj{"index": obj{"_index": index, "_id": r.ID}})
	if err != nil {
		return nil, fmt.Errorf("encoding bulk action for review %q: %w", r.ID, err)
	}
	src, err := json.Marshal(toDocument(r))
	if err != nil {
		return nil, fmt.Errorf("encoding review %q: %w", r.ID, err)
	}
	var b bytes.Buffer
	b.Grow(len(meta) + len(src) + 2)
	b.Write(meta)
	b.WriteByte('\n')
	b.Write(src)
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// filters are the query's non-text conditions, as bool filter clauses
// (cached, unscored).
func filters(q reviews.Query) []any {
	var fs []any
	if q.SKU != "" {
		fs = append(fs, obj{"term": obj{fieldSKU: q.SKU}})
	}
	if q.Sentiment != "" {
		fs = append(fs, obj{"term": obj{fieldSentiment: q.Sentiment}})
	}
	if q.MinRating > 0 {
		fs = append(fs, obj{"range": obj{fieldRating: obj{"gte": q.MinRating}}})
	}
	if !q.From.IsZero() || !q.To.IsZero() {
		r := obj{"format": "strict_date_optional_time"}
		if !q.From.IsZero() {
			r["gte"] = q.From.UTC().Format(time.RFC3339Nano)
		}
		if !q.To.IsZero() {
			r["lt"] = q.To.UTC().Format(time.RFC3339Nano)
		}
		fs = append(fs, obj{"range": obj{fieldCreatedAt: r}})
	}
	return fs
}

// aggregations summarise every match, whatever the hit limit.
func aggregations() obj {
	return obj{
		"sentiment": obj{"terms": obj{"field": fieldSentiment, "size": 10}},
		"rating":    obj{"terms": obj{"field": fieldRating, "size": 10}},
		"by_day": obj{
			"date_histogram": obj{
				"field": fieldCreatedAt, "calendar_interval": "day", "min_doc_count": 1,
				"time_zone": "UTC", "format": "yyyy-MM-dd",
			},
			"aggs": obj{"sentiment": obj{"terms": obj{"field": fieldSentiment, "size": 10}}},
		},
	}
}

// sourceExcludes keeps vectors and terms out of search answers: the port
// does not return them, and vectors are the bulk of each document.
var sourceExcludes = obj{"excludes": []string{fieldTerms, fieldVector}}

// searchBody is the search for q, whose text analysed to terms.
//
// A review matches when its analysed terms contain every term of the query
// (the same analysis and the same AND as the Bleve adapter, so both match
// the same reviews); the standard-analysed text only adds score for exact
// surface forms, so English stopwords in a query cannot match every review.
func searchBody(q reviews.Query, terms []string) obj {
	bq := obj{}
	if fs := filters(q); len(fs) > 0 {
		bq["filter"] = fs
	}
	body := obj{
		"size":             clampSize(q.Limit),
		"track_total_hits": true,
		"_source":          sourceExcludes,
		"aggs":             aggregations(),
	}
	if strings.TrimSpace(q.Text) == "" {
		bq["must"] = []any{obj{"match_all": obj{}}}
		body["sort"] = []any{obj{fieldCreatedAt: "desc"}, obj{fieldID: "asc"}}
	} else {
		bq["must"] = []any{obj{"match": obj{fieldTerms: obj{"query": strings.Join(terms, " "), "operator": "and"}}}}
		bq["should"] = []any{obj{"match": obj{fieldText: obj{"query": q.Text}}}}
		body["sort"] = []any{"_score", obj{fieldCreatedAt: "desc"}, obj{fieldID: "asc"}}
		// With an explicit sort, hits carry _score only when asked.
		body["track_scores"] = true
		body["highlight"] = highlight(q.Text, terms)
	}
	body["query"] = obj{"bool": bq}
	return body
}

// highlight marks matches in the review text, HTML-escaping the text itself.
// The text field is analysed by the standard analyzer, which neither stems
// nor splits Korean particles, so besides the query as typed the highlighter
// also looks for words starting with each analysed term: 배송 marks 배송이,
// arriv marks arrived.
func highlight(text string, terms []string) obj {
	should := []any{obj{"match": obj{fieldText: obj{"query": text}}}}
	seen := map[string]bool{}
	for _, t := range terms {
		lt := strings.ToLower(t)
		if lt == "" || seen[lt] {
			continue
		}
		seen[lt] = true
		should = append(should, obj{"prefix": obj{fieldText: obj{"value": lt}}})
	}
	return obj{
		"pre_tags": []string{"<mark>"}, "post_tags": []string{"</mark>"}, "encoder": "html",
		"fields": obj{fieldText: obj{
			"type": "unified", "fragment_size": 150, "number_of_fragments": 3,
			"highlight_query": obj{"bool": obj{"should": should}},
		}},
	}
}

// termCountsBody counts, per term, the reviews matching q's filters. With
// include set it counts exactly those terms: every shard then reports all of
// them, so the sums are exact (see Index.TermCounts).
func termCountsBody(q reviews.Query, size int, include []string) obj {
	bq := obj{"must": []any{obj{"match_all": obj{}}}}
	if fs := filters(q); len(fs) > 0 {
		bq["filter"] = fs
	}
	// A generous shard_size makes each shard's top list long enough that
	// the merged top size is right, not only its counts.
	agg := obj{"field": fieldTermsKeyword, "size": size, "shard_size": max(3*size+10, 100)}
	if include != nil {
		agg = obj{"field": fieldTermsKeyword, "size": len(include), "shard_size": len(include), "include": include}
	}
	return obj{
		"size":             0,
		"track_total_hits": true,
		"query":            obj{"bool": bq},
		"aggs":             obj{"terms": obj{"terms": agg}},
	}
}

// knnBody finds the k reviews nearest vec, the review id itself excluded.
func knnBody(id string, vec []float32, k int) obj {
	return obj{
		"knn": obj{
			"field": fieldVector, "query_vector": vec, "k": k,
			// Ten candidates per result per shard keeps HNSW recall high at
			// the sizes a review page asks for.
			"num_candidates": min(max(10*k, 100), maxCandidates),
			"filter":         obj{"bool": obj{"must_not": []any{obj{"ids": obj{"values": []string{id}}}}}},
		},
		"size":    k,
		"_source": sourceExcludes,
	}
}

func clampSize(limit int) int {
	return min(max(limit, 0), maxResultWindow)
}

// Package searchtest is the contract suite every reviews.Index adapter must
// pass: Bleve always, Elasticsearch when MERCATO_TEST_ELASTICSEARCH_URL is set.
//
// Call it from the adapter's tests:
//
//	searchtest.Run(t, searchtest.Features{}, func(t *testing.T) reviews.Index {
//		idx, err := bleveindex.Open(t.TempDir(), bleveindex.Options{})
//		if err != nil {
//			t.Fatal(err)
//		}
//		t.Cleanup(func() { idx.Close() })
//		return idx
//	})
//
// newIndex must return a fresh, empty index for every call (subtests run in
// parallel); the suite closes nothing itself. Documents must be searchable as
// soon as Index returns (an Elasticsearch adapter refreshes, e.g. with
// refresh=wait_for).
//
// The contract, beyond the comments on reviews.Index:
//   - Text is analysed with sentiment.SearchTerms, and a review matches when
//     it contains every term of the query (AND); text that analyses to no
//     terms (only stopwords) matches nothing. Korean matches by lemma, so 배송
//     finds 배송이/배송은/배송도 and 빠르다 finds 빨라요/빠른/빨랐고; English
//     matches by Porter stem, so shoe finds shoes.
//   - Filters: SKU and Sentiment exact, Rating >= MinRating, CreatedAt in
//     [From, To); zero values do not filter.
//   - Hits: by score, highest first; newest first when Text is empty. Limit
//     caps the hits (Limit <= 0 returns none, aggregations only); Total and
//     Aggregations always cover every match.
//   - Aggregations: sentiment has both keys, rating all of 1..5, by_day the
//     UTC days with matches in ascending order with per-day positive/negative.
//   - Hits return every stored field (not Terms or Vector); Text exactly as
//     indexed. Highlights are fragments of the text, HTML-escaped, with the
//     matched words wrapped in <mark></mark> and no other markup.
//   - Indexing an id again replaces the review.
//   - TermCounts counts, per term, the matching reviews containing it; the
//     reported counts are exact.
//   - Similar is by cosine over unit vectors, highest first, the review itself
//     excluded; ErrNotFound for an unknown id.
//   - Index, Search, TermCounts and Similar are safe for concurrent use; an
//     empty id is an error, not a panic.
//
// The fixture corpus (Corpus) is sixty reviews written for this suite, in
// Korean and English, with Terms from sentiment.SearchTerms and vectors from
// HashVector, a deterministic stand-in for the domain's embedding.
package searchtest

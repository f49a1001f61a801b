// Package bleveindex is the embedded reviews.Index: full text, filters and
// facets on Bleve, with a kagome-backed analyzer ("mercato") that indexes and
// searches by sentiment.SearchTerms, and nearest-neighbour search by a
// brute-force cosine scan over vectors kept in memory and in a log next to
// the index. docs/search.md describes the design and its measured speed.
package bleveindex

// Package reviews is customer reviews: their language and sentiment, their
// vectors, and the search port (full text, filters, aggregations, nearest
// neighbours) that the Bleve and Elasticsearch adapters implement.
package reviews

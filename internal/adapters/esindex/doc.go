// Package esindex is the review search port (reviews.Index) on
// Elasticsearch 8, for the distributed profile.
//
// Korean needs no analysis plugin in the cluster: every review arrives with
// its terms already analysed by sentiment.SearchTerms (kagome lemmas for
// Korean, Porter stems for English), the adapter analyses query text with the
// same function, and the cluster only splits those terms on whitespace. So
// Bleve and Elasticsearch match the same reviews for the same query.
//
// The adapter speaks to the cluster through the official client's esapi
// request types over elastictransport, and never imports the typed API (whose
// cold build alone costs minutes). The request bodies are built as plain JSON
// in request.go and the answers decoded in response.go, so both can be tested
// against Elasticsearch's documented formats without a cluster; see
// docs/elasticsearch.md.
package esindex

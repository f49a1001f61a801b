package esindex

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/internal/searchtest"
)

// TestContract runs the search port's contract suite against a real
// Elasticsearch 8 cluster, each subtest in its own throwaway index:
//
//	MERCATO_TEST_ELASTICSEARCH_URL=http://elastic:secret@localhost:9200 \
//	  go test -run TestContract ./internal/adapters/esindex/
func TestContract(t *testing.T) {
	url := os.Getenv("MERCATO_TEST_ELASTICSEARCH_URL")
	if url == "" {
		// The one skip allowed even with CI set: no Elasticsearch server can
		// be installed on the machines this project is built on.
		t.Skip("SKIPPED: Elasticsearch contract suite not run: MERCATO_TEST_ELASTICSEARCH_URL is unset, and no Elasticsearch " +
			"server can be installed on these build machines (no Docker, no internet), so this skip holds even with CI set. " +
			"Request bodies and answer parsing are covered by the fixture tests in this package; set the URL to run the suite.")
	}
	searchtest.Run(t, searchtest.Features{ApproximateSimilar: true, NativeHighlights: true}, func(t *testing.T) reviews.Index {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		replicas := 0 // a single test node cannot place replicas
		x, err := New(Config{
			Addresses: []string{url},
			Index:     "mercato-test-" + hex.EncodeToString(b[:]),
			Dims:      searchtest.Dims,
			Replicas:  &replicas,
			Refresh:   RefreshWaitFor,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := x.EnsureTemplate(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := x.DeleteIndex(ctx); err != nil {
				t.Errorf("dropping the test index: %v", err)
			}
			_ = x.Close()
		})
		return x
	})
}

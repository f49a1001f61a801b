package esindex

import (
	"bytes"
	"testing"
)

// The answers come from the network: no input may make the decoders panic.

func FuzzParseSearch(f *testing.F) {
	for _, name := range []string{"search.json", "search_empty.json", "search_shard_failure.json", "knn.json", "termcounts.json"} {
		f.Add(fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = parseSearch(body)
		_, _, _ = parseTermCounts(body)
		_, _ = parseNeighbours(body)
		_, _, _ = parseVector(body)
		_ = decodeError(500, bytes.NewReader(body)).Error()
	})
}

func FuzzParseBulk(f *testing.F) {
	for _, name := range []string{"bulk_ok.json", "bulk_item_errors.json", "bulk_retry_429.json"} {
		f.Add(fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fs, err := parseBulk(body, []string{"r01", "r02", "r03"})
		for _, bf := range fs {
			if bf.pos < 0 || bf.pos > 2 {
				t.Fatalf("failure at position %d of 3", bf.pos)
			}
		}
		_ = err
	})
}

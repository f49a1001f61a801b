package bleveindex

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/internal/searchtest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	searchtest.Run(t, searchtest.Features{}, func(t *testing.T) reviews.Index {
		idx, err := Open(t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := idx.Close(); err != nil {
				t.Error(err)
			}
		})
		return idx
	})
}

func TestContractInMemory(t *testing.T) {
	t.Parallel()
	searchtest.Run(t, searchtest.Features{}, func(t *testing.T) reviews.Index {
		idx, err := OpenInMemory(Options{SimilarWorkers: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { idx.Close() })
		return idx
	})
}

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestReopenKeepsDocumentsAndVectors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rs, err := searchtest.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Index(testCtx(t), rs); err != nil {
		t.Fatal(err)
	}
	// Replace one review and drop another's vector, so the log holds
	// superseded records to replay.
	rs[1].Text = "replaced text about running shoes"
	rs[1].Vector = rs[5].Vector
	rs[2].Vector = nil
	if err := idx.Index(testCtx(t), rs[1:3]); err != nil {
		t.Fatal(err)
	}
	before, err := idx.Similar(testCtx(t), "r01", 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}

	idx, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	res, err := idx.Search(testCtx(t), reviews.Query{Text: "배송", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total < 10 {
		t.Errorf("after reopening, 배송 matches %d reviews", res.Total)
	}
	all, err := idx.Search(testCtx(t), reviews.Query{Limit: 1})
	if err != nil || all.Total != len(rs) {
		t.Fatalf("after reopening: total %d, %v; want %d", all.Total, err, len(rs))
	}
	after, err := idx.Similar(testCtx(t), "r01", 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(before, after, func(a, b reviews.Neighbour) bool { return a.ID == b.ID && a.Similarity == b.Similarity }) {
		t.Errorf("neighbours changed across reopening:\n%v\n%v", before, after)
	}
	if n, err := idx.Similar(testCtx(t), "r03", 5); err != nil || len(n) != 0 {
		t.Errorf("a review indexed without a vector: Similar = %v, %v; want none", n, err)
	}
	n, err := idx.Similar(testCtx(t), "r06", 1)
	if err != nil || len(n) != 1 || n[0].ID != "r02" || n[0].Similarity < 0.999 {
		t.Errorf("r02 took r06's vector, so it is r06's nearest: got %v, %v", n, err)
	}
}

func TestTornVectorLogIsCut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rs, err := searchtest.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Index(testCtx(t), rs); err != nil {
		t.Fatal(err)
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash mid-append leaves half a record.
	f, err := os.OpenFile(filepath.Join(dir, "vectors.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{200, 0, 0, 0, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	idx, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	if n, err := idx.Similar(testCtx(t), "r01", 3); err != nil || len(n) != 3 {
		t.Errorf("after a torn log: Similar = %v, %v", n, err)
	}
	// Appends after the cut replay cleanly.
	if err := idx.Index(testCtx(t), rs[:1]); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	idx, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	rs, err := searchtest.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	good := rs[0]
	for name, mutate := range map[string]func(r *reviews.Review){
		"empty id":        func(r *reviews.Review) { r.ID = "" },
		"rating 0":        func(r *reviews.Review) { r.Rating = 0 },
		"rating 6":        func(r *reviews.Review) { r.Rating = 6 },
		"no time":         func(r *reviews.Review) { r.CreatedAt = time.Time{} },
		"invalid utf8 id": func(r *reviews.Review) { r.ID = "\xff" },
		"other dims":      func(r *reviews.Review) { r.ID = "x"; r.Vector = []float32{1, 0} },
	} {
		r := good
		mutate(&r)
		// The good review goes in the same batch: a bad one rejects it all.
		if err := idx.Index(testCtx(t), []reviews.Review{good, r}); err == nil {
			t.Errorf("%s: Index accepted it", name)
		}
	}
	if res, err := idx.Search(testCtx(t), reviews.Query{}); err != nil || res.Total != 0 {
		t.Errorf("rejected batches left %d reviews, %v", res.Total, err)
	}
	// Odd but harmless input is fine: invalid UTF-8 text, no terms, a
	// huge limit, k beyond the index.
	odd := good
	odd.Text, odd.Terms = "bad \xff\xfe bytes 배송이", nil
	if err := idx.Index(testCtx(t), []reviews.Review{odd}); err != nil {
		t.Fatalf("Index(invalid UTF-8 text): %v", err)
	}
	if res, err := idx.Search(testCtx(t), reviews.Query{Text: "배송 \xff", Limit: 1 << 30}); err != nil || res.Total != 1 {
		t.Errorf("Search = %+v, %v", res, err)
	}
	if _, err := idx.Similar(testCtx(t), "r01", 0); err == nil {
		t.Errorf("Similar with k = 0 succeeded")
	}
	if _, err := idx.TermCounts(testCtx(t), reviews.Query{}, 0); err == nil {
		t.Errorf("TermCounts with size 0 succeeded")
	}
	if _, err := idx.Similar(testCtx(t), "nope", 3); !errors.Is(err, reviews.ErrNotFound) {
		t.Errorf("Similar(unknown) = %v", err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := idx.Index(cancelled, rs); err == nil {
		t.Errorf("Index with a cancelled context succeeded")
	}
	if _, err := idx.Search(cancelled, reviews.Query{}); err == nil {
		t.Errorf("Search with a cancelled context succeeded")
	}
}

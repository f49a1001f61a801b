package bleveindex

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// exactNearest is the reference answer: every vector scanned.
func exactNearest(ids []string, vecs [][]float32, q []float32, k int, exclude string) []scored {
	var all []scored
	for i, id := range ids {
		if id != exclude && vecs[i] != nil {
			all = append(all, scored{id, float64(dot(q, vecs[i]))})
		}
	}
	sortScored(all)
	return all[:min(k, len(all))]
}

func testGraph(t *testing.T, n int) (*hnsw, []string, [][]float32) {
	t.Helper()
	g := newHNSW(hnswConfig{M: 16, EfConstruction: 100, EfSearch: 64, Seed: 1})
	ids := make([]string, n)
	vecs := make([][]float32, n)
	for i := range n {
		ids[i], vecs[i] = "v"+strconv.Itoa(i), reviewVector(i)
		if err := g.add(ids[i], vecs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return g, ids, vecs
}

func TestHNSWRecall(t *testing.T) {
	t.Parallel()
	const n, k, queries = 3000, 10, 200
	g, ids, vecs := testGraph(t, n)
	var recall float64
	for i := range queries {
		q := (i * 7919) % n
		got, err := g.search(vecs[q], k, ids[q])
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != k {
			t.Fatalf("query %s: %d neighbours, want %d", ids[q], len(got), k)
		}
		if !slices.IsSortedFunc(got, func(a, b scored) int { return -cmpFloat(a.sim, b.sim) }) {
			t.Fatalf("query %s: neighbours not best first: %v", ids[q], got)
		}
		for _, s := range got {
			if s.id == ids[q] {
				t.Fatalf("query %s is its own neighbour", ids[q])
			}
		}
		recall += recallAt(exactNearest(ids, vecs, vecs[q], k, ids[q]), got)
	}
	if recall /= queries; recall < 0.95 {
		t.Errorf("recall@%d = %.3f, want ≥ 0.95", k, recall)
	}
	t.Logf("recall@%d over %d vectors: %.3f", k, n, recall)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestHNSWReplaceAndDelete(t *testing.T) {
	t.Parallel()
	const n = 1000
	g, ids, vecs := testGraph(t, n)
	// v1 takes v2's vector: the old v1 must be gone, and v1 is now v2's
	// closest match.
	if err := g.add("v1", vecs[2]); err != nil {
		t.Fatal(err)
	}
	vecs[1] = vecs[2]
	got, err := g.search(vecs[2], 1, "v2")
	if err != nil || len(got) != 1 || got[0].id != "v1" || got[0].sim < 0.999 {
		t.Fatalf("after replacing v1 with v2's vector, v2's nearest = %v, %v", got, err)
	}
	if g.count() != n || g.deleted() != 1 {
		t.Errorf("len %d, deleted %d; want %d, 1", g.count(), g.deleted(), n)
	}
	// Delete half; none of them may come back, and the rest are still
	// found with good recall through the deleted waypoints.
	for i := 0; i < n; i += 2 {
		if !g.delete(ids[i]) {
			t.Fatalf("delete(%s) = false", ids[i])
		}
		vecs[i] = nil
	}
	if g.delete("v0") || g.delete("nope") {
		t.Error("deleting a missing id reported success")
	}
	var recall float64
	for i := 1; i < n; i += 2 {
		got, err := g.search(vecs[i], 10, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			if n, _ := strconv.Atoi(s.id[1:]); n%2 == 0 {
				t.Fatalf("deleted %s returned", s.id)
			}
		}
		recall += recallAt(exactNearest(ids, vecs, vecs[i], 10, ids[i]), got)
	}
	if recall /= n / 2; recall < 0.95 {
		t.Errorf("recall@10 after deleting half = %.3f", recall)
	}
	// A deleted id can come back.
	if err := g.add("v0", reviewVector(0)); err != nil {
		t.Fatal(err)
	}
	if got, _ := g.search(reviewVector(0), 1, ""); len(got) != 1 || got[0].id != "v0" {
		t.Errorf("re-added v0 not found first: %v", got)
	}
}

func TestHNSWEdgeCases(t *testing.T) {
	t.Parallel()
	g := newHNSW(hnswConfig{Seed: 1})
	if got, err := g.search([]float32{1, 0}, 5, ""); err != nil || len(got) != 0 {
		t.Errorf("empty graph: %v, %v", got, err)
	}
	if err := g.add("a", nil); err == nil {
		t.Error("an empty vector was accepted")
	}
	for i, v := range [][]float32{{1, 0, 0}, {0, 1, 0}, {0.6, 0.8, 0}} {
		if err := g.add(strconv.Itoa(i), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.add("x", []float32{1, 0}); err == nil {
		t.Error("a vector of other dimensions was accepted")
	}
	if _, err := g.search([]float32{1, 0}, 1, ""); err == nil {
		t.Error("a query of other dimensions was accepted")
	}
	if _, err := g.search([]float32{1, 0, 0}, 0, ""); err == nil {
		t.Error("k = 0 was accepted")
	}
	// k above the number of vectors: all of them but the excluded one.
	got, err := g.search([]float32{1, 0, 0}, 10, "0")
	if err != nil {
		t.Fatal(err)
	}
	if want := []scored{{"2", 0.6}, {"1", 0}}; len(got) != 2 || got[0].id != want[0].id || got[1].id != want[1].id {
		t.Errorf("k > n: %v, want %v", got, want)
	}
	// Deleting everything leaves an empty answer, not an error.
	for _, id := range []string{"0", "1", "2"} {
		g.delete(id)
	}
	if got, err := g.search([]float32{1, 0, 0}, 3, ""); err != nil || len(got) != 0 {
		t.Errorf("all deleted: %v, %v", got, err)
	}
}

func TestHNSWDeterministic(t *testing.T) {
	t.Parallel()
	a, _, vecs := testGraph(t, 500)
	b, _, _ := testGraph(t, 500)
	for i := range 50 {
		x, _ := a.search(vecs[i], 10, "")
		y, _ := b.search(vecs[i], 10, "")
		if !slices.Equal(x, y) {
			t.Fatalf("same adds, different answers: %v vs %v", x, y)
		}
	}
}

// TestHNSWConcurrent runs searches alongside adds and deletes; run with
// -race.
func TestHNSWConcurrent(t *testing.T) {
	t.Parallel()
	g, ids, vecs := testGraph(t, 300)
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for range 200 {
				i := rng.IntN(len(ids))
				if _, err := g.search(vecs[i], 5, ids[i]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			if err := g.add("n"+strconv.Itoa(i), reviewVector(1000+i)); err != nil {
				t.Error(err)
				return
			}
			g.delete(ids[i])
		}
	})
	wg.Wait()
	if g.count() != 300 {
		t.Errorf("len = %d, want 300", g.count())
	}
}

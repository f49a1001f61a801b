package bleveindex

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/reviews"
	"github.com/mercato-platform/mercato/internal/searchtest"
)

// Benchmarks. Search and Similar run over an index of MERCATO_BENCH_REVIEWS
// synthetic reviews (comma-separated sizes, default 100000), built once and
// kept in $TMPDIR/mercato-bleveindex-bench-<n> for later runs (delete it to
// rebuild). See docs/search.md for the numbers and commands.

var (
	koNouns  = []string{"배송", "포장", "품질", "가격", "사이즈", "색상", "음질", "맛", "재질", "디자인", "배터리", "냄새", "두께", "마감", "서비스", "박스", "신발", "이어폰", "김치", "머그컵", "티셔츠", "쿠션", "밑창", "손잡이", "양념"}
	koPart   = []string{"이", "가", "은", "는", "도", "", "이랑"}
	koPreds  = []string{"빨라요", "느려요", "좋아요", "별로예요", "마음에 들어요", "최악이에요", "괜찮아요", "비싸요", "저렴해요", "예뻐요", "튼튼해요", "약해요", "맛있어요", "짜요", "늦었어요", "깨졌어요", "부드러워요", "작아요", "커요", "만족합니다"}
	koAdv    = []string{"정말", "너무", "조금", "진짜", "아주", "생각보다", ""}
	enNouns  = []string{"delivery", "packaging", "quality", "price", "size", "colour", "sound", "taste", "fabric", "design", "battery", "smell", "stitching", "service", "box", "shoes", "earbuds", "kimchi", "mug", "shirt", "cushion", "sole", "handle"}
	enPreds  = []string{"was fast", "was slow", "is great", "is terrible", "feels cheap", "looks lovely", "broke after a week", "arrived damaged", "fits perfectly", "runs small", "is worth every penny", "smells odd", "exceeded my expectations", "was disappointing"}
	enOpener = []string{"Honestly", "Overall", "Sadly", "Wow", "Well", "Again", ""}
)

// syntheticReview makes review i of a deterministic stream: 60 % Korean,
// 2,000 SKUs (a few popular ones), ratings 1–5, a year of dates.
func syntheticReview(i int) reviews.Review {
	rng := rand.New(rand.NewPCG(uint64(i), 0x5eed))
	var b strings.Builder
	clauses := 1 + rng.IntN(3)
	korean := rng.IntN(10) < 6
	for c := range clauses {
		if c > 0 {
			b.WriteString(" ")
		}
		if korean {
			fmt.Fprintf(&b, "%s%s %s %s.", koNouns[rng.IntN(len(koNouns))], koPart[rng.IntN(len(koPart))], koAdv[rng.IntN(len(koAdv))], koPreds[rng.IntN(len(koPreds))])
		} else {
			if o := enOpener[rng.IntN(len(enOpener))]; o != "" {
				b.WriteString(o + ", the ")
			} else {
				b.WriteString("The ")
			}
			fmt.Fprintf(&b, "%s %s.", enNouns[rng.IntN(len(enNouns))], enPreds[rng.IntN(len(enPreds))])
		}
	}
	sku := rng.IntN(2000)
	if rng.IntN(4) == 0 {
		sku = rng.IntN(20) // popular products
	}
	rating := 1 + rng.IntN(5)
	label := reviews.Positive
	if rating <= 2 || (rating == 3 && rng.IntN(2) == 0) {
		label = reviews.Negative
	}
	created := time.Date(2025, 11, 25, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
	r, err := searchtest.NewReview("s"+strconv.Itoa(i), fmt.Sprintf("SKU-%04d", sku), rating, label, b.String(), created)
	if err != nil {
		panic(err) // the Korean dictionary is embedded; this cannot fail at bench time
	}
	return r
}

// syntheticBatches generates reviews [from, to) in batches of size, ahead of
// the consumer on another goroutine, as the reviews role would (it receives
// reviews with Terms and Vector already computed).
func syntheticBatches(from, to, size int) <-chan []reviews.Review {
	ch := make(chan []reviews.Review, 2)
	go func() {
		defer close(ch)
		for lo := from; lo < to; lo += size {
			batch := make([]reviews.Review, 0, size)
			for i := lo; i < min(lo+size, to); i++ {
				batch = append(batch, syntheticReview(i))
			}
			ch <- batch
		}
	}()
	return ch
}

func benchSizes(b *testing.B) []int {
	env := os.Getenv("MERCATO_BENCH_REVIEWS")
	if env == "" {
		env = "100000"
	}
	var out []int
	for f := range strings.SplitSeq(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("MERCATO_BENCH_REVIEWS: bad size %q", f)
		}
		out = append(out, n)
	}
	return out
}

// BenchmarkIndex measures bulk indexing in batches of 1,000 into a fresh
// on-disk index; reviews arrive already analysed, as from the domain.
func BenchmarkIndex(b *testing.B) {
	const batchSize = 1000
	pool := make([][]reviews.Review, 0, 10)
	for batch := range syntheticBatches(0, 10*batchSize, batchSize) {
		pool = append(pool, batch)
	}
	idx, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer idx.Close()
	ctx := context.Background()
	b.ResetTimer()
	indexed := 0
	for i := 0; b.Loop(); i++ {
		// Fresh ids each round so every batch adds documents.
		batch := slices.Clone(pool[i%len(pool)])
		for j := range batch {
			batch[j].ID = "b" + strconv.Itoa(i*batchSize+j)
		}
		if err := idx.Index(ctx, batch); err != nil {
			b.Fatal(err)
		}
		indexed += len(batch)
	}
	b.ReportMetric(float64(indexed)/b.Elapsed().Seconds(), "reviews/s")
	b.ReportMetric(0, "ns/op")
}

// benchIndex opens the cached index of n synthetic reviews, building it
// first if need be.
func benchIndex(b *testing.B, n int) *Index {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("mercato-bleveindex-bench-%d", n))
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err != nil {
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		idx, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for batch := range syntheticBatches(0, n, 1000) {
			if err := idx.Index(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
		}
		if err := idx.Close(); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.Logf("built %d reviews in %v (%.0f reviews/s)", n, el.Round(time.Second), float64(n)/el.Seconds())
		if err := os.WriteFile(done, []byte(el.String()+"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	idx, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("opened %d reviews in %v", n, time.Since(start).Round(time.Millisecond))
	return idx
}

// percentiles reports p50 and p99 of ds in milliseconds.
func percentiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

func BenchmarkSearch(b *testing.B) {
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	queries := []struct {
		name string
		q    reviews.Query
	}{
		{"korean", reviews.Query{Text: "배송", Limit: 20}},
		{"korean-2terms", reviews.Query{Text: "배송 빠르다", Limit: 20}},
		{"english", reviews.Query{Text: "shoes", Limit: 20}},
		{"text+filters", reviews.Query{Text: "포장", SKU: "SKU-0007", Sentiment: reviews.Negative, MinRating: 1, From: from, Limit: 20}},
		{"text+sku", reviews.Query{Text: "포장", SKU: "SKU-0007", Limit: 20}},
		{"text+from", reviews.Query{Text: "포장", From: from, Limit: 20}},
		{"sku-newest", reviews.Query{SKU: "SKU-0003", Limit: 20}},
		{"all-newest", reviews.Query{Limit: 20}},
	}
	for _, n := range benchSizes(b) {
		idx := benchIndex(b, n)
		for _, tc := range queries {
			b.Run(fmt.Sprintf("reviews=%d/%s", n, tc.name), func(b *testing.B) {
				ds := make([]time.Duration, 0, 1024)
				total := 0
				for b.Loop() {
					t := time.Now()
					res, err := idx.Search(context.Background(), tc.q)
					if err != nil {
						b.Fatal(err)
					}
					ds = append(ds, time.Since(t))
					total = res.Total
				}
				percentiles(b, ds)
				b.ReportMetric(float64(total), "matches")
			})
		}
		b.Run(fmt.Sprintf("reviews=%d/termcounts-sku-negative", n), func(b *testing.B) {
			ds := make([]time.Duration, 0, 1024)
			for b.Loop() {
				t := time.Now()
				if _, err := idx.TermCounts(context.Background(), reviews.Query{SKU: "SKU-0007", Sentiment: reviews.Negative}, 20); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t))
			}
			percentiles(b, ds)
		})
		if err := idx.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSimilar(b *testing.B) {
	for _, n := range benchSizes(b) {
		idx := benchIndex(b, n)
		b.Run(fmt.Sprintf("reviews=%d/k=10", n), func(b *testing.B) {
			ds := make([]time.Duration, 0, 1024)
			i := 0
			for b.Loop() {
				id := "s" + strconv.Itoa(i*7919%n)
				i++
				t := time.Now()
				if _, err := idx.Similar(context.Background(), id, 10); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t))
			}
			percentiles(b, ds)
		})
		if err := idx.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// Vector index benchmarks. BenchmarkVectorIndex compares the brute-force
// scan (vectorStore.nearest) with the HNSW graph on MERCATO_BENCH_VECTORS
// synthetic review vectors (comma-separated sizes, default 10000 so a CI
// run is quick), reviews.Dims dimensions. MERCATO_BENCH_HNSW_MAX skips the
// graph (build and its sub-benchmarks) above that size, to measure the scan
// at sizes whose build would take too long; MERCATO_BENCH_HNSW_EF lists the
// efSearch values (default 32,64,128,256). See docs/search.md.

// reviewVector is synthetic review i's vector: reviews.Embed of 4–40 terms
// drawn from a Zipf law (s = 1.1) over a 50,000-term vocabulary, like
// review vocabularies where a few words (배송, 좋, quality) are everywhere
// and most are rare. The synthetic texts of syntheticReview are not used:
// they draw from ~100 words, so most vectors would be exact duplicates and
// neighbour search would be all ties.
func reviewVector(i int) []float32 {
	rng := rand.New(rand.NewPCG(uint64(i), 0x7ec7))
	z := rand.NewZipf(rng, 1.1, 1, 49999)
	terms := make([]string, 4+rng.IntN(37))
	for j := range terms {
		terms[j] = "t" + strconv.FormatUint(z.Uint64(), 36)
	}
	return reviews.Embed(terms)
}

func vectorBenchSizes(b *testing.B) []int {
	env := os.Getenv("MERCATO_BENCH_VECTORS")
	if env == "" {
		env = "10000"
	}
	var out []int
	for f := range strings.SplitSeq(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("MERCATO_BENCH_VECTORS: bad size %q", f)
		}
		out = append(out, n)
	}
	return out
}

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// recallAt is the share of exact neighbours an approximate answer found. A
// neighbour counts if it is in the exact list or ties with its last one
// (hashed vectors have exact ties, and which tied id makes the cut is
// arbitrary).
func recallAt(exact, approx []scored) float64 {
	if len(exact) == 0 {
		return 1
	}
	in := map[string]bool{}
	for _, e := range exact {
		in[e.id] = true
	}
	last := exact[len(exact)-1].sim
	hits := 0
	for _, a := range approx {
		if in[a.id] || a.sim >= last-1e-6 {
			hits++
		}
	}
	return float64(min(hits, len(exact))) / float64(len(exact))
}

func BenchmarkVectorIndex(b *testing.B) {
	const (
		k        = 10
		queries  = 200 // distinct query ids, cycled; recall is over all of them
		batch    = 1000
		hnswM    = 16
		hnswEfC  = 128
		hnswSeed = 1
	)
	efs := []int{32, 64, 128, 256}
	if env := os.Getenv("MERCATO_BENCH_HNSW_EF"); env != "" {
		efs = efs[:0]
		for f := range strings.SplitSeq(env, ",") {
			ef, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || ef <= 0 {
				b.Fatalf("MERCATO_BENCH_HNSW_EF: bad value %q", f)
			}
			efs = append(efs, ef)
		}
	}
	hnswMax := math.MaxInt
	if env := os.Getenv("MERCATO_BENCH_HNSW_MAX"); env != "" {
		var err error
		if hnswMax, err = strconv.Atoi(env); err != nil {
			b.Fatalf("MERCATO_BENCH_HNSW_MAX: %v", err)
		}
	}
	for _, n := range vectorBenchSizes(b) {
		before := heapInUse()
		vs := newVectorStore(0)
		ids := make([]string, 0, batch)
		vecs := make([][]float32, 0, batch)
		for i := range n {
			ids = append(ids, "v"+strconv.Itoa(i))
			vecs = append(vecs, reviewVector(i))
			if len(ids) == batch || i == n-1 {
				if err := vs.put(ids, vecs); err != nil {
					b.Fatal(err)
				}
				ids, vecs = ids[:0], vecs[:0]
			}
		}
		scanHeap := heapInUse() - before
		qids := make([]string, queries)
		for i := range qids {
			qids[i] = "v" + strconv.Itoa(i*7919%n)
		}
		exact := make([][]scored, queries)
		for i, id := range qids {
			exact[i], _ = vs.nearest(id, k)
		}

		b.Run(fmt.Sprintf("vectors=%d/scan", n), func(b *testing.B) {
			ds := make([]time.Duration, 0, 1024)
			i := 0
			for b.Loop() {
				t := time.Now()
				vs.nearest(qids[i%queries], k)
				ds = append(ds, time.Since(t))
				i++
			}
			percentiles(b, ds)
			b.ReportMetric(float64(scanHeap)/(1<<20), "heap-MB")
		})

		if n > hnswMax {
			vs = nil
			continue
		}
		before = heapInUse()
		g := newHNSW(hnswConfig{M: hnswM, EfConstruction: hnswEfC, Seed: hnswSeed})
		start := time.Now()
		for i := range n {
			if err := g.add("v"+strconv.Itoa(i), vs.data[i*vs.dims:(i+1)*vs.dims]); err != nil {
				b.Fatal(err)
			}
		}
		build := time.Since(start)
		graphHeap := heapInUse() - before
		b.Logf("HNSW M=%d efConstruction=%d: %d vectors built in %v, %.0f MB (vectors included)", hnswM, hnswEfC, n, build.Round(time.Millisecond), float64(graphHeap)/(1<<20))

		for _, ef := range efs {
			g.setEfSearch(ef)
			b.Run(fmt.Sprintf("vectors=%d/hnsw-ef=%d", n, ef), func(b *testing.B) {
				qvec := make([][]float32, queries)
				for i, id := range qids {
					qvec[i], _ = g.vector(id)
				}
				ds := make([]time.Duration, 0, 1024)
				i := 0
				for b.Loop() {
					t := time.Now()
					if _, err := g.search(qvec[i%queries], k, qids[i%queries]); err != nil {
						b.Fatal(err)
					}
					ds = append(ds, time.Since(t))
					i++
				}
				percentiles(b, ds)
				var recall float64
				for i := range qids {
					got, err := g.search(qvec[i], k, qids[i])
					if err != nil {
						b.Fatal(err)
					}
					recall += recallAt(exact[i], got)
				}
				b.ReportMetric(recall/queries, "recall@10")
				b.ReportMetric(build.Seconds(), "build-s")
				b.ReportMetric(float64(graphHeap)/(1<<20), "heap-MB")
			})
		}
		// The finished sub-benchmarks keep their closures; dropping the
		// captured index lets the next size measure its own heap.
		vs, g = nil, nil
	}
}

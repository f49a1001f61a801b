package sentiment

import "testing"

// Benchmarks report reviews/s on one core: Classify is sequential per review,
// so this is the per-core rate; a server scales it by cores.
func benchmarkClassify(b *testing.B, lang Lang) {
	ex, err := ShopReviews(lang)
	if err != nil {
		b.Fatal(err)
	}
	m, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	m.Classify(ex[0].Text) // loads the dictionary before b.Loop starts timing
	n := 0
	for b.Loop() {
		m.Classify(ex[n%len(ex)].Text)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "reviews/s")
}

func BenchmarkClassifyKorean(b *testing.B)  { benchmarkClassify(b, LangKorean) }
func BenchmarkClassifyEnglish(b *testing.B) { benchmarkClassify(b, LangEnglish) }

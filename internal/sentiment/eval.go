package sentiment

import (
	"fmt"
	"io"
	"math"
	"slices"
)

// LangMetrics are the classifier's results on the reviews of one language.
type LangMetrics struct {
	N        int
	Accuracy float64
	MacroF1  float64 // mean of the F1 of the positive and the negative class
	// Confusion[actual][predicted], index 0 negative and 1 positive.
	Confusion [2][2]int
	// ECE is the expected calibration error over ten score bins: how far the
	// scores are from the observed accuracy at that score, 0 when calibrated.
	ECE float64

	bins [10]struct {
		n       int
		correct int
		score   float64
	}
}

// Metrics are evaluation results per detected language and over all reviews.
type Metrics struct {
	ByLang  map[Lang]*LangMetrics
	Overall LangMetrics
}

// Eval classifies every example and compares with its label. Reviews are
// grouped by the language Detect gives them.
func Eval(m *Model, examples []Example) Metrics {
	out := Metrics{ByLang: map[Lang]*LangMetrics{}}
	for _, e := range examples {
		r := m.Classify(e.Text)
		lm := out.ByLang[r.Lang]
		if lm == nil {
			lm = &LangMetrics{}
			out.ByLang[r.Lang] = lm
		}
		lm.add(e.Label, r)
		out.Overall.add(e.Label, r)
	}
	for _, lm := range out.ByLang {
		lm.finish()
	}
	out.Overall.finish()
	return out
}

func classIndex(label string) int {
	if label == Positive {
		return 1
	}
	return 0
}

func (lm *LangMetrics) add(label string, r Result) {
	a, p := classIndex(label), classIndex(r.Label)
	lm.N++
	lm.Confusion[a][p]++
	b := min(int((r.Score-0.5)*20), 9) // scores are 0.5..1
	b = max(b, 0)
	lm.bins[b].n++
	lm.bins[b].score += r.Score
	if a == p {
		lm.bins[b].correct++
	}
}

func (lm *LangMetrics) finish() {
	if lm.N == 0 {
		return
	}
	c := lm.Confusion
	lm.Accuracy = float64(c[0][0]+c[1][1]) / float64(lm.N)
	f1 := func(k int) float64 {
		tp := float64(c[k][k])
		fp := float64(c[1-k][k])
		fn := float64(c[k][1-k])
		if tp == 0 {
			return 0
		}
		return 2 * tp / (2*tp + fp + fn)
	}
	lm.MacroF1 = (f1(0) + f1(1)) / 2
	lm.ECE = 0
	for _, b := range lm.bins {
		if b.n == 0 {
			continue
		}
		lm.ECE += float64(b.n) / float64(lm.N) * math.Abs(float64(b.correct)/float64(b.n)-b.score/float64(b.n))
	}
}

// Print writes the metrics as a small table per language: accuracy,
// macro-F1, calibration error and the confusion matrix.
func (m Metrics) Print(w io.Writer) {
	langs := make([]Lang, 0, len(m.ByLang))
	for l := range m.ByLang {
		langs = append(langs, l)
	}
	slices.Sort(langs)
	for _, l := range langs {
		m.ByLang[l].print(w, string(l))
	}
	if len(langs) > 1 {
		m.Overall.print(w, "all")
	}
}

func (lm *LangMetrics) print(w io.Writer, name string) {
	c := lm.Confusion
	fmt.Fprintf(w, "%s: n=%d accuracy=%.4f macro-F1=%.4f ECE=%.4f\n", name, lm.N, lm.Accuracy, lm.MacroF1, lm.ECE)
	fmt.Fprintf(w, "  %-17s %9s %9s\n", "actual \\ predicted", "negative", "positive")
	fmt.Fprintf(w, "  %-17s %9d %9d\n", "negative", c[0][0], c[0][1])
	fmt.Fprintf(w, "  %-17s %9d %9d\n", "positive", c[1][0], c[1][1])
}

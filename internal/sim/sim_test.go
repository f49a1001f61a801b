package sim

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCatalogueIsDeterministicAndSumsToTheRate(t *testing.T) {
	t.Parallel()
	a, b := Catalogue(50, 600, 7), Catalogue(50, 600, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed built two catalogues")
	}
	if reflect.DeepEqual(a, Catalogue(50, 600, 8)) {
		t.Fatal("another seed built the same catalogue")
	}
	var sum, top float64
	seen := map[string]bool{}
	for _, p := range a {
		sum += p.BaseRate
		top = max(top, p.BaseRate)
		if seen[p.SKU] || p.ListPrice < 1000 || p.Floor > p.ListPrice || p.Ceiling < p.ListPrice || p.Floor <= 0 ||
			p.Elasticity < 0.8 || p.Elasticity > 2.5 || p.Stock < 20 || p.Threshold < 5 || p.Stock < int64(p.BaseRate*4) {
			t.Errorf("product %+v", p)
		}
		seen[p.SKU] = true
		r := p.Reorder
		if r.UnitCost*100 < p.ListPrice*35 || r.UnitCost*100 > p.ListPrice*65 || r.LeadTimeDays < 1 || r.LeadTimeDays > 3 ||
			r.ServiceLevel != 0.95 || r.OrderCost < 20000 || r.OrderCost > 50000 || r.Supplier == "" {
			t.Errorf("reorder of %s: %+v", p.SKU, r)
		}
	}
	if math.Abs(sum-600) > 1e-9 {
		t.Fatalf("rates sum to %f, want 600", sum)
	}
	var harmonic float64
	for k := 1; k <= 50; k++ {
		harmonic += 1 / float64(k)
	}
	if math.Abs(top-600/harmonic) > 1e-9 {
		t.Fatalf("best seller %f, want the Zipf head %f", top, 600/harmonic)
	}
}

func TestRateIsTheModel(t *testing.T) {
	t.Parallel()
	var mean float64
	for _, v := range KoreanShopDay {
		mean += v / 24
	}
	if math.Abs(mean-1) > 1e-9 {
		t.Fatalf("hourly curve mean %f, want 1", mean)
	}
	p := Product{ListPrice: 10000, BaseRate: 2, Elasticity: 1.5}
	m := NewModel([]Product{p})
	at := time.Date(2026, 11, 25, 20, 30, 0, 0, m.Location) // 20:00 in Seoul
	if got, want := m.Rate(p, 10000, at), 2*KoreanShopDay[20]; math.Abs(got-want) > 1e-9 {
		t.Fatalf("rate at list price %f, want %f", got, want)
	}
	if got, want := m.Rate(p, 11000, at), 2*KoreanShopDay[20]*math.Pow(1.1, -1.5); math.Abs(got-want) > 1e-9 {
		t.Fatalf("rate 10 %% dearer %f, want %f", got, want)
	}
	if m.Rate(p, 9000, at) <= m.Rate(p, 10000, at) || m.Rate(p, 0, at) != 0 {
		t.Fatal("cheaper must sell more, and a zero price nothing")
	}
	if m.Rate(p, 10000, at.Add(-16*time.Hour)) >= m.Rate(p, 10000, at) {
		t.Fatal("4 a.m. sells less than 8 p.m.")
	}
}

func TestPoissonDraws(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, lambda := range []float64{0.05, 0.7, 4, 55} {
		const n = 40000
		var sum, sq float64
		for range n {
			k := float64(poisson(rng, lambda))
			sum += k
			sq += k * k
		}
		mean := sum / n
		variance := sq/n - mean*mean
		// Five standard errors of the mean; the variance within 10 %.
		if math.Abs(mean-lambda) > 5*math.Sqrt(lambda/n) || math.Abs(variance-lambda) > 0.1*lambda+0.01 {
			t.Errorf("lambda %.2f: mean %.4f variance %.4f", lambda, mean, variance)
		}
	}
	if poisson(rng, 0) != 0 || poisson(rng, -1) != 0 {
		t.Fatal("no arrivals at a zero rate")
	}
}

func TestReviewsCarryTheirTruth(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	var positive, english int
	const n = 5000
	for range n {
		r := WriteReview(rng, 0.8)
		if r.Positive {
			positive++
		}
		if r.Lang == "en" {
			english++
		}
		if (r.Positive && r.Rating < 4) || (!r.Positive && r.Rating > 2) || strings.TrimSpace(r.Text) == "" {
			t.Fatalf("review %+v", r)
		}
		for _, p := range phrases[r.Lang][!r.Positive] {
			if strings.Contains(r.Text, p) {
				t.Fatalf("a %v review holds the other sentiment's phrase %q", r.Positive, p)
			}
		}
	}
	if math.Abs(float64(positive)/n-0.8) > 0.03 || math.Abs(float64(english)/n-0.2) > 0.03 {
		t.Fatalf("positive %d, english %d of %d", positive, english, n)
	}
}

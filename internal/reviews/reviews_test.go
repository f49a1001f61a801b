package reviews

import (
	"math"
	"slices"
	"testing"
)

func TestEmbedIsUnitAndDeterministic(t *testing.T) {
	t.Parallel()
	a := Embed([]string{"배송", "빠르", "배송", "포장"})
	b := Embed([]string{"포장", "배송", "빠르", "배송"})
	if len(a) != Dims || !slices.Equal(a, b) {
		t.Fatal("embedding depends on term order or has the wrong length")
	}
	var n float64
	for _, x := range a {
		n += float64(x) * float64(x)
	}
	if math.Abs(n-1) > 1e-5 {
		t.Errorf("norm² = %v, want 1", n)
	}
	if z := Embed(nil); Cosine(z, z) != 0 {
		t.Error("empty review has a direction")
	}
	near := Cosine(a, Embed([]string{"배송", "빠르"}))
	far := Cosine(a, Embed([]string{"사이즈", "작", "교환"}))
	if !(near > 0.5 && near > far) {
		t.Errorf("shared terms %.2f should beat unrelated %.2f", near, far)
	}
}

func TestSignificantTermsPreferWhatIsParticular(t *testing.T) {
	t.Parallel()
	// "배송" is in nearly every review; "비린내" only in this product's negatives.
	bg := TermCounts{Docs: 1000, Terms: map[string]int{"배송": 900, "비린내": 12, "신선": 40, "포장": 300}}
	fg := TermCounts{Docs: 10, Terms: map[string]int{"배송": 9, "비린내": 6, "신선": 1, "포장": 3}}
	got := significant(fg, bg, 3)
	if len(got) == 0 || got[0] != "비린내" || slices.Contains(got, "배송") || slices.Contains(got, "신선") {
		t.Errorf("significant = %v, want 비린내 first, no 배송 (everywhere) or 신선 (one review)", got)
	}
}

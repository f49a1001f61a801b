package reviews

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"
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

func TestCheckDateRange(t *testing.T) {
	t.Parallel()
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name     string
		from, to time.Time
		ok       bool
	}{
		{"open", time.Time{}, time.Time{}, true},
		{"a day", day(2026, 11, 25), day(2026, 11, 26), true},
		{"empty", day(2026, 11, 25), day(2026, 11, 25), true},
		{"bounds", day(1970, 1, 1), day(2200, 12, 31), true},
		{"inverted", day(2026, 11, 26), day(2026, 11, 25), false},
		{"before 1970", day(1969, 12, 31), time.Time{}, false},
		{"after 2200", time.Time{}, day(2201, 1, 1), false},
		{"beyond int64 nanoseconds", time.Time{}, day(9999, 12, 31), false},
		{"year 1", day(1, 1, 2), time.Time{}, false},
		// 2200-12-31T23:00-05:00 is already 2201 in UTC.
		{"offset past the bound", time.Time{}, time.Date(2200, 12, 31, 23, 0, 0, 0, time.FixedZone("", -5*3600)), false},
	}
	for _, tt := range tests {
		err := CheckDateRange(tt.from, tt.to)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrBadDateRange)) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

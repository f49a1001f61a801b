package money

import (
	"math"
	"testing"
)

func TestMulAndAdd(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		f      func(a, b int64) (int64, bool)
		a, b   int64
		want   int64
		wantOK bool
	}{
		{"mul small", Mul, 12900, 3, 38700, true},
		{"mul at max", Mul, MaxAmount, 1, MaxAmount, true},
		{"mul over max", Mul, MaxAmount, 2, 0, false},
		{"mul int64 overflow", Mul, math.MaxInt64, 2, 0, false},
		{"mul wraps to small", Mul, 1 << 62, 4, 0, false}, // 2^64 wraps to 0
		{"mul negative", Mul, -1, 5, 0, false},
		{"add", Add, 1, 2, 3, true},
		{"add at max", Add, MaxAmount - 1, 1, MaxAmount, true},
		{"add over max", Add, MaxAmount, 1, 0, false},
		{"add int64 max", Add, math.MaxInt64, math.MaxInt64, 0, false},
		{"add negative", Add, -5, 1, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := c.f(c.a, c.b)
			if got != c.want || ok != c.wantOK {
				t.Fatalf("(%d, %d) = %d, %v; want %d, %v", c.a, c.b, got, ok, c.want, c.wantOK)
			}
		})
	}
}

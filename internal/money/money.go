// Package money holds the bounds Mercato puts on amounts and the checked
// arithmetic that keeps them from overflowing. Amounts are integer minor
// units of the shop's currency (KRW has none: 12900 is ₩12,900).
package money

import "math/bits"

// MaxAmount is the largest amount Mercato stores anywhere: a unit price, an
// order line (price × quantity) and an order's total. 10^12 minor units is
// ₩1 trillion, far above any real basket, and leaves room for sums of many
// of them in int64 (reports add up millions of lines).
const MaxAmount int64 = 1_000_000_000_000

// MaxStock is the largest on-hand quantity of one SKU: far above any real
// warehouse, low enough that stock arithmetic never leaves int64 nor the
// range a float64 holds exactly (SQLite turns an overflowing integer into a
// float).
const MaxStock int64 = 1_000_000_000_000

// Mul returns a × b and whether it is exact and within [0, MaxAmount] for
// non-negative a and b.
func Mul(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > uint64(MaxAmount) {
		return 0, false
	}
	return int64(lo), true
}

// Add returns a + b and whether it is within [0, MaxAmount] for
// non-negative a and b.
func Add(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || a > MaxAmount || b > MaxAmount {
		return 0, false
	}
	if s := a + b; s <= MaxAmount { // both ≤ 10^12: cannot overflow
		return s, true
	}
	return 0, false
}

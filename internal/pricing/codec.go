package pricing

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// SKU state encodings: version 1 has no waiting stock records; version 2
// appends them. Version 3 adds the product's cost and lead time, the
// quantity on order, the waiting records' on-order quantities and the learn
// policy's evidence. Version 4 is version 3 whose learn evidence also holds
// the curvature's pool contribution and each bucket's mean price; a state
// with learn evidence is written as 4, one with only version 3's other
// fields as 3, and a state without any of those still as version 1 or 2,
// so older states decode and re-encode to the same bytes. A version 3
// state with learn evidence decodes with each bucket's price at its centre
// and no curvature contribution.
const (
	stateVersion        = 1
	stateVersionWaiting = 2
	stateVersionLearn   = 3
	stateVersionPool    = 4
)

// Bounds on decoded strings: a SKU is at most 64 characters and a category
// 100, with room for multi-byte runes.
const (
	maxSKULen      = 256
	maxCategoryLen = 512
	maxPending     = 1 << 20 // stock records in a version 1 partition state
	maxWaiting     = 1 << 16 // a SKU's waiting stock records (one per slide)
)

// ErrCorruptState is wrapped by every changelog decode failure.
var ErrCorruptState = errors.New("corrupt pricing state")

// AppendBinary appends the changelog encoding of s: a version byte, then
// varints. A typical SKU takes 40-60 bytes.
func (s *SKUState) AppendBinary(b []byte) ([]byte, error) {
	if len(s.SKU) == 0 || len(s.SKU) > maxSKULen || len(s.Category) > maxCategoryLen {
		return b, fmt.Errorf("%w: SKU %q or its category too long to encode", ErrCorruptState, s.SKU)
	}
	v3 := s.needsV3()
	switch {
	case v3 && s.Learn != nil:
		b = append(b, stateVersionPool)
	case v3:
		b = append(b, stateVersionLearn)
	case len(s.waiting) == 0:
		b = append(b, stateVersion)
	default:
		b = append(b, stateVersionWaiting)
	}
	b = appendString(b, s.SKU)
	b = appendString(b, s.Category)
	b = binary.AppendVarint(b, s.Window.head)
	b = append(b, s.Window.size)
	for i := range int(s.Window.size) {
		b = binary.AppendUvarint(b, uint64(s.Window.units[i]))
	}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.Baseline.Rate))
	b = binary.AppendVarint(b, s.Baseline.Since)
	b = binary.AppendVarint(b, s.Baseline.Next)
	for _, v := range [...]int64{s.Available, s.StockAt, s.Price, s.BasePrice, s.PriceFloor, s.PriceCeiling, s.LastChange} {
		b = binary.AppendVarint(b, v)
	}
	b = append(b, s.flags&persistedFlags)
	if v3 {
		return s.appendV3(b), nil
	}
	if len(s.waiting) > 0 {
		b = binary.AppendUvarint(b, uint64(len(s.waiting)))
		for _, u := range s.waiting {
			b = binary.AppendVarint(b, u.At)
			b = binary.AppendVarint(b, u.Available)
			b = appendString(b, u.ID)
		}
	}
	return b, nil
}

// DecodeSKUState parses a changelog value written by AppendBinary. It never
// panics on arbitrary bytes; what it accepts re-encodes to a record that
// decodes to the same state.
func DecodeSKUState(b []byte) (*SKUState, error) {
	r := reader{b: b}
	v := r.byte()
	if v < stateVersion || v > stateVersionPool {
		return nil, fmt.Errorf("%w: version %d, want %d to %d", ErrCorruptState, v, stateVersion, stateVersionPool)
	}
	s := &SKUState{}
	s.SKU = r.string(maxSKULen)
	s.Category = r.string(maxCategoryLen)
	s.Window.head = r.varint()
	size := r.byte()
	if r.err == nil && (size < 1 || size > maxBuckets) {
		return nil, fmt.Errorf("%w: ring size %d", ErrCorruptState, size)
	}
	s.Window.size = size
	for i := range int(size) {
		u := r.uvarint()
		if u > math.MaxUint32 {
			r.fail("bucket overflows")
		}
		s.Window.units[i] = uint32(u)
	}
	s.Baseline.Rate = math.Float64frombits(r.uint64())
	s.Baseline.Since = r.varint()
	s.Baseline.Next = r.varint()
	for _, v := range [...]*int64{&s.Available, &s.StockAt, &s.Price, &s.BasePrice, &s.PriceFloor, &s.PriceCeiling, &s.LastChange} {
		*v = r.varint()
	}
	s.flags = r.byte()
	if r.err == nil && s.flags&^persistedFlags != 0 {
		r.fail("unknown flags")
	}
	switch v {
	case stateVersionWaiting:
		n := r.uvarint()
		if r.err == nil && (n == 0 || n > maxWaiting) {
			r.fail("waiting stock record count out of range")
		}
		for i := uint64(0); i < n && r.err == nil; i++ {
			s.waiting = append(s.waiting, stockUpdate{At: r.varint(), Available: r.varint(), OnOrder: -1, ID: r.string(maxSKULen)})
		}
	case stateVersionLearn, stateVersionPool:
		s.readV3(&r, v == stateVersionPool)
		switch {
		case r.err != nil:
		case !s.needsV3():
			r.fail("version 3 without version 3 fields")
		case v == stateVersionPool && s.Learn == nil:
			r.fail("version 4 without learn evidence")
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err == nil {
		r.err = s.check()
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

// check rejects states the pricer could never have produced, so a corrupt
// changelog fails loudly at restore instead of pricing nonsense.
func (s *SKUState) check() error {
	bad := func(what string) error { return fmt.Errorf("%w: SKU %q: %s", ErrCorruptState, s.SKU, what) }
	switch {
	case s.SKU == "":
		return bad("empty SKU")
	case s.Window.head < 0 || s.Baseline.Since < 0 || s.Baseline.Since > s.Baseline.Next:
		return bad("slide indices out of order")
	case math.IsNaN(s.Baseline.Rate) || math.IsInf(s.Baseline.Rate, 0) || s.Baseline.Rate < 0:
		return bad("baseline rate not a non-negative number")
	case s.StockAt < 0 || s.LastChange < 0 || s.Price < 0:
		return bad("negative time or price")
	case s.BasePrice != 0 && (s.PriceFloor <= 0 || s.PriceFloor > s.BasePrice || s.BasePrice > s.PriceCeiling):
		return bad("price bounds out of order")
	case s.BasePrice == 0 && (s.PriceFloor != 0 || s.PriceCeiling != 0):
		return bad("bounds without a base price")
	case s.Window.head == 0 && s.Window.units != [maxBuckets]uint32{}:
		return bad("units in an empty window")
	}
	for i, u := range s.waiting {
		if u.At <= 0 || (i > 0 && u.At <= s.waiting[i-1].At) {
			return bad("waiting stock records out of order")
		}
		if u.OnOrder < -1 {
			return bad("waiting stock record with a negative quantity on order")
		}
	}
	if s.UnitCost < 0 || s.LeadTimeMs < 0 || s.LeadTimeMs > 366*86_400_000 || s.OnOrder < 0 || s.OrderedAt < 0 {
		return bad("negative cost, lead time, quantity on order or order time")
	}
	if L := s.Learn; L != nil {
		for _, f := range [...]float32{L.A, L.B, L.C, L.SdB} {
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return bad("learn posterior not a number")
			}
		}
		for i := range L.Units {
			u, e, x := float64(L.Units[i]), float64(L.Exposure[i]), float64(L.XSum[i])
			if math.IsNaN(u) || math.IsNaN(e) || math.IsInf(u, 0) || math.IsInf(e, 0) || u < 0 || e < 0 {
				return bad("learn evidence not a non-negative number")
			}
			// Prices are clamped into their bucket, inside ±0.5 of x.
			if math.IsNaN(x) || math.Abs(x) > e {
				return bad("learn bucket price out of range")
			}
		}
		if L.SdB < 0 || L.Next < 0 || L.Decide < 0 || L.Target < 0 ||
			L.PoolW < 0 || L.PoolW > maxPoolW || L.PoolWB < -maxPoolWB || L.PoolWB > maxPoolWB ||
			L.PoolWC < 0 || L.PoolWC > maxPoolW || L.PoolWCC < -maxPoolWB || L.PoolWCC > maxPoolWB {
			return bad("learn state out of range")
		}
	}
	return nil
}

// Bounds on a SKU's pool contribution (maxPoolPrecision, |b| ≤ 20, scaled),
// so a category's sums cannot overflow.
const (
	maxPoolW  = maxPoolPrecision * poolScale
	maxPoolWB = 20 * maxPoolW
)

// needsV3 reports whether s holds anything versions 1 and 2 cannot carry.
func (s *SKUState) needsV3() bool {
	if s.Learn != nil || s.UnitCost != 0 || s.LeadTimeMs != 0 || s.OnOrder != 0 || s.OrderedAt != 0 {
		return true
	}
	for _, u := range s.waiting {
		if u.OnOrder != -1 {
			return true
		}
	}
	return false
}

// appendV3 appends version 3's (and 4's) fields after the common ones: the
// product's cost, the orders, the waiting records (count first, possibly
// 0), then the learn evidence, buckets without evidence left out (a bit
// mask says which are present); version 4 adds the curvature's pool
// contribution and each bucket's exposure × price.
func (s *SKUState) appendV3(b []byte) []byte {
	for _, v := range [...]int64{s.UnitCost, s.LeadTimeMs, s.OnOrder, s.OrderedAt} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(s.waiting)))
	for _, u := range s.waiting {
		b = binary.AppendVarint(b, u.At)
		b = binary.AppendVarint(b, u.Available)
		b = binary.AppendVarint(b, u.OnOrder)
		b = appendString(b, u.ID)
	}
	L := s.Learn
	if L == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	for _, v := range [...]int64{L.Next, L.Decide, L.Target, L.PoolW, L.PoolWB, L.PoolWC, L.PoolWCC} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(L.Seen))
	for _, f := range [...]float32{L.A, L.B, L.C, L.SdB} {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	var mask uint64
	for i := range L.Units {
		if math.Float32bits(L.Units[i]) != 0 || math.Float32bits(L.Exposure[i]) != 0 {
			mask |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, mask)
	for i := range L.Units {
		if mask&(1<<i) != 0 {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(L.Units[i]))
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(L.Exposure[i]))
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(L.XSum[i]))
		}
	}
	return b
}

func (s *SKUState) readV3(r *reader, v4 bool) {
	for _, v := range [...]*int64{&s.UnitCost, &s.LeadTimeMs, &s.OnOrder, &s.OrderedAt} {
		*v = r.varint()
	}
	n := r.uvarint()
	if r.err == nil && n > maxWaiting {
		r.fail("waiting stock record count out of range")
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		s.waiting = append(s.waiting, stockUpdate{At: r.varint(), Available: r.varint(), OnOrder: r.varint(), ID: r.string(maxSKULen)})
	}
	switch r.byte() {
	case 0:
		return
	case 1:
	default:
		r.fail("bad learn flag")
		return
	}
	L := &LearnState{}
	for _, v := range [...]*int64{&L.Next, &L.Decide, &L.Target, &L.PoolW, &L.PoolWB} {
		*v = r.varint()
	}
	if v4 {
		L.PoolWC, L.PoolWCC = r.varint(), r.varint()
	}
	seen := r.uvarint()
	if seen > math.MaxUint32 {
		r.fail("learn evidence count overflows")
	}
	L.Seen = uint32(seen)
	for _, f := range [...]*float32{&L.A, &L.B, &L.C, &L.SdB} {
		*f = math.Float32frombits(r.uint32())
	}
	mask := r.uvarint()
	if mask >= 1<<learnBuckets {
		r.fail("learn bucket mask out of range")
		return
	}
	for i := range L.Units {
		if mask&(1<<i) != 0 {
			L.Units[i] = math.Float32frombits(r.uint32())
			L.Exposure[i] = math.Float32frombits(r.uint32())
			if v4 {
				L.XSum[i] = math.Float32frombits(r.uint32())
			} else {
				// Version 3 kept no prices: the bucket's centre.
				L.XSum[i] = float32(float64(L.Exposure[i]) * bucketX(i))
			}
			if math.Float32bits(L.Units[i]) == 0 && math.Float32bits(L.Exposure[i]) == 0 {
				r.fail("learn bucket marked present without evidence")
			}
		}
	}
	s.Learn = L
}

// Partition state encodings: version 1 also held every waiting stock
// record (they now live in their SKU's state); it is still read.
const (
	partitionVersionPending = 1
	partitionVersion        = 2
)

// AppendPartitionState appends the partition-wide state the changelog needs
// besides the SKUs: the watermark, the next boundary and the counters.
func (p *Pricer) AppendPartitionState(b []byte) []byte {
	b = append(b, partitionVersion)
	started := byte(0)
	if p.wm.started {
		started = 1
	}
	b = append(b, started)
	b = binary.AppendVarint(b, p.wm.maxEvent)
	b = binary.AppendVarint(b, p.wm.current)
	b = binary.AppendVarint(b, p.next)
	b = binary.AppendUvarint(b, p.late)
	b = binary.AppendUvarint(b, p.stale)
	return b
}

// RestorePartitionState loads what AppendPartitionState wrote; now is the
// wall clock, so restore time does not count as idleness.
func (p *Pricer) RestorePartitionState(b []byte, now int64) error {
	r := reader{b: b}
	v := r.byte()
	if v != partitionVersion && v != partitionVersionPending {
		return fmt.Errorf("%w: partition state version %d, want %d or %d", ErrCorruptState, v, partitionVersionPending, partitionVersion)
	}
	started := r.byte()
	maxEvent, current, next := r.varint(), r.varint(), r.varint()
	late, stale := r.uvarint(), r.uvarint()
	type pendingStock struct {
		sku string
		u   stockUpdate
	}
	var pending []pendingStock
	if v == partitionVersionPending {
		n := r.uvarint()
		if n > maxPending {
			r.fail("too many pending stock records")
		}
		for i := uint64(0); i < n && r.err == nil; i++ {
			sku := r.string(maxSKULen)
			u := stockUpdate{At: r.varint(), Available: r.varint(), OnOrder: -1, ID: r.string(maxSKULen)}
			if r.err == nil && (sku == "" || u.At <= 0) {
				r.fail("bad pending stock record")
			}
			pending = append(pending, pendingStock{sku, u})
		}
	}
	if r.err == nil && (started > 1 || len(r.b) != 0) {
		r.fail("bad flag or trailing bytes")
	}
	if r.err != nil {
		return r.err
	}
	p.wm.started, p.wm.maxEvent, p.wm.current = started == 1, maxEvent, current
	p.wm.Touch(now)
	p.next, p.late, p.stale = next, late, stale
	p.wakeOverdue()
	// State written before stock records moved into their SKU's state. In
	// (sku, time) order each record lands at the end of its SKU's list.
	slices.SortFunc(pending, func(a, b pendingStock) int {
		if c := cmp.Compare(a.sku, b.sku); c != 0 {
			return c
		}
		return cmp.Compare(a.u.At, b.u.At)
	})
	for _, w := range pending {
		s := p.skus[w.sku]
		if s == nil {
			s = p.newSKU(w.sku)
		}
		p.wait(s, w.u)
	}
	return nil
}

// Restore installs a SKU state read from the changelog. Restore the latest
// record of each SKU, then the partition state, before feeding records.
func (p *Pricer) Restore(s *SKUState) error {
	if int(s.Window.size) != p.d.size {
		return fmt.Errorf("%w: SKU %q has %d buckets, this config uses %d (window or slide changed; restore from an empty changelog)",
			ErrCorruptState, s.SKU, s.Window.size, p.d.size)
	}
	for i := 1; i < len(s.waiting); i++ {
		if floorDiv(s.waiting[i].At, p.d.slideMs) <= floorDiv(s.waiting[i-1].At, p.d.slideMs) {
			return fmt.Errorf("%w: SKU %q has two waiting stock records in one slide", ErrCorruptState, s.SKU)
		}
	}
	if old := p.skus[s.SKU]; old != nil && old.Learn != nil {
		p.addPool(old.Category, old.Learn.contribution(), -1)
	}
	if old := p.skus[s.SKU]; old != nil {
		// Replacing a restored SKU (callers restore the latest record of each
		// SKU once, so this is rare): drop the old object from the lists
		// that hold it.
		for _, l := range []struct {
			flag uint8
			list *[]*SKUState
		}{{flagListed, &p.active}, {flagWaiting, &p.waiting}, {flagTouched, &p.touched}} {
			if old.flags&l.flag == 0 {
				continue
			}
			if i := slices.Index(*l.list, old); i >= 0 {
				*l.list = slices.Delete(*l.list, i, i+1)
			}
		}
	}
	s.Category = p.intern(s.Category)
	if s.Learn != nil {
		p.addPool(s.Category, s.Learn.contribution(), 1)
	}
	listed := s.flags&flagListed != 0
	s.flags &^= flagListed | flagTouched | flagWaiting
	p.skus[s.SKU] = s
	if len(s.waiting) > 0 {
		s.flags |= flagWaiting
		p.waiting = append(p.waiting, s)
	}
	switch {
	case listed:
		// The same active set as before the restore, so the same SKUs are
		// evaluated (and folded) at the next boundaries.
		p.list(s)
	case s.Learn != nil && s.BasePrice != 0:
		// A sleeping learn SKU wakes at its next decision, as it would have.
		p.sleep(s, ceilDiv(s.Learn.Decide, p.d.slideMs))
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes varints and strings, remembering the first error so the
// decoders read straight through and check once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorruptState, what)
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uint32() uint32 {
	if len(r.b) < 4 {
		r.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) uint64() uint64 {
	if len(r.b) < 8 {
		r.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string(maxLen int) string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(maxLen) || n > uint64(len(r.b)) {
		r.fail("string too long or truncated")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

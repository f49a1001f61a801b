package pricing

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleState() *SKUState {
	s := &SKUState{
		SKU: "EARBUDS-01", Category: "audio", Window: NewDemandWindow(6),
		Baseline:  Baseline{Rate: 12.5, Since: 29_000_000, Next: 29_000_010},
		Available: 42, StockAt: 1_800_000_000_000, Price: 13540,
		BasePrice: 12900, PriceFloor: 9900, PriceCeiling: 15900, LastChange: 1_800_000_060_000,
		flags: flagWalking | flagHadDemand | flagBaselineMoved,
	}
	s.Window.Add(29_000_014, 3)
	s.Window.Add(29_000_015, 70000)
	return s
}

// roundTrip encodes s and decodes it again, returning the copy and its encoding.
func roundTrip(t *testing.T, s *SKUState) (*SKUState, []byte) {
	t.Helper()
	b, err := s.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSKUState(b)
	if err != nil {
		t.Fatal(err)
	}
	return got, b
}

func TestSKUStateRoundTrip(t *testing.T) {
	t.Parallel()
	s := sampleState()
	got, b := roundTrip(t, s)
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
	}
	if len(b) > 80 {
		t.Errorf("encoded state is %d bytes; expected a compact encoding", len(b))
	}
	for _, bad := range [][]byte{nil, {2}, b[:len(b)-1], append(bytes.Clone(b), 0)} {
		if _, err := DecodeSKUState(bad); !errors.Is(err, ErrCorruptState) {
			t.Errorf("DecodeSKUState(%x) = %v, want ErrCorruptState", bad, err)
		}
	}
}

// FuzzDecodeSKUState: the changelog decoder never panics, and whatever it
// accepts encodes to bytes that decode to the same state.
func FuzzDecodeSKUState(f *testing.F) {
	b, _ := sampleState().AppendBinary(nil)
	f.Add(b)
	empty, _ := (&SKUState{SKU: "A", Window: NewDemandWindow(1)}).AppendBinary(nil)
	f.Add(empty)
	f.Add([]byte{1})
	waiting := sampleState()
	waiting.waiting = []stockUpdate{{At: 1, Available: 5, ID: "a"}, {At: 60_001, Available: 0, ID: "b"}}
	b, _ = waiting.AppendBinary(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSKUState(b)
		if err != nil {
			return
		}
		out, err := s.AppendBinary(nil)
		if err != nil {
			t.Fatalf("accepted state does not encode: %v", err)
		}
		s2, err := DecodeSKUState(out)
		if err != nil {
			t.Fatalf("re-encoded state rejected: %v", err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("state changed through a round trip:\n%+v\n%+v", s, s2)
		}
	})
}

// FuzzPartitionState: the partition decoder never panics on any bytes.
func FuzzPartitionState(f *testing.F) {
	p := newTestPricer(f)
	p.Inventory("A", t0, 5, "01", wall)
	p.Purchase("A", t0.Add(time.Second), 1, wall)
	f.Add(p.AppendPartitionState(nil))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		q := newTestPricer(t)
		if err := q.RestorePartitionState(b, 0); err != nil {
			return
		}
		if got := q.AppendPartitionState(nil); !bytes.Equal(got, q.AppendPartitionState(nil)) {
			t.Fatal("partition state encoding not stable")
		}
	})
}

// TestRestoreContinuesLikeAnUninterruptedRun snapshots a pricer mid-stream
// through the changelog encoding, restores a fresh one from it and checks
// that it goes on exactly as the original would have: the processor's
// recovery depends on it.
func TestRestoreContinuesLikeAnUninterruptedRun(t *testing.T) {
	t.Parallel()
	for _, fallback := range []Rule{heuristicRule(), DefaultRule()} {
		t.Run(fallback.Policy, func(t *testing.T) {
			t.Parallel()
			restoreContinuesLikeAnUninterruptedRun(t, fallback)
		})
	}
}

func restoreContinuesLikeAnUninterruptedRun(t *testing.T, fallback Rule) {
	rng := rand.New(rand.NewPCG(11, 3))
	skus := skuNames(30)
	recs := jitter(rng, stream(rng, skus, 8000, 40*time.Minute), 5*time.Second)
	want, wantStates := runWith(t, fallback, skus, recs)
	if len(want) == 0 {
		t.Fatal("no price changes: the restore is not exercised")
	}

	for _, cut := range []int{1, 2500, 5311, 7999} {
		p := newTestPricerWith(t, fallback)
		for i, sku := range skus {
			cat := []string{"audio", "books", "toys"}[i%3]
			if err := p.Product(sku, cat, 10000+int64(i%7)*1000, 9000, 16000+int64(i%5)*100); err != nil {
				t.Fatal(err)
			}
		}
		feed(t, p, recs[:cut])
		got := p.TakeChanges(nil)

		changelog := map[string][]byte{}
		p.Each(func(s *SKUState) {
			b, err := s.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			changelog[s.SKU] = b
		})
		meta := p.AppendPartitionState(nil)

		q := newTestPricerWith(t, fallback)
		for _, b := range changelog {
			s, err := DecodeSKUState(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Restore(s); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.RestorePartitionState(meta, wall.UnixMilli()); err != nil {
			t.Fatal(err)
		}
		feed(t, q, recs[cut:])
		for i := 1; i <= 30; i++ {
			q.Tick(wall.Add(time.Duration(i) * time.Minute))
		}
		got = perSKU(q.TakeChanges(got))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("cut at %d: %d changes after restore, want %d (or they differ)", cut, len(got), len(want))
		}
		states := map[string]SKUState{}
		q.Each(func(s *SKUState) { c := *s; c.flags &^= flagListed | flagTouched; states[s.SKU] = c })
		if !reflect.DeepEqual(states, wantStates) {
			t.Fatalf("cut at %d: final states differ", cut)
		}
	}
}

// A SKU record with two waiting stock records in one slide, which the
// pricer never writes, is refused at restore; a corrupt version 1
// partition record with many records for one SKU restores quickly and
// keeps the SKU's list bounded.
func TestRestoreRefusesOrBoundsBadWaitingRecords(t *testing.T) {
	t.Parallel()
	p := newTestPricer(t)
	s := &SKUState{SKU: "W", Window: NewDemandWindow(p.d.size), Baseline: Baseline{Rate: 1}}
	s.waiting = []stockUpdate{{At: 60_001, Available: 1, ID: "a"}, {At: 60_002, Available: 2, ID: "b"}}
	s2, _ := roundTrip(t, s)
	if err := p.Restore(s2); !errors.Is(err, ErrCorruptState) || !strings.Contains(err.Error(), "one slide") {
		t.Fatalf("Restore = %v, want ErrCorruptState for two records in one slide", err)
	}

	q := newTestPricer(t)
	old := append([]byte{partitionVersionPending}, q.AppendPartitionState(nil)[1:]...)
	const n = maxWaiting + 100
	old = binary.AppendUvarint(old, n)
	for i := range n {
		old = appendString(old, "A")
		old = binary.AppendVarint(old, int64(n-i)*60_000) // one per slide, newest first
		old = binary.AppendVarint(old, 1)
		old = appendString(old, "x")
	}
	if err := q.RestorePartitionState(old, 0); err != nil {
		t.Fatal(err)
	}
	a := q.skus["A"]
	if len(a.waiting) != maxWaiting || q.stale != 100 {
		t.Fatalf("A waits on %d records (stale %d), want %d and 100", len(a.waiting), q.stale, maxWaiting)
	}
	roundTrip(t, a) // the bounded state encodes and decodes
}

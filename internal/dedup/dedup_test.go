package dedup

import (
	"strconv"
	"testing"
)

func TestCountBoundKeepsTheLastN(t *testing.T) {
	t.Parallel()
	s := New(3)
	for i := range 5 {
		if !s.Add("e"+strconv.Itoa(i), 0) {
			t.Fatalf("e%d reported as seen", i)
		}
	}
	if s.Add("e4", 0) || !s.Has("e3") || !s.Has("e2") {
		t.Fatal("the last three ids must be remembered")
	}
	if s.Has("e1") || s.Has("e0") {
		t.Fatal("ids older than the last three must be forgotten")
	}
	if s.Len() != 3 {
		t.Fatalf("Len = %d, want 3", s.Len())
	}
	if !s.Add("e0", 0) || s.Has("e2") {
		t.Fatal("re-adding an evicted id must evict the oldest remembered one")
	}
}

func TestTimeBoundForgetsOlderIDs(t *testing.T) {
	t.Parallel()
	s := New(0)
	s.Add("old", 100)
	s.Add("new", 200)
	if s.Add("old", 300) {
		t.Fatal("a repeat inside the horizon must be seen")
	}
	s.Forget(150)
	if s.Has("old") || !s.Has("new") {
		t.Fatal("Forget(150) must drop the id stamped 100 and keep 200")
	}
	if !s.Add("old", 300) {
		t.Fatal("a forgotten id is new again")
	}
}

func BenchmarkAdd(b *testing.B) {
	s := New(100_000)
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = "01JEVENTID" + strconv.Itoa(i)
	}
	b.ResetTimer()
	for i := range b.N {
		s.Add(ids[i&(len(ids)-1)], int64(i))
	}
}

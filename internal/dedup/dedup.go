// Package dedup remembers the event ids a consumer has acted on, so a record
// delivered twice (an outbox relay that crashed between publishing and
// marking, a redelivery after a rebalance) is acted on once. Every consumer
// that deduplicates in memory uses it: the roles' consumers, the pricing
// processor and the sales lake.
package dedup

// IDs is a set of event ids bounded by count (the last n ids), by event
// time (Forget), or both. Ids are kept as 64-bit FNV-1a hashes: a false
// "seen" needs two of the remembered ids to collide, about 1 in 10^7 for a
// million ids. It is not safe for concurrent use.
type IDs struct {
	seen map[uint64]int64 // hash → event time
	ring []uint64         // insertion order when bounded by count
	next int
	max  int
}

// New returns a set that remembers at most max ids, evicting the oldest;
// max 0 means no count bound (use Forget).
func New(max int) *IDs {
	s := &IDs{seen: make(map[uint64]int64, min(max, 1<<16)), max: max}
	if max > 0 {
		s.ring = make([]uint64, 0, max)
	}
	return s
}

func hash(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h
}

// Has reports whether id is remembered.
func (s *IDs) Has(id string) bool {
	_, ok := s.seen[hash(id)]
	return ok
}

// Add remembers id, stamped with event time at (any unit; 0 when unused),
// and reports whether it was new.
func (s *IDs) Add(id string, at int64) bool {
	k := hash(id)
	if _, ok := s.seen[k]; ok {
		return false
	}
	if s.max > 0 {
		if len(s.ring) < s.max {
			s.ring = append(s.ring, k)
		} else {
			delete(s.seen, s.ring[s.next])
			s.ring[s.next] = k
			s.next = (s.next + 1) % s.max
		}
	}
	s.seen[k] = at
	return true
}

// Forget drops the ids stamped before horizon.
func (s *IDs) Forget(horizon int64) {
	for k, at := range s.seen {
		if at < horizon {
			delete(s.seen, k)
		}
	}
}

// Len is the number of ids remembered.
func (s *IDs) Len() int { return len(s.seen) }

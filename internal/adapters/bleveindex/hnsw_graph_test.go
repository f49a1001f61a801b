package bleveindex

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// hnsw is a Hierarchical Navigable Small World graph (Malkov & Yashunin,
// "Efficient and robust approximate nearest neighbor search using
// Hierarchical Navigable Small World graphs", 2016/2018) over unit float32
// vectors, similarity = dot product = cosine.
//
// It lives in a test file, unused by Index: BenchmarkVectorIndex measured it against the
// brute-force scan of vectorStore on review-like 256-dimension vectors, and
// at the sizes that would need it the graph missed the recall target and
// took too long to build on every open (docs/search.md has the numbers and
// the decision). It stays, tested, so the measurement can be repeated when
// the embedding or the scale changes.
//
// Choices, and why:
//
//   - Neighbour selection is the paper's heuristic (algorithm 4, without
//     extendCandidates or keepPrunedConnections, as hnswlib does): a
//     candidate is linked only if it is closer to the new node than to any
//     neighbour already chosen. Hashed review vectors cluster around shared
//     frequent terms, and the simple "M closest" rule then links a node
//     only into its own cluster, which costs recall.
//   - Levels are floor(-ln(U) · mL) with mL = 1/ln(M), from a PCG generator
//     with a fixed seed, so the same adds in the same order give the same
//     graph (tests and benchmarks are reproducible).
//   - Replacing the vector of an existing id marks the old node deleted and
//     inserts a new one; deletion only marks. Deleted nodes stay in the
//     graph as waypoints (removing them would need re-linking their
//     neighbours, and a graph with holes loses recall) but are never
//     returned and never chosen as neighbours of new nodes. The cost is
//     memory: deleted nodes are only reclaimed by building the graph again
//     (a store would rebuild it on open, or when deleted() outgrows count()).
//   - One RWMutex: searches run concurrently under the read lock, adds and
//     deletes are serialised under the write lock. Inserting in parallel
//     would need per-node locks, and review writes come in batches anyway.
//   - Layer 0 links live in one flat []int32 (count, then up to 2M ids per
//     node) so the hottest loop touches one allocation; the few nodes above
//     layer 0 have a slice each.
type hnsw struct {
	mu sync.RWMutex

	dims   int // 0 until the first vector
	m, m0  int // most links per node above layer 0, and on layer 0 (2M)
	efCons int
	efSrch int
	ml     float64
	rng    *rand.Rand

	vecs   []float32 // node*dims .. node*dims+dims
	ids    []string  // node -> id
	levels []uint8   // node -> top layer
	dead   []bool    // node deleted or replaced
	layer0 []int32   // node*(m0+1): link count, then links
	upper  [][]int32 // node -> (level-1)*(m+1): count, then links; nil on layer 0 only
	byID   map[string]int32
	entry  int32 // -1 when empty
	top    int   // entry's level
	ndead  int

	visits sync.Pool // *visitSet
}

// hnswConfig holds the graph's parameters; zero fields take the defaults.
type hnswConfig struct {
	M              int    // links per node above layer 0 (default 16; 2M on layer 0)
	EfConstruction int    // candidate list while inserting (default 128)
	EfSearch       int    // candidate list while searching, at least k (default 64)
	Seed           uint64 // level generator seed
}

// maxLevel caps generated levels; with M = 16 a level above 12 has
// probability 16^-12 per node, so the cap only guards against a
// pathological generator.
const maxLevel = 16

func newHNSW(cfg hnswConfig) *hnsw {
	if cfg.M < 2 {
		cfg.M = 16
	}
	if cfg.EfConstruction <= 0 {
		cfg.EfConstruction = 128
	}
	if cfg.EfSearch <= 0 {
		cfg.EfSearch = 64
	}
	return &hnsw{
		m:      cfg.M,
		m0:     2 * cfg.M,
		efCons: max(cfg.EfConstruction, cfg.M),
		efSrch: cfg.EfSearch,
		ml:     1 / math.Log(float64(cfg.M)),
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x4e5357)),
		byID:   map[string]int32{},
		entry:  -1,
	}
}

// setEfSearch changes the search candidate list size (benchmarks compare
// several on one graph).
func (h *hnsw) setEfSearch(ef int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ef > 0 {
		h.efSrch = ef
	}
}

// count is the number of live vectors.
func (h *hnsw) count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.byID)
}

// deleted is the number of deleted or replaced nodes still in the graph.
func (h *hnsw) deleted() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.ndead
}

func (h *hnsw) vec(n int32) []float32 {
	return h.vecs[int(n)*h.dims : (int(n)+1)*h.dims]
}

// linkSlot is n's link storage on level: the count, then room for every
// link the level allows.
func (h *hnsw) linkSlot(n int32, level int) []int32 {
	if level == 0 {
		b := int(n) * (h.m0 + 1)
		return h.layer0[b : b+h.m0+1]
	}
	b := (level - 1) * (h.m + 1)
	return h.upper[n][b : b+h.m+1]
}

func (h *hnsw) links(n int32, level int) []int32 {
	s := h.linkSlot(n, level)
	return s[1 : 1+s[0]]
}

func (h *hnsw) setLinks(n int32, level int, nb []int32) {
	s := h.linkSlot(n, level)
	s[0] = int32(copy(s[1:], nb))
}

// add inserts vec under id, replacing id's previous vector if any. vec is
// copied; it should be unit length for similarities to be cosines.
func (h *hnsw) add(id string, vec []float32) error {
	if len(vec) == 0 {
		return fmt.Errorf("adding %s to the vector graph: empty vector", id)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dims == 0 {
		h.dims = len(vec)
	}
	if len(vec) != h.dims {
		return fmt.Errorf("adding %s to the vector graph: vector has %d dimensions, the graph holds %d", id, len(vec), h.dims)
	}
	if len(h.ids) >= math.MaxInt32 {
		return errors.New("adding to the vector graph: too many nodes")
	}
	if old, ok := h.byID[id]; ok {
		h.dead[old] = true
		h.ndead++
	}
	n := int32(len(h.ids))
	level := min(int(-math.Log(1-h.rng.Float64())*h.ml), maxLevel)
	h.vecs = append(h.vecs, vec...)
	h.ids = append(h.ids, id)
	h.levels = append(h.levels, uint8(level))
	h.dead = append(h.dead, false)
	h.layer0 = append(h.layer0, make([]int32, h.m0+1)...)
	var up []int32
	if level > 0 {
		up = make([]int32, level*(h.m+1))
	}
	h.upper = append(h.upper, up)
	h.byID[id] = n

	if h.entry < 0 {
		h.entry, h.top = n, level
		return nil
	}
	q := h.vec(n)
	ep := h.greedy(q, h.entry, h.top, level)
	eps := []cand{ep}
	vis := h.visitSet()
	defer h.visits.Put(vis)
	live := func(c int32) bool { return !h.dead[c] }
	for l := min(level, h.top); l >= 0; l-- {
		res := h.searchLayer(q, eps, h.efCons, l, vis, live)
		if len(res) == 0 {
			// Every node reached is deleted: keep them as waypoints for the
			// next layer but link to nothing here.
			continue
		}
		slices.SortFunc(res, byDescSim)
		nb := h.selectNeighbours(res, h.m)
		h.setLinks(n, l, nb)
		maxConn := h.m
		if l == 0 {
			maxConn = h.m0
		}
		for _, e := range nb {
			h.link(e, n, l, maxConn)
		}
		eps = res
	}
	if level > h.top {
		h.entry, h.top = n, level
	}
	return nil
}

// link adds n to e's links on level, pruning them with the heuristic when
// e already has maxConn.
func (h *hnsw) link(e, n int32, level, maxConn int) {
	slot := h.linkSlot(e, level)
	if c := int(slot[0]); c < maxConn {
		slot[1+c] = n
		slot[0]++
		return
	}
	cur := slot[1:]
	base := h.vec(e)
	cs := make([]cand, 0, len(cur)+1)
	for _, c := range cur {
		cs = append(cs, cand{dot(base, h.vec(c)), c})
	}
	cs = append(cs, cand{dot(base, h.vec(n)), n})
	slices.SortFunc(cs, byDescSim)
	h.setLinks(e, level, h.selectNeighbours(cs, maxConn))
}

// selectNeighbours is the paper's heuristic: walking the candidates best
// first (cs sorted by descending similarity to the base node), keep one only
// if it is more similar to the base than to every one kept, so links point
// in diverse directions and bridge clusters.
func (h *hnsw) selectNeighbours(cs []cand, m int) []int32 {
	out := make([]int32, 0, m)
	for _, c := range cs {
		if len(out) >= m {
			break
		}
		v := h.vec(c.n)
		ok := true
		for _, s := range out {
			if dot(v, h.vec(s)) > c.sim {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, c.n)
		}
	}
	return out
}

// greedy descends from ep on level from to just above level to, moving to
// the most similar neighbour until none is better (ef = 1).
func (h *hnsw) greedy(q []float32, ep int32, from, to int) cand {
	cur := cand{dot(q, h.vec(ep)), ep}
	for l := from; l > to; l-- {
		for changed := true; changed; {
			changed = false
			for _, nb := range h.links(cur.n, l) {
				if s := dot(q, h.vec(nb)); s > cur.sim {
					cur, changed = cand{s, nb}, true
				}
			}
		}
	}
	return cur
}

// searchLayer is the paper's algorithm 2: a best-first search on one layer
// keeping the ef best nodes found. Every node is traversed, but only those
// for which keep is true are collected, so deleted and excluded nodes still
// carry the search. The result is unordered.
func (h *hnsw) searchLayer(q []float32, eps []cand, ef, level int, vis *visitSet, keep func(int32) bool) []cand {
	vis.reset(len(h.ids))
	var cands maxHeap
	var res minHeap
	for _, e := range eps {
		if vis.seen(e.n) {
			continue
		}
		cands.push(e)
		if keep(e.n) {
			res.push(e)
			if len(res) > ef {
				res.pop()
			}
		}
	}
	for len(cands) > 0 {
		c := cands.pop()
		if len(res) >= ef && c.sim < res[0].sim {
			break
		}
		for _, nb := range h.links(c.n, level) {
			if vis.seen(nb) {
				continue
			}
			s := dot(q, h.vec(nb))
			if len(res) < ef || s > res[0].sim {
				cands.push(cand{s, nb})
				if keep(nb) {
					res.push(cand{s, nb})
					if len(res) > ef {
						res.pop()
					}
				}
			}
		}
	}
	return res
}

// delete removes id's vector from search results; reports whether it was
// there.
func (h *hnsw) delete(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	n, ok := h.byID[id]
	if !ok {
		return false
	}
	delete(h.byID, id)
	h.dead[n] = true
	h.ndead++
	return true
}

// vector returns a copy of id's vector.
func (h *hnsw) vector(id string) ([]float32, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n, ok := h.byID[id]
	if !ok {
		return nil, false
	}
	return slices.Clone(h.vec(n)), true
}

// search returns up to k live vectors most similar to q, best first (equal
// similarities by id), leaving out exclude's vector ("" excludes nothing).
func (h *hnsw) search(q []float32, k int, exclude string) ([]scored, error) {
	if k <= 0 {
		return nil, fmt.Errorf("searching the vector graph: k %d must be positive", k)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.entry < 0 {
		return nil, nil
	}
	if len(q) != h.dims {
		return nil, fmt.Errorf("searching the vector graph: query has %d dimensions, the graph holds %d", len(q), h.dims)
	}
	skip := int32(-1)
	if n, ok := h.byID[exclude]; ok {
		skip = n
	}
	ep := h.greedy(q, h.entry, h.top, 0)
	vis := h.visitSet()
	defer h.visits.Put(vis)
	res := h.searchLayer(q, []cand{ep}, max(h.efSrch, k), 0, vis, func(n int32) bool {
		return n != skip && !h.dead[n]
	})
	out := make([]scored, len(res))
	for i, c := range res {
		out[i] = scored{h.ids[c.n], float64(c.sim)}
	}
	sortScored(out)
	if len(out) > k {
		out = out[:k]
	}
	return out, nil
}

// cand is a node with its similarity to the current query.
type cand struct {
	sim float32
	n   int32
}

func byDescSim(a, b cand) int {
	switch {
	case a.sim > b.sim:
		return -1
	case a.sim < b.sim:
		return 1
	}
	return int(a.n - b.n)
}

// visitSet marks visited nodes by generation, so clearing it between
// searches is O(1); it is pooled because searches run concurrently.
type visitSet struct {
	gen   uint32
	marks []uint32
}

func (h *hnsw) visitSet() *visitSet {
	if v, ok := h.visits.Get().(*visitSet); ok {
		return v
	}
	return &visitSet{}
}

func (v *visitSet) reset(n int) {
	if len(v.marks) < n {
		v.marks = append(v.marks, make([]uint32, n-len(v.marks)+n/4)...)
	}
	v.gen++
	if v.gen == 0 { // wrapped: old marks could collide
		clear(v.marks)
		v.gen = 1
	}
}

// seen marks n and reports whether it was already marked.
func (v *visitSet) seen(n int32) bool {
	if v.marks[n] == v.gen {
		return true
	}
	v.marks[n] = v.gen
	return false
}

// maxHeap pops the most similar candidate first; minHeap the least similar.
// Hand-written over container/heap to avoid boxing in the hot loop.
type (
	maxHeap []cand
	minHeap []cand
)

func (h *maxHeap) push(c cand) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].sim >= s[i].sim {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *maxHeap) pop() cand {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].sim > s[m].sim {
			m = l
		}
		if r < len(s) && s[r].sim > s[m].sim {
			m = r
		}
		if m == i {
			break
		}
		s[m], s[i] = s[i], s[m]
		i = m
	}
	*h = s
	return top
}

func (h *minHeap) push(c cand) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if s[p].sim <= s[i].sim {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *minHeap) pop() cand {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].sim < s[m].sim {
			m = l
		}
		if r < len(s) && s[r].sim < s[m].sim {
			m = r
		}
		if m == i {
			break
		}
		s[m], s[i] = s[i], s[m]
		i = m
	}
	*h = s
	return top
}

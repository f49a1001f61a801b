package bleveindex

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// vectorStore keeps every review's vector in memory, in one flat slice for
// a cache-friendly brute-force scan, and appends each change to a log next to
// the Bleve index so vectors survive a restart. Bleve has no pure-Go vector
// field (its kNN needs FAISS through cgo) and its internal key-value store is
// rewritten in full on every persist, so neither fits a million vectors.
type vectorStore struct {
	mu   sync.RWMutex
	dims int            // 0 until the first vector
	data []float32      // slot*dims .. slot*dims+dims
	ids  []string       // slot -> id; "" marks a free slot
	slot map[string]int // id -> slot
	free []int

	path    string // "" for an in-memory index
	log     *os.File
	records int // records in the log, live or not, to decide on compaction
	workers int
}

// Log record: u32 payload length, u32 CRC-32 of the payload, then the
// payload: u16 id length, id, u16 dims (0 = the review has no vector),
// dims little-endian float32s. A torn last record (a crash mid-append) fails
// its length or CRC check and is cut off on open.
const maxIDLen = math.MaxUint16

func newVectorStore(workers int) *vectorStore {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &vectorStore{slot: map[string]int{}, workers: workers}
}

// openVectorStore loads the log at path (creating it if need be) and
// compacts it when most of its records are superseded.
func openVectorStore(path string, workers int) (*vectorStore, error) {
	vs := newVectorStore(workers)
	vs.path = path
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the vector log: %w", err)
	}
	good, err := vs.replay(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("cutting a torn record off the vector log: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seeking the vector log: %w", err)
	}
	vs.log = f
	if vs.records > 2*len(vs.slot)+1024 {
		if err := vs.compact(); err != nil {
			vs.log.Close()
			return nil, err
		}
	}
	return vs, nil
}

// replay applies every whole record of the log and returns the offset just
// past the last one.
func (vs *vectorStore) replay(f *os.File) (int64, error) {
	r := bufio.NewReaderSize(f, 1<<20)
	var off int64
	var hdr [8]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, nil // clean end or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n > 1<<24 {
			return off, nil
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return off, nil
		}
		if crc32.ChecksumIEEE(payload) != binary.LittleEndian.Uint32(hdr[4:]) {
			return off, nil
		}
		id, vec, err := decodeRecord(payload)
		if err != nil {
			return off, nil
		}
		// Index checks dimensions before logging, so a mismatch here means
		// a foreign record; skipping it keeps the index openable.
		_ = vs.set(id, vec)
		vs.records++
		off += int64(8 + n)
	}
}

func decodeRecord(p []byte) (string, []float32, error) {
	if len(p) < 2 {
		return "", nil, errors.New("short record")
	}
	idLen := int(binary.LittleEndian.Uint16(p))
	p = p[2:]
	if len(p) < idLen+2 {
		return "", nil, errors.New("short record")
	}
	id := string(p[:idLen])
	p = p[idLen:]
	dims := int(binary.LittleEndian.Uint16(p))
	p = p[2:]
	if len(p) != 4*dims {
		return "", nil, errors.New("record length does not match its dimensions")
	}
	var vec []float32
	if dims > 0 {
		vec = make([]float32, dims)
		for i := range vec {
			vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
		}
	}
	return id, vec, nil
}

func appendRecord(buf *bytes.Buffer, id string, vec []float32) {
	n := 2 + len(id) + 2 + 4*len(vec)
	p := make([]byte, 0, n)
	p = binary.LittleEndian.AppendUint16(p, uint16(len(id)))
	p = append(p, id...)
	p = binary.LittleEndian.AppendUint16(p, uint16(len(vec)))
	for _, x := range vec {
		p = binary.LittleEndian.AppendUint32(p, math.Float32bits(x))
	}
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:4], uint32(len(p)))
	binary.LittleEndian.PutUint32(hdr[4:], crc32.ChecksumIEEE(p))
	buf.Write(hdr[:])
	buf.Write(p)
}

// check reports a vector that cannot join the store: its dimensions differ
// from the vectors already there (or from an earlier one in the batch).
func (vs *vectorStore) check(dims *int, vec []float32) error {
	if len(vec) == 0 {
		return nil
	}
	if len(vec) > math.MaxUint16 {
		return fmt.Errorf("vector has %d dimensions, at most %d are supported", len(vec), math.MaxUint16)
	}
	if *dims == 0 {
		vs.mu.RLock()
		*dims = vs.dims
		vs.mu.RUnlock()
	}
	if *dims == 0 {
		*dims = len(vec)
	}
	if len(vec) != *dims {
		return fmt.Errorf("vector has %d dimensions, the index holds %d", len(vec), *dims)
	}
	return nil
}

// put logs and applies a batch of vectors (nil removes a review's vector).
func (vs *vectorStore) put(ids []string, vecs [][]float32) error {
	if vs.log != nil {
		var buf bytes.Buffer
		for i, id := range ids {
			appendRecord(&buf, id, vecs[i])
		}
		if _, err := vs.log.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("appending to the vector log: %w", err)
		}
		if err := vs.log.Sync(); err != nil {
			return fmt.Errorf("syncing the vector log: %w", err)
		}
	}
	vs.mu.Lock()
	defer vs.mu.Unlock()
	for i, id := range ids {
		if err := vs.set(id, vecs[i]); err != nil {
			return err
		}
		vs.records++
	}
	return nil
}

// set applies one vector; the caller holds mu (or is replaying).
func (vs *vectorStore) set(id string, vec []float32) error {
	s, ok := vs.slot[id]
	if len(vec) == 0 {
		if ok {
			delete(vs.slot, id)
			vs.ids[s] = ""
			vs.free = append(vs.free, s)
		}
		return nil
	}
	if vs.dims == 0 {
		vs.dims = len(vec)
	}
	if len(vec) != vs.dims {
		return fmt.Errorf("vector of %s has %d dimensions, the index holds %d", id, len(vec), vs.dims)
	}
	if !ok {
		if n := len(vs.free); n > 0 {
			s, vs.free = vs.free[n-1], vs.free[:n-1]
			vs.ids[s] = id
		} else {
			s = len(vs.ids)
			vs.ids = append(vs.ids, id)
			vs.data = append(vs.data, make([]float32, vs.dims)...)
		}
		vs.slot[id] = s
	}
	copy(vs.data[s*vs.dims:], vec)
	return nil
}

// compact rewrites the log with one record per live vector, atomically by
// rename, so replacements do not make the log grow without bound.
func (vs *vectorStore) compact() error {
	tmp := vs.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("compacting the vector log: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var buf bytes.Buffer
	for s, id := range vs.ids {
		if id == "" {
			continue
		}
		buf.Reset()
		appendRecord(&buf, id, vs.data[s*vs.dims:(s+1)*vs.dims])
		if _, err := w.Write(buf.Bytes()); err != nil {
			f.Close()
			return fmt.Errorf("compacting the vector log: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("compacting the vector log: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("compacting the vector log: %w", err)
	}
	if err := os.Rename(tmp, vs.path); err != nil {
		f.Close()
		return fmt.Errorf("compacting the vector log: %w", err)
	}
	if d, err := os.Open(filepath.Dir(vs.path)); err == nil {
		_ = d.Sync() // make the rename durable where the platform allows
		d.Close()
	}
	vs.log.Close()
	vs.log = f
	vs.records = len(vs.slot)
	return nil
}

func (vs *vectorStore) close() error {
	if vs.log == nil {
		return nil
	}
	return vs.log.Close()
}

// scored is a neighbour candidate.
type scored struct {
	id  string
	sim float64
}

// topK is a min-heap of the k best candidates seen so far.
type topK []scored

func (h topK) Len() int           { return len(h) }
func (h topK) Less(i, j int) bool { return h[i].sim < h[j].sim }
func (h topK) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *topK) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *topK) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// nearest returns the k vectors most cosine-similar to id's, best first,
// by scanning them all: vectors are unit length, so cosine is the dot
// product. ok is false when id has no vector. The scan is split across
// workers goroutines. docs/search.md measures it against an HNSW graph
// (hnsw_graph_test.go), which was not adopted.
func (vs *vectorStore) nearest(id string, k int) (out []scored, ok bool) {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	self, ok := vs.slot[id]
	if !ok {
		return nil, false
	}
	d := vs.dims
	q := vs.data[self*d : (self+1)*d]
	n := len(vs.ids)
	workers := min(vs.workers, max(1, n/4096))
	parts := make([]topK, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Go(func() {
			h := make(topK, 0, k+1)
			for s := lo; s < hi; s++ {
				if s == self || vs.ids[s] == "" {
					continue
				}
				sim := float64(dot(q, vs.data[s*d:(s+1)*d]))
				if len(h) < k {
					heap.Push(&h, scored{vs.ids[s], sim})
				} else if sim > h[0].sim {
					h[0] = scored{vs.ids[s], sim}
					heap.Fix(&h, 0)
				}
			}
			parts[w] = h
		})
	}
	wg.Wait()
	all := make(topK, 0, k*workers)
	for _, p := range parts {
		all = append(all, p...)
	}
	// Highest first; equal similarities by id so answers are stable.
	sortScored(all)
	if len(all) > k {
		all = all[:k]
	}
	return all, true
}

func sortScored(s []scored) {
	slices.SortFunc(s, func(a, b scored) int {
		if c := cmp.Compare(b.sim, a.sim); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
}

func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

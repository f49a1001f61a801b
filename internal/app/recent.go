package app

import "sync"

// recent remembers the last n event ids a consumer finished, so a record
// redelivered after a restart or rebalance is not acted on twice.
type recent struct {
	mu    sync.Mutex
	ids   map[string]struct{}
	order []string
	next  int
}

func newRecent(n int) *recent {
	return &recent{ids: make(map[string]struct{}, n), order: make([]string, n)}
}

func (r *recent) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.ids[id]
	return ok
}

func (r *recent) add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.order[r.next]; old != "" {
		delete(r.ids, old)
	}
	r.order[r.next] = id
	r.ids[id] = struct{}{}
	r.next = (r.next + 1) % len(r.order)
}

package bus

import (
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// aligner reads co-partitioned topics in step (TransactOptions.AlignBy):
// partition n of each topic is one input of the same keys, and a processor
// in event time sees the same result however the inputs interleave only
// while none runs far ahead of another. A consumer catching up (after a
// restart, a move, a cut) fetches each partition at its own pace: a
// partition with small records covers minutes in the bytes where another
// covers seconds. So each polled batch is merged in timestamp order, and a
// partition whose records are more than by ahead of a same-numbered
// partition that still has records to read is paused until that one
// catches up. A partition with nothing left to read holds nothing back:
// sparse inputs cost a live consumer nothing.
type aligner struct {
	by  time.Duration
	now func() time.Time
	mu  sync.Mutex // the assign and revoke callbacks run on the group's goroutine
	// owned are the partitions the group gave this member: a batch polled
	// before a revoke took effect may still hold records of others.
	owned map[string]map[int32]bool
	pos   map[int32]map[string]*readPos // partition number → broker topic → position
	// first is, per partition number, the first batch since it was
	// assigned (or since an abort) that brought records of it: its inputs
	// not read yet are waited for from then on (waiting).
	first map[int32]firstRead
}

// firstRead is when a partition number's first records came, and the
// oldest of them: an input not read yet is taken to start there.
type firstRead struct {
	at, oldest time.Time
}

// readPos is how far a consumer has read one topic's partition.
type readPos struct {
	last    time.Time // newest record timestamp read
	next    int64     // offset after the last record read
	end     int64     // last stable offset at the last fetch with records
	fetched time.Time // wall clock of that fetch
	// held is the timestamp of the first record the last batch held back
	// (zero when it held none): the partition runs that far ahead.
	held   time.Time
	paused bool
}

// laggardFor is how long a partition that had records left to read at its
// last fetch with records still counts as behind. The client drops fetches
// that bring no records, so the end it knows is not refreshed once it is
// read through; and a transactional input's end can sit past commit
// markers, which are no records. A partition being caught up brings records
// at every fetch.
const laggardFor = time.Second

// behind reports whether the partition has records left to read.
func (p *readPos) behind(now time.Time) bool {
	return p.end > p.next && now.Sub(p.fetched) < laggardFor
}

// front is how far the partition has been read: its newest record, or the
// record it holds back, which it has read but not passed on.
func (p *readPos) front() time.Time {
	if p.held.After(p.last) {
		return p.held
	}
	return p.last
}

// waiting reports whether partition number part still waits for an owned
// input that brought no record yet: for laggardFor after its first
// records.
func (a *aligner) waiting(part int32, now time.Time) bool {
	f, ok := a.first[part]
	if !ok || now.Sub(f.at) >= laggardFor {
		return false
	}
	for topic, parts := range a.owned {
		if parts[part] && a.pos[part][topic] == nil {
			return true
		}
	}
	return false
}

// holding reports whether a partition is paused: its laggard may stop
// bringing records, so the caller should not block on polls for longer
// than laggardFor before steering again.
func (a *aligner) holding() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, byTopic := range a.pos {
		for _, p := range byTopic {
			if p.paused {
				return true
			}
		}
	}
	return false
}

func newAligner(by time.Duration) *aligner {
	return &aligner{by: by, now: time.Now, owned: map[string]map[int32]bool{}, first: map[int32]firstRead{}, pos: map[int32]map[string]*readPos{}}
}

// assign records partitions the group gave this member.
func (a *aligner) assign(assigned map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for topic, parts := range assigned {
		if a.owned[topic] == nil {
			a.owned[topic] = map[int32]bool{}
		}
		for _, p := range parts {
			a.owned[topic][p] = true
		}
	}
}

// batch records what fetches read and returns their records merged in
// timestamp order, each partition's records in their own order, with the
// offsets to read again: a record more than by newer than the newest one
// read of a same-numbered partition that still has records to read is
// held back, with the rest of its partition's run, for a later batch. One
// fetch of a dense topic can span seconds more than one of a sparse one,
// and a poll can drain one partition's buffered records and not
// another's; pauses act only on later fetches, so without the cut a
// catching-up consumer would still see one batch run ahead. The caller
// sets the consumer back to the rewind offsets (SetOffsets) before it
// commits, so the held-back records are neither lost nor read twice.
func (a *aligner) batch(fetches kgo.Fetches) ([]*kgo.Record, map[string]map[int32]kgo.EpochOffset) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	type run struct {
		topic string
		part  int32
		recs  []*kgo.Record
		pos   *readPos  // nil for a partition this member does not own
		last  time.Time // pos.last before this batch
	}
	var runs []run
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		// An empty fetch says nothing: where it started is unknown, so a
		// partition counts from the first record read.
		if fp.Err != nil || len(fp.Records) == 0 {
			return
		}
		r := run{topic: fp.Topic, part: fp.Partition, recs: fp.Records}
		if a.owned[fp.Topic][fp.Partition] { // else passed on, not steered by
			byTopic := a.pos[fp.Partition]
			if byTopic == nil {
				byTopic = map[string]*readPos{}
				a.pos[fp.Partition] = byTopic
			}
			p := byTopic[fp.Topic]
			if p == nil {
				p = &readPos{}
				byTopic[fp.Topic] = p
			}
			r.last = p.last
			p.end, p.fetched = fp.HighWatermark, now
			if fp.LastStableOffset >= 0 {
				p.end = fp.LastStableOffset
			}
			p.last = newest(p.last, fp.Records)
			p.next, p.held = fp.Records[len(fp.Records)-1].Offset+1, time.Time{}
			r.pos = p
		}
		runs = append(runs, r)
	})
	// A partition number's first batch with records: its oldest record.
	for _, r := range runs {
		if r.pos == nil {
			continue
		}
		f, seen := a.first[r.part]
		if seen && !f.at.Equal(now) {
			continue // an earlier batch was the first
		}
		if !seen || r.recs[0].Timestamp.Before(f.oldest) {
			a.first[r.part] = firstRead{at: now, oldest: r.recs[0].Timestamp}
		}
	}
	// Each partition number's limit: the oldest front of its partitions
	// with records left to read, and, while it waits for an input not
	// read yet, where its first records started (a restarted member's
	// inputs were committed together, so the missing one starts about
	// there; one poll can drain one partition's fetch and not another's).
	// The wait counts from the first records, not from the assignment: a
	// member can wait long between the two.
	limits := map[int32]time.Time{}
	lower := func(part int32, t time.Time) {
		if l, ok := limits[part]; !ok || t.Before(l) {
			limits[part] = t
		}
	}
	for part, byTopic := range a.pos {
		for _, q := range byTopic {
			if q.behind(now) {
				lower(part, q.front())
			}
		}
		if a.waiting(part, now) {
			lower(part, a.first[part].oldest)
		}
	}
	var rewind map[string]map[int32]kgo.EpochOffset
	n := 0
	for i := range runs {
		r := &runs[i]
		if limit, ok := limits[r.part]; ok && r.pos != nil {
			limit = limit.Add(a.by)
			if cut := slices.IndexFunc(r.recs, func(rec *kgo.Record) bool { return rec.Timestamp.After(limit) }); cut >= 0 {
				held := r.recs[cut]
				if rewind == nil {
					rewind = map[string]map[int32]kgo.EpochOffset{}
				}
				if rewind[r.topic] == nil {
					rewind[r.topic] = map[int32]kgo.EpochOffset{}
				}
				rewind[r.topic][r.part] = kgo.EpochOffset{Epoch: held.LeaderEpoch, Offset: held.Offset}
				r.recs = r.recs[:cut]
				r.pos.next, r.pos.last, r.pos.held = held.Offset, newest(r.last, r.recs), held.Timestamp
			}
		}
		n += len(r.recs)
	}
	out := make([]*kgo.Record, 0, n)
	recs := make([][]*kgo.Record, 0, len(runs))
	for _, r := range runs {
		if len(r.recs) > 0 {
			recs = append(recs, r.recs)
		}
	}
	for len(recs) > 0 {
		first := 0
		for i := 1; i < len(recs); i++ {
			if earlier(recs[i][0], recs[first][0]) {
				first = i
			}
		}
		out = append(out, recs[first][0])
		if recs[first] = recs[first][1:]; len(recs[first]) == 0 {
			recs = append(recs[:first], recs[first+1:]...)
		}
	}
	return out, rewind
}

// newest is the latest of t and the records' timestamps.
func newest(t time.Time, recs []*kgo.Record) time.Time {
	for _, r := range recs {
		if r.Timestamp.After(t) {
			t = r.Timestamp
		}
	}
	return t
}

// earlier orders records of different partitions: by timestamp, then
// topic and partition, so equal times merge the same way every time.
func earlier(r, q *kgo.Record) bool {
	if c := r.Timestamp.Compare(q.Timestamp); c != 0 {
		return c < 0
	}
	if r.Topic != q.Topic {
		return r.Topic < q.Topic
	}
	return r.Partition < q.Partition
}

// steer pauses the partitions that ran ahead (or had records held back for
// running ahead) and resumes those whose laggards caught up.
func (a *aligner) steer(cl *kgo.Client) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	pause, resume := map[string][]int32{}, map[string][]int32{}
	for part, byTopic := range a.pos {
		waiting := a.waiting(part, now)
		for topic, p := range byTopic {
			ahead := waiting && !p.held.IsZero()
			for other, q := range byTopic {
				if other != topic && q.behind(now) && p.front().Sub(q.front()) > a.by {
					ahead = true
					break
				}
			}
			switch {
			case ahead && !p.paused:
				pause[topic] = append(pause[topic], part)
			case !ahead && p.paused:
				resume[topic] = append(resume[topic], part)
			}
			p.paused = ahead
		}
	}
	if len(pause) > 0 {
		cl.PauseFetchPartitions(pause)
	}
	if len(resume) > 0 {
		cl.ResumeFetchPartitions(resume)
	}
}

// forget drops the partitions that left this member (all, with nil): their
// positions, and their pauses, which the client would otherwise keep.
func (a *aligner) forget(cl *kgo.Client, revoked map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if revoked == nil {
		clear(a.owned)
	}
	for topic, parts := range revoked {
		for _, p := range parts {
			delete(a.owned[topic], p)
		}
	}
	a.drop(cl, func(topic string, part int32) bool { return revoked == nil || slices.Contains(revoked[topic], part) })
}

// restart drops every position after an aborted batch: the client reads
// again from the committed offsets, behind what the positions say.
func (a *aligner) restart(cl *kgo.Client) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drop(cl, func(string, int32) bool { return true })
}

// drop removes the positions match selects and resumes those paused.
func (a *aligner) drop(cl *kgo.Client, match func(topic string, part int32) bool) {
	resume := map[string][]int32{}
	for part, byTopic := range a.pos {
		for topic, p := range byTopic {
			if !match(topic, part) {
				continue
			}
			if p.paused && cl != nil {
				resume[topic] = append(resume[topic], part)
			}
			delete(byTopic, topic)
		}
		if len(byTopic) == 0 {
			delete(a.pos, part)
			delete(a.first, part)
		}
	}
	if len(resume) > 0 {
		cl.ResumeFetchPartitions(resume)
	}
}

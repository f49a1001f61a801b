package bus

import (
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
	mu  sync.Mutex                    // the revoke callback runs on the group's goroutine
	pos map[int32]map[string]*readPos // partition number → broker topic → position
}

// readPos is how far a consumer has read one topic's partition.
type readPos struct {
	last   time.Time // newest record timestamp read
	next   int64     // offset after the last record read
	end    int64     // last stable offset at the last fetch: what there is to read
	paused bool
}

// behind reports whether the partition has records left to read. The last
// stable offset is one past a transaction's commit marker, which is no
// record: one offset short of it is the end.
func (p *readPos) behind() bool { return p.end-p.next > 1 }

func newAligner(by time.Duration) *aligner {
	return &aligner{by: by, pos: map[int32]map[string]*readPos{}}
}

// batch records what fetches read and returns their records merged in
// timestamp order, each partition's records in their own order.
func (a *aligner) batch(fetches kgo.Fetches) []*kgo.Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	var runs [][]*kgo.Record
	n := 0
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if fp.Err != nil {
			return
		}
		byTopic := a.pos[fp.Partition]
		p := byTopic[fp.Topic]
		if p == nil {
			if len(fp.Records) == 0 {
				// Where an empty fetch started is unknown: a partition
				// counts from its first record read.
				return
			}
			if byTopic == nil {
				byTopic = map[string]*readPos{}
				a.pos[fp.Partition] = byTopic
			}
			p = &readPos{}
			byTopic[fp.Topic] = p
		}
		if fp.LastStableOffset >= 0 {
			p.end = fp.LastStableOffset
		} else {
			p.end = fp.HighWatermark
		}
		if len(fp.Records) == 0 {
			return
		}
		for _, r := range fp.Records {
			if r.Timestamp.After(p.last) {
				p.last = r.Timestamp
			}
		}
		p.next = fp.Records[len(fp.Records)-1].Offset + 1
		runs = append(runs, fp.Records)
		n += len(fp.Records)
	})
	out := make([]*kgo.Record, 0, n)
	for len(runs) > 0 {
		first := 0
		for i := 1; i < len(runs); i++ {
			if runs[i][0].Timestamp.Before(runs[first][0].Timestamp) {
				first = i
			}
		}
		out = append(out, runs[first][0])
		if runs[first] = runs[first][1:]; len(runs[first]) == 0 {
			runs = append(runs[:first], runs[first+1:]...)
		}
	}
	return out
}

// steer pauses the partitions that ran ahead and resumes those whose
// laggards caught up.
func (a *aligner) steer(cl *kgo.Client) {
	a.mu.Lock()
	defer a.mu.Unlock()
	pause, resume := map[string][]int32{}, map[string][]int32{}
	for part, byTopic := range a.pos {
		for topic, p := range byTopic {
			ahead := false
			for other, q := range byTopic {
				if other != topic && q.behind() && p.last.Sub(q.last) > a.by {
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

// forget drops the positions of partitions that left (or all, with nil),
// resuming any it had paused.
func (a *aligner) forget(cl *kgo.Client, revoked map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	resume := map[string][]int32{}
	for part, byTopic := range a.pos {
		for topic, p := range byTopic {
			if revoked != nil && !containsPart(revoked[topic], part) {
				continue
			}
			if p.paused && cl != nil {
				resume[topic] = append(resume[topic], part)
			}
			delete(byTopic, topic)
		}
		if len(byTopic) == 0 {
			delete(a.pos, part)
		}
	}
	if len(resume) > 0 {
		cl.ResumeFetchPartitions(resume)
	}
}

func containsPart(parts []int32, p int32) bool {
	for _, q := range parts {
		if q == p {
			return true
		}
	}
	return false
}

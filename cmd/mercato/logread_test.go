package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readLog passes every record of topics, from the start, to fn until it
// has read each partition to the end it had when readLog began: the last
// stable offset when committed (read_committed), the high watermark
// otherwise. An empty poll means the fetch is not there yet, never that the
// log ended, so a slow client or a busy broker only makes it slower.
// Transaction markers are read (they may be the last record before the
// end) but not passed to fn. opts add client options (security).
func readLog(ctx context.Context, seed string, topics []string, committed bool, fn func(*kgo.Record) error, opts ...kgo.Opt) error {
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seed), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords()}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	list := kadm.NewClient(cl).ListEndOffsets
	if committed {
		list = kadm.NewClient(cl).ListCommittedOffsets
	}
	ends, err := list(ctx, topics...)
	if err != nil {
		return fmt.Errorf("listing end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("listing end offsets: %w", err)
	}
	type tp struct {
		topic     string
		partition int32
	}
	want := map[tp]int64{} // partitions not read to their end yet
	next := map[tp]int64{} // the offset after the last record read
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[tp{o.Topic, o.Partition}] = o.Offset
		}
	})
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			left := make([]string, 0, len(want))
			for p, end := range want {
				left = append(left, fmt.Sprintf("%s/%d at %d of %d", p.topic, p.partition, next[p], end))
			}
			sort.Strings(left)
			return fmt.Errorf("the log was not read to its end: %s: %w", strings.Join(left, ", "), ctx.Err())
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) { ferr = fmt.Errorf("fetching %s/%d: %w", topic, p, err) })
		if ferr != nil {
			return ferr
		}
		for _, r := range fs.Records() {
			p := tp{r.Topic, r.Partition}
			next[p] = r.Offset + 1
			if end, ok := want[p]; ok && r.Offset+1 >= end {
				delete(want, p)
			}
			if r.Attrs.IsControl() {
				continue
			}
			if err := fn(r); err != nil {
				return fmt.Errorf("%s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
		}
	}
	return nil
}

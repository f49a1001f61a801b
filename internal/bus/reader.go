package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Offsets are positions in logical topics: topic, then partition, then the
// next offset to read there.
type Offsets map[string]map[int32]int64

// ErrOffsetTrimmed is returned by ReadRange when a requested offset is
// below the partition's log start: retention deleted records it asked for.
var ErrOffsetTrimmed = errors.New("bus: requested records are no longer in the log")

// StableOffsets returns the last stable offset of every partition of the
// logical topics: where a read_committed reader that starts now begins.
func (c *Client) StableOffsets(ctx context.Context, topics ...string) (Offsets, error) {
	return c.listOffsets(ctx, topics, func(adm *kadm.Client, names []string) (kadm.ListedOffsets, error) {
		return adm.ListCommittedOffsets(ctx, names...)
	})
}

// StartOffsets returns the log start offset of every partition of the
// logical topics: the oldest record retention kept.
func (c *Client) StartOffsets(ctx context.Context, topics ...string) (Offsets, error) {
	return c.listOffsets(ctx, topics, func(adm *kadm.Client, names []string) (kadm.ListedOffsets, error) {
		return adm.ListStartOffsets(ctx, names...)
	})
}

func (c *Client) listOffsets(ctx context.Context, topics []string, list func(*kadm.Client, []string) (kadm.ListedOffsets, error)) (Offsets, error) {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = c.Topic(t)
	}
	listed, err := list(kadm.NewClient(c.cl), names)
	if err != nil {
		return nil, c.opts.Security.connError("listing offsets", err)
	}
	out := make(Offsets, len(topics))
	var lerr error
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = fmt.Errorf("listing offsets of %s partition %d: %w", o.Topic, o.Partition, o.Err)
			return
		}
		t := c.logical(o.Topic)
		if out[t] == nil {
			out[t] = map[int32]int64{}
		}
		out[t][o.Partition] = o.Offset
	})
	if lerr != nil {
		return nil, lerr
	}
	for _, t := range topics {
		if len(out[t]) == 0 {
			return nil, fmt.Errorf("topic %s does not exist", c.Topic(t))
		}
	}
	return out, nil
}

// kgoOffsets is from with broker topic names, as exact starting offsets.
func (c *Client) kgoOffsets(from Offsets) map[string]map[int32]kgo.Offset {
	out := make(map[string]map[int32]kgo.Offset, len(from))
	for t, parts := range from {
		m := make(map[int32]kgo.Offset, len(parts))
		for p, o := range parts {
			m[p] = kgo.NewOffset().At(o)
		}
		out[c.Topic(t)] = m
	}
	return out
}

// Follow reads the given partitions from the given offsets, read_committed
// and outside any consumer group (every caller sees every record), passing
// each polled batch (at most max records, in offset order per partition) to
// fn until ctx ends. Fetch errors go to onErr when set; the reader retries
// on its own. Partitions added to the topics later are not read.
func (c *Client) Follow(ctx context.Context, from Offsets, max int, fn func([]Record), onErr func(error)) error {
	cl, err := kgo.NewClient(c.clientOpts(
		kgo.ConsumePartitions(c.kgoOffsets(from)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		return fmt.Errorf("opening a reader: %w", err)
	}
	defer cl.Close()
	c.pollBatches(ctx, cl, max, fn, onErr, nil)
	return nil
}

// pollBatches passes each polled batch of cl's records (logical topics) to
// fn, and fetch errors to onErr when set, until ctx ends or cl closes.
func (c *Client) pollBatches(ctx context.Context, cl *kgo.Client, max int, fn func([]Record), onErr func(error), lag *lagTracker) {
	for {
		fs := cl.PollRecords(ctx, max)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		if onErr != nil {
			fs.EachError(func(_ string, _ int32, err error) {
				if !errors.Is(err, context.Canceled) {
					onErr(err)
				}
			})
		}
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		batch := make([]Record, len(recs))
		for i, r := range recs {
			batch[i] = c.fromKgo(r)
		}
		fn(batch)
		if lag != nil {
			fs.EachPartition(lag.fetched)
		}
	}
}

// ReadRange reads, of every partition in to, the committed records from
// from (0 when from lacks the partition) up to but excluding to, passing
// each to fn in offset order per partition; an error from fn stops the
// read and is returned. Aborted records and transaction markers are
// skipped. A from below the partition's log start fails with
// ErrOffsetTrimmed before anything is read.
func (c *Client) ReadRange(ctx context.Context, from, to Offsets, fn func(*Record) error) error {
	todo := map[string]map[int32]int64{} // broker topic -> partition -> end
	start := Offsets{}
	var topics []string
	for t, parts := range to {
		for p, end := range parts {
			f := from[t][p]
			if f >= end {
				continue
			}
			if todo[c.Topic(t)] == nil {
				todo[c.Topic(t)] = map[int32]int64{}
				start[t] = map[int32]int64{}
				topics = append(topics, t)
			}
			todo[c.Topic(t)][p] = end
			start[t][p] = f
		}
	}
	if len(topics) == 0 {
		return nil
	}
	logStarts, err := c.StartOffsets(ctx, topics...)
	if err != nil {
		return err
	}
	for t, parts := range start {
		for p, f := range parts {
			if ls, ok := logStarts[t][p]; !ok || f < ls {
				return fmt.Errorf("%w: %s partition %d from %d", ErrOffsetTrimmed, t, p, f)
			}
		}
	}
	cl, err := kgo.NewClient(c.clientOpts(
		kgo.ConsumePartitions(c.kgoOffsets(start)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Markers are kept so the reader sees that it reached its end even
		// when the last offsets before it are a commit or abort marker.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("opening a reader: %w", err)
	}
	defer cl.Close()
	left := 0
	for _, parts := range todo {
		left += len(parts)
	}
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("reading %s partition %d: %w", t, p, err) })
		if ferr != nil {
			return ferr
		}
		var ferr2 error
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := todo[r.Topic][r.Partition]
			if !ok || ferr2 != nil {
				return
			}
			if r.Offset < end && !r.Attrs.IsControl() {
				rec := c.fromKgo(r)
				if err := fn(&rec); err != nil {
					ferr2 = err
					return
				}
			}
			if r.Offset+1 >= end {
				delete(todo[r.Topic], r.Partition)
				left--
			}
		})
		if ferr2 != nil {
			return ferr2
		}
	}
	return nil
}

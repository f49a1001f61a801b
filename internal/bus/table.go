package bus

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// clientOpts are the options every client Mercato opens starts from: where
// the brokers are, who is asking and how it proves it (TLS, SASL), and its
// rack.
func (c *Client) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.opts.Brokers...), kgo.ClientID(c.opts.ClientID)}
	opts = append(opts, c.sec...)
	if c.opts.Rack != "" {
		opts = append(opts, kgo.Rack(c.opts.Rack))
	}
	return append(opts, extra...)
}

// Partitions returns the partition count of each logical topic; a topic that
// does not exist is an error naming it.
func (c *Client) Partitions(ctx context.Context, topics ...string) (map[string]int, error) {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = c.Topic(t)
	}
	md, err := kadm.NewClient(c.cl).Metadata(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("reading topic metadata: %w", err)
	}
	out := make(map[string]int, len(topics))
	for i, name := range names {
		d, ok := md.Topics[name]
		if !ok || d.Err != nil {
			return nil, fmt.Errorf("topic %s does not exist", name)
		}
		out[topics[i]] = len(d.Partitions)
	}
	return out, nil
}

// Table reads a whole topic, every partition from its start, read_committed,
// and keeps following it: how a compacted topic is read as a table (pricing
// rules, prices). It is not a group member, so every reader sees everything.
type Table struct {
	c     *Client
	topic string
	cl    *kgo.Client
	lag   *lagTracker
}

// OpenTable starts a table reader of a logical topic.
func (c *Client) OpenTable(topic string) (*Table, error) {
	cl, err := kgo.NewClient(c.clientOpts(
		kgo.ConsumeTopics(c.Topic(topic)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("opening a reader of %s: %w", topic, err)
	}
	return &Table{c: c, topic: topic, cl: cl}, nil
}

// CatchUp reads until every partition reached the last stable offset it had
// when CatchUp was called, passing each record to fn.
func (t *Table) CatchUp(ctx context.Context, fn func(*Record)) error {
	ends, err := kadm.NewClient(t.cl).ListCommittedOffsets(ctx, t.c.Topic(t.topic))
	if err != nil {
		return fmt.Errorf("listing offsets of %s: %w", t.topic, err)
	}
	todo := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			todo[o.Partition] = o.Offset
		}
	})
	for len(todo) > 0 {
		fs := t.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		fs.EachRecord(func(r *kgo.Record) {
			rec := t.c.fromKgo(r)
			fn(&rec)
			if end, ok := todo[r.Partition]; ok && r.Offset+1 >= end {
				delete(todo, r.Partition)
			}
		})
	}
	return nil
}

// Follow reads until ctx ends or the table is closed, passing each polled
// batch (at most max records) to fn. Fetch errors go to onErr when set; the
// reader retries on its own.
func (t *Table) Follow(ctx context.Context, max int, fn func([]Record), onErr func(error)) {
	t.c.pollBatches(ctx, t.cl, max, fn, onErr, t.lag)
}

// ReportLag makes Follow keep mercato_consumer_lag{group=reader, topic}
// current, as a consumer group's is, and creates the series at 0 now.
// Call it before Follow.
func (t *Table) ReportLag(reader string) {
	t.lag = newLagTracker(t.c, reader)
	t.lag.declare([]string{t.topic})
}

// Close stops the reader.
func (t *Table) Close() { t.cl.Close() }

// ReadPartitions reads the given partitions of a logical topic from their
// start up to the last stable offset each had when it was called, passing
// each committed record to fn: a consistent snapshot of a changelog.
// Records of aborted transactions and transaction markers are skipped.
func (c *Client) ReadPartitions(ctx context.Context, topic string, parts []int32, fn func(*Record)) error {
	name := c.Topic(topic)
	adm := kadm.NewClient(c.cl)
	ends, err := adm.ListCommittedOffsets(ctx, name)
	if err != nil {
		return fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, name)
	if err != nil {
		return fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	todo := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	for _, part := range parts {
		end, ok1 := ends.Lookup(name, part)
		start, ok2 := starts.Lookup(name, part)
		if !ok1 || !ok2 || end.Err != nil || start.Err != nil {
			return fmt.Errorf("%s partition %d has no offsets", topic, part)
		}
		if end.Offset > start.Offset {
			todo[part] = end.Offset
			from[part] = kgo.NewOffset().AtStart()
		}
	}
	if len(todo) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(c.clientOpts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{name: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are kept so the reader knows it reached the
		// last stable offset even when aborted records precede it.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("opening a reader of %s: %w", topic, err)
	}
	defer cl.Close()
	for len(todo) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return fmt.Errorf("reading %s: %w", topic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := todo[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				rec := c.fromKgo(r)
				fn(&rec)
			}
			if r.Offset+1 >= end {
				delete(todo, r.Partition)
			}
		})
	}
	return nil
}

// GroupLag is how many records of the logical topics the consumer group has
// not committed yet: the sum over partitions of end offset minus committed
// offset (the whole partition when the group committed nothing there).
func (c *Client) GroupLag(ctx context.Context, group string, topics ...string) (int64, error) {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = c.Topic(t)
	}
	adm := kadm.NewClient(c.cl)
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return 0, fmt.Errorf("listing end offsets: %w", err)
	}
	committed, err := adm.FetchOffsetsForTopics(ctx, c.opts.Prefix+group, names...)
	if err != nil {
		return 0, fmt.Errorf("fetching offsets of group %s: %w", group, err)
	}
	var lag int64
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = o.Err
			return
		}
		if o.Offset <= 0 {
			return
		}
		if got, ok := committed.Lookup(o.Topic, o.Partition); ok && got.At >= 0 {
			lag += max(o.Offset-got.At, 0)
		} else {
			lag += o.Offset
		}
	})
	if lerr != nil {
		return 0, fmt.Errorf("listing end offsets: %w", lerr)
	}
	return lag, nil
}

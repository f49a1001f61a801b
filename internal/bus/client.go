package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/event"
)

// Header keys Mercato sets on records.
const (
	HeaderEventType       = "mercato-event-type"
	HeaderEventID         = "mercato-event-id"
	HeaderError           = "mercato-error"
	HeaderSourceTopic     = "mercato-source-topic"
	HeaderSourcePartition = "mercato-source-partition"
	HeaderSourceOffset    = "mercato-source-offset"
)

// Options configure a Client.
type Options struct {
	Brokers  []string
	Prefix   string // prepended to every logical topic name
	ClientID string
	Logger   *slog.Logger
	Metrics  *Metrics
}

// Client is an idempotent, acks=all producer plus the factory for consumers.
type Client struct {
	opts Options
	cl   *kgo.Client
	log  *slog.Logger
}

// NewClient connects a producer client. It does not block on the network.
func NewClient(o Options) (*Client, error) {
	if len(o.Brokers) == 0 {
		return nil, errors.New("bus: no seed brokers")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.ClientID == "" {
		o.ClientID = "mercato"
	}
	c := &Client{opts: o, log: o.Logger}
	cl, err := kgo.NewClient(c.clientOpts(
		// acks=all and idempotence are franz-go's defaults; spelled out because
		// the outbox relay's ordering and no-duplicate promises depend on them.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("creating Kafka client: %w", err)
	}
	c.cl = cl
	return c, nil
}

// Topic maps a logical topic name to the broker's name.
func (c *Client) Topic(logical string) string { return c.opts.Prefix + logical }

// Publish produces msgs in order and returns once the broker acknowledged all
// of them. Records with the same key keep their order.
func (c *Client) Publish(ctx context.Context, msgs ...event.Message) error {
	recs := make([]*Record, 0, len(msgs))
	for _, m := range msgs {
		r, err := EventRecord(m)
		if err != nil {
			return fmt.Errorf("publishing %s: %w", m.Envelope.ID, err)
		}
		recs = append(recs, &r)
	}
	return c.Produce(ctx, recs...)
}

// Produce produces records (logical topic names) and waits for all acks.
func (c *Client) Produce(ctx context.Context, recs ...*Record) error {
	out := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		out[i] = c.toKgo(r)
	}
	if err := c.cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
		return fmt.Errorf("producing %d records: %w", len(recs), err)
	}
	for _, r := range out {
		c.opts.Metrics.Published.WithLabelValues(r.Topic).Inc()
	}
	return nil
}

// Ping checks that a broker answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.cl.Ping(ctx); err != nil {
		return fmt.Errorf("pinging Kafka: %w", err)
	}
	return nil
}

// Close flushes nothing further and closes connections.
func (c *Client) Close() { c.cl.Close() }

// EnsureTopics creates the given topics with partitions and, for compacted
// ones, cleanup.policy=compact. Existing topics are left as they are.
func (c *Client) EnsureTopics(ctx context.Context, specs []event.TopicSpec, partitions int) error {
	adm := kadm.NewClient(c.cl)
	byConfig := map[bool][]string{}
	for _, s := range specs {
		byConfig[s.Compacted] = append(byConfig[s.Compacted], c.Topic(s.Name))
	}
	for compacted, names := range byConfig {
		var configs map[string]*string
		if compacted {
			p := "compact"
			configs = map[string]*string{"cleanup.policy": &p}
		}
		resp, err := adm.CreateTopics(ctx, int32(partitions), -1, configs, names...)
		if err != nil {
			return fmt.Errorf("creating topics: %w", err)
		}
		for _, r := range resp.Sorted() {
			if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
				return fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
			}
		}
	}
	return nil
}

package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(o.Brokers...),
		kgo.ClientID(o.ClientID),
		// acks=all and idempotence are franz-go's defaults; spelled out because
		// the outbox relay's ordering and no-duplicate promises depend on them.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(time.Millisecond),
	)
	if err != nil {
		return nil, fmt.Errorf("creating Kafka client: %w", err)
	}
	return &Client{opts: o, cl: cl, log: o.Logger}, nil
}

// Topic maps a logical topic name to the broker's name.
func (c *Client) Topic(logical string) string { return c.opts.Prefix + logical }

// Record turns an addressed envelope into a Kafka record.
func (c *Client) Record(m event.Message) (*kgo.Record, error) {
	val, err := m.Envelope.Encode()
	if err != nil {
		return nil, err
	}
	return &kgo.Record{
		Topic:   c.Topic(m.Topic),
		Key:     []byte(m.Envelope.Subject),
		Value:   val,
		Headers: []kgo.RecordHeader{{Key: HeaderEventType, Value: []byte(m.Envelope.Type)}},
	}, nil
}

// Publish produces msgs in order and returns once the broker acknowledged all
// of them. Records with the same key keep their order.
func (c *Client) Publish(ctx context.Context, msgs ...event.Message) error {
	recs := make([]*kgo.Record, 0, len(msgs))
	for _, m := range msgs {
		r, err := c.Record(m)
		if err != nil {
			return fmt.Errorf("publishing %s: %w", m.Envelope.ID, err)
		}
		recs = append(recs, r)
	}
	return c.ProduceRecords(ctx, recs...)
}

// ProduceRecords produces already-built records and waits for all acks.
func (c *Client) ProduceRecords(ctx context.Context, recs ...*kgo.Record) error {
	if err := c.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("producing %d records: %w", len(recs), err)
	}
	for _, r := range recs {
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

// Kgo exposes the underlying client for tests and admin tools.
func (c *Client) Kgo() *kgo.Client { return c.cl }

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

// dlqRecord builds the dead-letter copy of rec, carrying err in a header.
func (c *Client) dlqRecord(rec *kgo.Record, err error) *kgo.Record {
	msg := err.Error()
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	headers := append([]kgo.RecordHeader{}, rec.Headers...)
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderError, Value: []byte(msg)},
		kgo.RecordHeader{Key: HeaderSourceTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
		kgo.RecordHeader{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
	)
	return &kgo.Record{Topic: rec.Topic + event.DLQSuffix, Key: rec.Key, Value: rec.Value, Headers: headers}
}

// DLQRecord is the dead-letter record for rec, for transactional processors
// that produce it inside their own transaction.
func (c *Client) DLQRecord(rec *kgo.Record, err error) *kgo.Record { return c.dlqRecord(rec, err) }

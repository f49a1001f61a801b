package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
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
	// Security is TLS and SASL for a secured cluster.
	Security Security
	// Rack is the client's rack, so consumers fetch from the closest
	// replica when the brokers allow it (KIP-392).
	Rack string
	// Topics is how EnsureTopics creates topics.
	Topics TopicPolicy
	// SessionTimeout is the session timeout of every consumer group this
	// client's consumers and transactors join: how long a member that
	// stopped heartbeating (crashed, cut off) keeps its partitions before
	// the group moves them. 0 keeps the client default, 45 s.
	SessionTimeout time.Duration
}

// TopicPolicy is how Mercato creates its topics on the cluster.
type TopicPolicy struct {
	// ReplicationFactor of created topics; 0 or less uses the broker's default.
	ReplicationFactor int
	// MinInsyncReplicas sets min.insync.replicas on created topics; 0 keeps
	// the broker's default.
	MinInsyncReplicas int
	// NoCreate makes EnsureTopics only check that the topics exist, for
	// clusters where topics are provisioned by their operators.
	NoCreate bool
}

// Client is an idempotent, acks=all producer plus the factory for consumers.
type Client struct {
	opts Options
	cl   *kgo.Client
	log  *slog.Logger
	sec  []kgo.Opt // TLS and SASL, built once from opts.Security
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
	sec, err := o.Security.ClientOpts()
	if err != nil {
		return nil, err
	}
	c := &Client{opts: o, log: o.Logger, sec: sec}
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
		return c.opts.Security.connError("pinging Kafka", err)
	}
	return nil
}

// Close flushes nothing further and closes connections.
func (c *Client) Close() { c.cl.Close() }

// EnsureTopics creates the given topics with partitions and, for compacted
// ones, cleanup.policy=compact, with the replication factor and
// min.insync.replicas of the client's TopicPolicy. Existing topics are left
// as they are. With TopicPolicy.NoCreate it creates nothing and fails
// naming every topic that does not exist.
func (c *Client) EnsureTopics(ctx context.Context, specs []event.TopicSpec, partitions int) error {
	if c.opts.Topics.NoCreate {
		return c.checkTopicsExist(ctx, specs)
	}
	adm := kadm.NewClient(c.cl)
	rf := int16(-1)
	if p := c.opts.Topics.ReplicationFactor; p > 0 {
		rf = int16(min(p, math.MaxInt16))
	}
	byConfig := map[bool][]string{}
	for _, s := range specs {
		byConfig[s.Compacted] = append(byConfig[s.Compacted], c.Topic(s.Name))
	}
	for compacted, names := range byConfig {
		configs := map[string]*string{}
		if compacted {
			p := "compact"
			configs["cleanup.policy"] = &p
		}
		if n := c.opts.Topics.MinInsyncReplicas; n > 0 {
			v := strconv.Itoa(n)
			configs["min.insync.replicas"] = &v
		}
		resp, err := adm.CreateTopics(ctx, int32(partitions), rf, configs, names...)
		if err != nil {
			return c.opts.Security.connError("creating topics", err)
		}
		for _, r := range resp.Sorted() {
			if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
				return fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
			}
		}
	}
	return nil
}

// checkTopicsExist fails naming every topic of specs the cluster lacks.
func (c *Client) checkTopicsExist(ctx context.Context, specs []event.TopicSpec) error {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = c.Topic(s.Name)
	}
	states, err := c.topicStates(ctx, names)
	if err != nil {
		return err
	}
	var missing []string
	for _, name := range names {
		if _, ok := states[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("topic creation is off and %d topics do not exist: %s", len(missing), strings.Join(missing, ", "))
	}
	return nil
}

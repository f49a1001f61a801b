package bus

import (
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mercato-platform/mercato/internal/event"
)

// Record is a Kafka record as Mercato's code sees it. Topic is always the
// logical name (event.Topic*): the bus adds the deployment's prefix on the
// way out and strips it on the way in, in one place (Client.Topic,
// Client.logical).
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Header returns the value of the first header named key.
func (r *Record) Header(key string) ([]byte, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// logical strips the deployment's prefix from a broker topic name.
func (c *Client) logical(topic string) string {
	return strings.TrimPrefix(topic, c.opts.Prefix)
}

// logicalAssignment is an assignment map with logical topic names.
func (c *Client) logicalAssignment(m map[string][]int32) map[string][]int32 {
	out := make(map[string][]int32, len(m))
	for topic, parts := range m {
		out[c.logical(topic)] = parts
	}
	return out
}

// fromKgo is r as a Record.
func (c *Client) fromKgo(r *kgo.Record) Record {
	out := Record{Topic: c.logical(r.Topic), Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	if len(r.Headers) > 0 {
		out.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			out.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	return out
}

// toKgo is r as a record for the broker.
func (c *Client) toKgo(r *Record) *kgo.Record {
	out := &kgo.Record{Topic: c.Topic(r.Topic), Key: r.Key, Value: r.Value}
	if len(r.Headers) > 0 {
		out.Headers = make([]kgo.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			out.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	return out
}

// EventRecord turns an addressed envelope into a record.
func EventRecord(m event.Message) (Record, error) {
	val, err := m.Envelope.Encode()
	if err != nil {
		return Record{}, err
	}
	return Record{
		Topic:   m.Topic,
		Key:     []byte(m.Envelope.Subject),
		Value:   val,
		Headers: []Header{{Key: HeaderEventType, Value: []byte(m.Envelope.Type)}},
	}, nil
}

// DeadLetter is the dead-letter copy of rec, on <topic>.dlq, carrying err and
// where rec came from (the broker's topic name) in headers.
func (c *Client) DeadLetter(rec *Record, err error) *Record {
	msg := err.Error()
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	headers := make([]Header, 0, len(rec.Headers)+4)
	headers = append(headers, rec.Headers...)
	headers = append(headers,
		Header{Key: HeaderError, Value: []byte(msg)},
		Header{Key: HeaderSourceTopic, Value: []byte(c.Topic(rec.Topic))},
		Header{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
		Header{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
	)
	return &Record{Topic: rec.Topic + event.DLQSuffix, Key: rec.Key, Value: rec.Value, Headers: headers}
}

// partitioner is the default key partitioner (murmur2, like the Java
// client's), the one every Mercato producer uses.
var partitioner = kgo.StickyKeyPartitioner(nil)

// PartitionOf is the partition of n that the default partitioner sends key to.
func PartitionOf(key []byte, n int) int32 {
	return int32(partitioner.ForTopic("").Partition(&kgo.Record{Key: key}, n))
}

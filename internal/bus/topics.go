package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mercato-platform/mercato/internal/event"
)

// TopicInfo is what the cluster says about one of Mercato's topics.
type TopicInfo struct {
	// Name is the logical name, Topic the broker's (prefix included).
	Name, Topic string
	Exists      bool
	Partitions  int
	// Replication is the smallest replica count of any partition.
	Replication int
	// Config values as the broker reports them; empty when it reports none.
	RetentionMs, CleanupPolicy, MinInsyncReplicas string
}

// DescribeTopics reports partitions, replication and the configs that
// matter to Mercato of each spec's topic, in the order of specs. A topic
// that does not exist is reported with Exists false, not as an error.
func (c *Client) DescribeTopics(ctx context.Context, specs []event.TopicSpec) ([]TopicInfo, error) {
	adm := kadm.NewClient(c.cl)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = c.Topic(s.Name)
	}
	states, err := c.topicStates(ctx, names)
	if err != nil {
		return nil, err
	}
	out := make([]TopicInfo, len(specs))
	var existing []string
	for i, name := range names {
		out[i] = TopicInfo{Name: specs[i].Name, Topic: name}
		st, ok := states[name]
		if !ok {
			continue
		}
		out[i].Exists = true
		out[i].Partitions = st.partitions
		out[i].Replication = st.replication
		existing = append(existing, name)
	}
	if len(existing) == 0 {
		return out, nil
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		return nil, fmt.Errorf("describing topic configs: %w", err)
	}
	byName := make(map[string]kadm.ResourceConfig, len(rcs))
	for _, rc := range rcs {
		byName[rc.Name] = rc
	}
	for i := range out {
		rc, ok := byName[out[i].Topic]
		if !ok {
			continue
		}
		if rc.Err != nil {
			return nil, fmt.Errorf("describing configs of topic %s: %w", rc.Name, rc.Err)
		}
		for _, cfg := range rc.Configs {
			v := cfg.MaybeValue()
			switch cfg.Key {
			case "retention.ms":
				out[i].RetentionMs = v
			case "cleanup.policy":
				out[i].CleanupPolicy = v
			case "min.insync.replicas":
				out[i].MinInsyncReplicas = v
			}
		}
	}
	return out, nil
}

// CreateTopics creates the specs' topics like EnsureTopics, even when the
// client's TopicPolicy turns creation off: it is the explicit request of an
// operator (mercato topics create).
func (c *Client) CreateTopics(ctx context.Context, specs []event.TopicSpec, partitions int) error {
	cc := *c
	cc.opts.Topics.NoCreate = false
	return cc.EnsureTopics(ctx, specs, partitions)
}

// topicState is one topic as a fresh metadata response describes it.
type topicState struct {
	partitions  int
	replication int // smallest replica count of any partition
}

// topicStates asks a broker about names, bypassing the client's metadata
// cache: a topic created a moment ago must be seen. Topics the broker does
// not know are absent from the map.
func (c *Client) topicStates(ctx context.Context, names []string) (map[string]topicState, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, n := range names {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return nil, c.opts.Security.connError("reading topic metadata", err)
	}
	out := make(map[string]topicState, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				continue
			}
			return nil, fmt.Errorf("reading metadata of topic %s: %w", *t.Topic, err)
		}
		st := topicState{partitions: len(t.Partitions), replication: -1}
		for _, p := range t.Partitions {
			if st.replication < 0 || len(p.Replicas) < st.replication {
				st.replication = len(p.Replicas)
			}
		}
		out[*t.Topic] = st
	}
	return out, nil
}

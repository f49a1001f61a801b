package bus

import (
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedBroker is an in-process Kafka-protocol broker that any Kafka client
// (kcat included) can attach to.
type EmbeddedBroker struct {
	cluster *kfake.Cluster
	addr    string
}

// EmbeddedOptions configure the embedded broker.
type EmbeddedOptions struct {
	// Listen is host:port; port 0 picks a free port.
	Listen string
	// DataDir makes the log durable on disk; empty keeps it in memory.
	DataDir string
	// SyncWrites fsyncs every produced batch before it is acknowledged, so an
	// acknowledged record survives kill -9 and power loss.
	SyncWrites bool
	// Partitions is the default partition count for auto-created topics.
	Partitions int
}

// StartEmbedded starts the broker. It returns an error (not a panic) when the
// address is taken or the data directory cannot be used.
func StartEmbedded(o EmbeddedOptions) (*EmbeddedBroker, error) {
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded broker listen address %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker port %q: %w", portStr, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ClusterID("mercato"),
		// kfake always asks for 127.0.0.1:<port>; listen on the configured host instead.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
	}
	if o.Partitions > 0 {
		opts = append(opts, kfake.DefaultNumPartitions(o.Partitions))
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
		if o.SyncWrites {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded broker on %s: %w", o.Listen, err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		c.Close()
		return nil, fmt.Errorf("embedded broker on %s has no listener", o.Listen)
	}
	return &EmbeddedBroker{cluster: c, addr: addrs[0]}, nil
}

// Addr is the broker's host:port, to be used as a seed broker.
func (b *EmbeddedBroker) Addr() string { return b.addr }

// Close stops the broker and flushes its log.
func (b *EmbeddedBroker) Close() { b.cluster.Close() }

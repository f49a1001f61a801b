package bus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	// TLSCertFile and TLSKeyFile (PEM) make the broker accept TLS
	// connections only.
	TLSCertFile, TLSKeyFile string
	// Users are the SASL users the broker knows; with any, every connection
	// must authenticate as one of them.
	Users []BrokerUser
	// ACLs turns on authorization: superusers may do anything, other users
	// only what their Grants allow.
	ACLs bool
}

// BrokerUser is a SASL user of the embedded broker.
type BrokerUser struct {
	// Mechanism is SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN.
	Mechanism string
	Name      string
	Password  string
	// Superuser bypasses ACL checks.
	Superuser bool
	// Grants are what a non-superuser may do when ACLs are on.
	Grants Grants
}

// Grants is a principal's access when the embedded broker checks ACLs.
// Topic and group names are the broker's (prefix included).
type Grants struct {
	// Read lets the user consume these topics and describe them.
	Read []string
	// Write lets the user produce to these topics.
	Write []string
	// Groups are consumer groups the user may join and commit in.
	Groups []string
	// TransactionalIDs the user may use for transactions.
	TransactionalIDs []string
	// TransactionalIDPrefixes: every transactional id starting with one.
	TransactionalIDPrefixes []string
	// Describe lets the user see these topics' metadata and offsets only.
	Describe []string
	// DescribeGroups lets the user read these groups' offsets (for lag).
	DescribeGroups []string
	// CreateTopics lets the user create topics (cluster-wide).
	CreateTopics bool
}

// Grant is one ACL entry of a principal: allow Operation on a resource.
type Grant struct {
	Resource  string // Topic, Group, TransactionalId or Cluster
	Name      string // the resource's name (kafka-cluster for Cluster)
	Prefixed  bool   // Name is a prefix, not a literal
	Operation string // Read, Write, Describe, IdempotentWrite, Create
}

// List is g as ACL entries, in a stable order.
func (g Grants) List() []Grant {
	var out []Grant
	add := func(res, name string, prefixed bool, op string) {
		out = append(out, Grant{Resource: res, Name: name, Prefixed: prefixed, Operation: op})
	}
	for _, t := range g.Read {
		add("Topic", t, false, "Read")
	}
	for _, t := range g.Write {
		add("Topic", t, false, "Write")
	}
	for _, t := range g.Describe {
		add("Topic", t, false, "Describe")
	}
	for _, grp := range g.Groups {
		add("Group", grp, false, "Read")
	}
	for _, grp := range g.DescribeGroups {
		add("Group", grp, false, "Describe")
	}
	for _, id := range g.TransactionalIDs {
		add("TransactionalId", id, false, "Write")
	}
	for _, id := range g.TransactionalIDPrefixes {
		add("TransactionalId", id, true, "Write")
	}
	if len(g.TransactionalIDs)+len(g.TransactionalIDPrefixes)+len(g.Write) > 0 {
		// Idempotent producers need IdempotentWrite on the cluster.
		add("Cluster", "kafka-cluster", false, "IdempotentWrite")
	}
	if g.CreateTopics {
		add("Cluster", "kafka-cluster", false, "Create")
	}
	return out
}

// acls turns g into kfake's ACL entries.
func (g Grants) acls() []kfake.ACL {
	resources := map[string]kmsg.ACLResourceType{
		"Topic": kmsg.ACLResourceTypeTopic, "Group": kmsg.ACLResourceTypeGroup,
		"TransactionalId": kmsg.ACLResourceTypeTransactionalId, "Cluster": kmsg.ACLResourceTypeCluster,
	}
	ops := map[string]kmsg.ACLOperation{
		"Read": kmsg.ACLOperationRead, "Write": kmsg.ACLOperationWrite, "Describe": kmsg.ACLOperationDescribe,
		"IdempotentWrite": kmsg.ACLOperationIdempotentWrite, "Create": kmsg.ACLOperationCreate,
	}
	var out []kfake.ACL
	for _, gr := range g.List() {
		pattern := kmsg.ACLResourcePatternTypeLiteral
		if gr.Prefixed {
			pattern = kmsg.ACLResourcePatternTypePrefixed
		}
		out = append(out, kfake.ACL{Resource: resources[gr.Resource], Name: gr.Name, Pattern: pattern, Operation: ops[gr.Operation], Allow: true})
	}
	return out
}

// secured reports whether the broker both encrypts and authenticates.
func (o EmbeddedOptions) secured() bool {
	if o.TLSCertFile == "" || o.TLSKeyFile == "" {
		return false
	}
	for _, u := range o.Users {
		if u.Mechanism == SASLScramSHA256 || u.Mechanism == SASLScramSHA512 {
			return true
		}
	}
	return false
}

// isLoopback reports whether host only accepts connections from this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// securityOpts are the kfake options for TLS, SASL users and ACLs. A broker
// reachable from other machines must have TLS and a SCRAM user: without
// them anyone on the network could read and rewrite the event log.
func (o EmbeddedOptions) securityOpts(host string) ([]kfake.Opt, error) {
	if !isLoopback(host) && !o.secured() {
		return nil, fmt.Errorf("embedded broker listens on %s beyond loopback and needs TLS (certificate and key files) and a SCRAM-SHA-256 or SCRAM-SHA-512 user to start", o.Listen)
	}
	var opts []kfake.Opt
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return nil, errors.New("embedded broker TLS needs both a certificate and a key file")
	}
	if o.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading embedded broker TLS certificate %s and key %s: %w", o.TLSCertFile, o.TLSKeyFile, err)
		}
		opts = append(opts, kfake.TLS(&tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}))
	}
	if len(o.Users) > 0 {
		opts = append(opts, kfake.EnableSASL())
	}
	for _, u := range o.Users {
		switch u.Mechanism {
		case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		default:
			return nil, fmt.Errorf("embedded broker user %s: SASL mechanism %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", u.Name, u.Mechanism)
		}
		if u.Name == "" || u.Password == "" {
			return nil, errors.New("embedded broker users need a name and a password")
		}
		if u.Superuser {
			opts = append(opts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
		} else {
			opts = append(opts, kfake.User(u.Mechanism, u.Name, u.Password, u.Grants.acls()...))
		}
	}
	if o.ACLs {
		if len(o.Users) == 0 {
			return nil, errors.New("embedded broker ACLs need SASL users")
		}
		opts = append(opts, kfake.EnableACLs())
	}
	return opts, nil
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
	sec, err := o.securityOpts(host)
	if err != nil {
		return nil, err
	}
	opts = append(opts, sec...)
	if o.Partitions > 0 {
		opts = append(opts, kfake.DefaultNumPartitions(o.Partitions))
	}
	if o.DataDir != "" {
		if err := forgetSavedAccess(o.DataDir); err != nil {
			return nil, err
		}
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

// forgetSavedAccess removes the SASL users and ACLs a durable broker saved
// on its previous start. The broker loads saved ones over the configured
// ones, so a changed password would otherwise keep the old one working and
// lock the new one out; Mercato's users and grants come from its
// configuration alone.
func forgetSavedAccess(dataDir string) error {
	for _, name := range []string{"sasl.json", "acls.json"} {
		if err := os.Remove(filepath.Join(dataDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("resetting the embedded broker's saved users: %w", err)
		}
	}
	return nil
}

// Addr is the broker's host:port, to be used as a seed broker.
func (b *EmbeddedBroker) Addr() string { return b.addr }

// Close stops the broker and flushes its log.
func (b *EmbeddedBroker) Close() { b.cluster.Close() }

package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing/stream"
)

// kafkaAccess is what one role does on Kafka, in logical topic names.
// RoleGrants turns it into ACLs; TestRolePrincipals runs every role as its
// own principal under exactly those ACLs, so a role that starts touching a
// topic this table does not name fails there, not in a shop's cluster.
type kafkaAccess struct {
	group     string   // its consumer group, if any
	consume   []string // read through the group; bad records go to <topic>.dlq
	read      []string // read without a group (tables, the live feed)
	write     []string
	txnPrefix string // transactional ids start with this
	lag       bool   // reads every group's committed offsets (the lag metric)
}

// baseTopics are the event topics without their dead-letter topics.
func baseTopics() []string {
	var out []string
	for _, t := range event.Topics() {
		if !strings.HasSuffix(t.Name, event.DLQSuffix) {
			out = append(out, t.Name)
		}
	}
	return out
}

// outboxTopics are the topics the outbox relay publishes: every event topic
// but the ones a role writes itself (prices, rules, late purchases).
func outboxTopics() []string {
	return slices.DeleteFunc(baseTopics(), func(t string) bool {
		return t == event.TopicPrices || t == event.TopicPricingRules || t == event.TopicPurchasesLate
	})
}

// roleKafka is every role's Kafka access: the one place that names each
// role's group and topics (roles.go subscribes them from here, and
// consumerGroups in lag.go lists the groups).
func roleKafka(role string) (kafkaAccess, bool) {
	switch role {
	case config.RoleAPI:
		// The price book, the rules follower and the console's live feed
		// read topics from their start; PUT /v1/pricing/rules writes one.
		return kafkaAccess{read: baseTopics(), write: []string{event.TopicPricingRules}, lag: true}, true
	case config.RoleOutboxRelay:
		return kafkaAccess{write: outboxTopics()}, true
	case config.RolePricing:
		return kafkaAccess{
			group:     "pricing",
			consume:   []string{event.TopicPurchases, event.TopicInventory, event.TopicProducts},
			read:      []string{event.TopicPricingRules, stream.TopicChangelog},
			write:     []string{event.TopicPrices, stream.TopicChangelog, event.TopicPurchasesLate},
			txnPrefix: "pricing-",
		}, true
	case config.RoleReplenishment:
		return kafkaAccess{group: "replenishment", consume: []string{event.TopicPurchases, event.TopicInventory}}, true
	case config.RoleInventoryAlerts:
		return kafkaAccess{group: "inventory-alerts", consume: []string{event.TopicAlerts}}, true
	case config.RoleReviews:
		return kafkaAccess{group: "reviews", consume: []string{event.TopicReviews}}, true
	case config.RoleLakeSink:
		return kafkaAccess{group: "lake-sink", consume: []string{event.TopicPurchases, event.TopicOrders, event.TopicPayments}}, true
	case config.RoleReports:
		return kafkaAccess{}, true
	}
	return kafkaAccess{}, false
}

// consumerOf is role's consumer group and the topics it consumes.
func consumerOf(role string) (group string, topics []string) {
	acc, _ := roleKafka(role)
	return acc.group, acc.consume
}

// KafkaRoles are the roles that run as their own Kafka principal.
var KafkaRoles = []string{
	config.RoleAPI, config.RoleOutboxRelay, config.RolePricing, config.RoleReplenishment,
	config.RoleInventoryAlerts, config.RoleReviews, config.RoleLakeSink, config.RoleReports,
}

// RolePrincipal is the SASL user a role runs as on the embedded broker.
func RolePrincipal(role string) string { return "mercato-" + role }

// RoleGrants are the ACLs a process running role needs on a cluster whose
// topic and group names start with prefix. Every process describes every
// Mercato topic (it checks they exist at start).
func RoleGrants(prefix, role string) (bus.Grants, error) {
	acc, ok := roleKafka(role)
	if !ok {
		return bus.Grants{}, fmt.Errorf("no Kafka access is defined for role %q", role)
	}
	name := func(ts ...string) []string {
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = prefix + t
		}
		return out
	}
	var g bus.Grants
	for _, t := range append(event.Topics(), stream.Topics()...) {
		g.Describe = append(g.Describe, prefix+t.Name)
	}
	g.Read = name(append(slices.Clone(acc.consume), acc.read...)...)
	g.Write = name(acc.write...)
	for _, t := range acc.consume {
		g.Write = append(g.Write, prefix+t+event.DLQSuffix)
	}
	if acc.group != "" {
		g.Groups = name(acc.group)
	}
	if acc.txnPrefix != "" {
		g.TransactionalIDPrefixes = name(acc.txnPrefix)
	}
	if acc.lag {
		for _, cg := range consumerGroups {
			g.DescribeGroups = append(g.DescribeGroups, prefix+cg.group)
		}
	}
	g.Read, g.Write = compact(g.Read), compact(g.Write)
	// Read and Write imply Describe.
	g.Describe = slices.DeleteFunc(g.Describe, func(t string) bool {
		return slices.Contains(g.Read, t) || slices.Contains(g.Write, t)
	})
	return g, nil
}

func compact(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// roleBrokerUsers are the embedded broker's per-role principals when
// --kafka-role-secrets-dir is set: one SCRAM user per role with its
// grants, its password kept in <dir>/<role> (made on first use, 0600).
func roleBrokerUsers(cfg config.Config) ([]bus.BrokerUser, error) {
	dir := cfg.Kafka.RoleSecretsDir
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("role secrets dir: %w", err)
	}
	var users []bus.BrokerUser
	for _, role := range KafkaRoles {
		pw, err := rolePassword(filepath.Join(dir, role))
		if err != nil {
			return nil, err
		}
		g, err := RoleGrants(cfg.Kafka.TopicPrefix, role)
		if err != nil {
			return nil, err
		}
		users = append(users, bus.BrokerUser{Mechanism: cfg.Kafka.SASLMechanism, Name: RolePrincipal(role), Password: pw, Grants: g})
	}
	return users, nil
}

// rolePassword reads a role's password file, creating it with a random
// password the first time.
func rolePassword(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		pw := strings.TrimRight(string(raw), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("role password file %s is empty", path)
		}
		return pw, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading role password file: %w", err)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("creating role password file: %w", err)
	}
	if _, err := f.WriteString(pw + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("writing role password file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("writing role password file %s: %w", path, err)
	}
	return pw, nil
}

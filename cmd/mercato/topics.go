package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing/stream"
)

// topicsTimeout bounds every topics subcommand: an unreachable or
// misconfigured cluster must not hang an operator's shell or a CI step.
const topicsTimeout = 30 * time.Second

const topicsUsage = `Usage: mercato topics describe|check|create|acls [flags]

  describe  print partitions, replication, retention and cleanup.policy of every topic Mercato uses
  check     exit 1 with one line per problem: a missing topic, a compacted topic that is not
            compacted, a pricing changelog whose partition count differs from its inputs'
  create    create the missing topics (--partitions, --kafka-replication-factor,
            --kafka-min-insync-replicas), even with --kafka-auto-create-topics=false
  acls      print the kafka-acls.sh commands that give each role its own principal,
            User:mercato-<role>, exactly the access it needs (nothing is sent to the cluster)

The cluster is --kafka-brokers, or else the embedded broker at --kafka-listen, with the
--kafka-tls-* and --kafka-sasl-* settings of serve.`

// mercatoTopics is every topic Mercato uses: the event topics with their
// dead-letter topics, and the pricing role's changelog.
func mercatoTopics() []event.TopicSpec {
	return append(event.Topics(), stream.Topics()...)
}

// changelogInputs are the topics whose partitions the pricing changelog's
// partitions mirror one to one.
var changelogInputs = []string{event.TopicPurchases, event.TopicInventory, event.TopicProducts}

func runTopics(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || slices.Contains([]string{"help", "-h", "--help"}, args[0]) {
		w := stderr
		if len(args) > 0 {
			w = stdout
		}
		fmt.Fprintln(w, topicsUsage)
		if len(args) == 0 {
			return exitConfig
		}
		return exitOK
	}
	sub := args[0]
	if sub != "describe" && sub != "check" && sub != "create" && sub != "acls" {
		fmt.Fprintf(stderr, "mercato: unknown topics command %q (describe, check, create or acls)\n", sub)
		return exitConfig
	}
	if slices.ContainsFunc(args[1:], func(a string) bool { return a == "-h" || a == "--help" || a == "-help" }) {
		fmt.Fprintln(stdout, topicsUsage)
		return exitOK
	}
	cfg, code, ok := loadConfig("topics "+sub, args[1:], stderr)
	if !ok {
		return code
	}
	if sub == "acls" {
		if err := printACLs(stdout, cfg.Kafka.TopicPrefix); err != nil {
			printErrors(stderr, err)
			return exitRuntime
		}
		return exitOK
	}
	c, err := topicsClient(cfg)
	if err != nil {
		printErrors(stderr, err)
		return exitConfig
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, topicsTimeout)
	defer cancel()
	specs := mercatoTopics()
	if sub == "create" {
		if err := c.CreateTopics(ctx, specs, cfg.Kafka.Partitions); err != nil {
			printErrors(stderr, err)
			return exitRuntime
		}
	}
	infos, err := c.DescribeTopics(ctx, specs)
	if err != nil {
		printErrors(stderr, err)
		return exitRuntime
	}
	switch sub {
	case "describe":
		printTopics(stdout, infos)
	case "check":
		problems := topicProblems(specs, infos)
		for _, p := range problems {
			fmt.Fprintln(stdout, p)
		}
		if len(problems) > 0 {
			return exitRuntime
		}
		fmt.Fprintf(stderr, "topics: all %d topics are present and consistent\n", len(infos))
	case "create":
		fmt.Fprintf(stderr, "topics: %d topics present\n", len(infos))
	}
	return exitOK
}

// topicsClient connects to --kafka-brokers, or else to the embedded broker
// a `mercato broker` or `mercato serve` runs at --kafka-listen.
func topicsClient(cfg config.Config) (*bus.Client, error) {
	brokers := cfg.Kafka.SeedBrokers()
	if len(brokers) == 0 {
		brokers = []string{cfg.Kafka.Listen}
	}
	o, err := app.BusOptions(cfg, brokers)
	if err != nil {
		return nil, err
	}
	return bus.NewClient(o)
}

func printTopics(w io.Writer, infos []bus.TopicInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITIONS\tREPLICATION\tRETENTION.MS\tCLEANUP.POLICY\tMIN.INSYNC.REPLICAS")
	for _, in := range infos {
		if !in.Exists {
			fmt.Fprintf(tw, "%s\tmissing\t\t\t\t\n", in.Topic)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", in.Topic, in.Partitions, in.Replication,
			orDash(in.RetentionMs), orDash(in.CleanupPolicy), orDash(in.MinInsyncReplicas))
	}
	_ = tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// topicProblems lists, one line each, what keeps Mercato from running on
// these topics: a topic that does not exist, a compacted topic the broker
// does not compact, and a pricing changelog whose partition count differs
// from an input's (the processor maps partition n of its inputs to
// partition n of the changelog).
func topicProblems(specs []event.TopicSpec, infos []bus.TopicInfo) []string {
	var out []string
	byName := make(map[string]bus.TopicInfo, len(infos))
	for i, in := range infos {
		byName[in.Name] = in
		switch {
		case !in.Exists:
			out = append(out, fmt.Sprintf("topic %s does not exist", in.Topic))
		case specs[i].Compacted && in.CleanupPolicy != "" && !slices.Contains(strings.Split(in.CleanupPolicy, ","), "compact"):
			out = append(out, fmt.Sprintf("topic %s has cleanup.policy=%s, want compact", in.Topic, in.CleanupPolicy))
		}
	}
	cl, ok := byName[stream.TopicChangelog]
	if !ok || !cl.Exists {
		return out
	}
	for _, name := range changelogInputs {
		in, ok := byName[name]
		if ok && in.Exists && in.Partitions != cl.Partitions {
			out = append(out, fmt.Sprintf("topic %s has %d partitions but its input %s has %d; they must be equal",
				cl.Topic, cl.Partitions, in.Topic, in.Partitions))
		}
	}
	return out
}

// printACLs writes, per role, the kafka-acls.sh commands an operator runs
// so that each role's principal can do its job and nothing more (the same
// grants the embedded broker enforces with --kafka-role-secrets-dir).
func printACLs(w io.Writer, prefix string) error {
	fmt.Fprintln(w, "# Mercato's ACLs, one principal per role; BOOTSTRAP is your cluster, add --command-config for its admin login.")
	fmt.Fprintln(w, "# Topics are created by an admin (mercato topics create), not by the roles.")
	for _, role := range app.KafkaRoles {
		g, err := app.RoleGrants(prefix, role)
		if err != nil {
			return err
		}
		principal := "User:" + app.RolePrincipal(role)
		fmt.Fprintf(w, "\n# %s\n", role)
		for _, gr := range g.List() {
			res := "--topic " + gr.Name
			switch gr.Resource {
			case "Group":
				res = "--group " + gr.Name
			case "TransactionalId":
				res = "--transactional-id " + gr.Name
			case "Cluster":
				res = "--cluster"
			}
			if gr.Prefixed {
				res += " --resource-pattern-type prefixed"
			}
			fmt.Fprintf(w, "kafka-acls.sh --bootstrap-server BOOTSTRAP --add --allow-principal %s --operation %s %s\n", principal, gr.Operation, res)
		}
	}
	return nil
}

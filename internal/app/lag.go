package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mercato-platform/mercato/internal/httpapi"
)

// groupLagInterval is how often the api process reads every group's lag.
const groupLagInterval = 15 * time.Second

// consumerGroup is a consumer group and the topics it reads.
type consumerGroup struct {
	group  string
	topics []string
}

// consumerGroups are Mercato's consumer groups, from the roles' Kafka
// access (roleKafka), which is also what roles.go subscribes.
var consumerGroups = func() []consumerGroup {
	var out []consumerGroup
	for _, role := range KafkaRoles {
		if acc, _ := roleKafka(role); acc.group != "" {
			out = append(out, consumerGroup{acc.group, acc.consume})
		}
	}
	return out
}()

// watchGroupLag registers mercato_consumer_group_lag{group} and runs, in
// the api process, the loop that keeps it current from the broker's
// committed offsets: one place to see every group's backlog, whichever
// process its members run in. (mercato_consumer_lag{group,topic} is each
// consumer's own view of the partitions it holds.)
func (a *App) watchGroupLag() {
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mercato_consumer_group_lag",
		Help: "Records of a consumer group's topics it has not committed yet (end offset minus committed offset, summed over partitions), read by the api process every 15s.",
	}, []string{"group"})
	for _, g := range consumerGroups {
		lag.WithLabelValues(g.group)
	}
	a.reg.MustRegister(lag)
	a.addRunner("group-lag", func(ctx context.Context) error {
		t := time.NewTicker(groupLagInterval)
		defer t.Stop()
		for {
			for _, g := range consumerGroups {
				qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				n, err := a.bus.GroupLag(qctx, g.group, g.topics...)
				cancel()
				if ctx.Err() != nil {
					return nil
				}
				if err != nil {
					a.log.Debug("reading consumer group lag", "group", g.group, "err", err)
					continue
				}
				lag.WithLabelValues(g.group).Set(float64(n))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
}

// consumerLag reads every consumer group's lag from the broker now, for
// GET /v1/overview. A group whose lag cannot be read is left out (and
// logged at debug, as the gauge's loop does): the overview still answers.
func (a *App) consumerLag(ctx context.Context) ([]httpapi.GroupLag, error) {
	out := make([]httpapi.GroupLag, 0, len(consumerGroups))
	for _, g := range consumerGroups {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		n, err := a.bus.GroupLag(qctx, g.group, g.topics...)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			a.log.Debug("reading consumer group lag", "group", g.group, "err", err)
			continue
		}
		out = append(out, httpapi.GroupLag{Group: g.group, Lag: n})
	}
	return out, nil
}

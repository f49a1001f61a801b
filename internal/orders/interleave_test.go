package orders_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/inventory"
	"github.com/mercato-platform/mercato/internal/orders"
	"github.com/mercato-platform/mercato/internal/payments"
)

// The checkout saga against the store's real transactions, with its actors
// interleaved in every order at the saga's steps: the request paying the
// order, a retry of it that resumed the order, and the recovery loop giving
// it up. Each actor runs alone until its next step and waits there; a
// schedule says which waiting actor goes on. Every schedule of two actors
// is run, and a sample of the three-actor ones. After each, the invariants
// of checkout hold: the order ends paid or payment_failed; a paid order is
// charged, not voided, its stock sold once and never put back; a failed
// one is not charged and has all its stock back; an actor told "paid" or
// "failed" was told the truth.

// actorKey carries the acting actor's name in the context, so the gateway
// and the saga's checkpoints know who reached them.
type actorKey struct{}

func actorOf(ctx context.Context) string {
	name, _ := ctx.Value(actorKey{}).(string)
	return name
}

// scheduler runs actors one at a time, switching only at checkpoints.
type scheduler struct {
	mu      sync.Mutex
	parked  map[string]chan struct{} // actors waiting at a checkpoint
	running int                      // actors running between checkpoints
	changed chan struct{}
	trace   []string
}

func newScheduler() *scheduler {
	return &scheduler{parked: map[string]chan struct{}{}, changed: make(chan struct{}, 64)}
}

// checkpoint parks the calling actor until the scheduler lets it go on.
func (s *scheduler) checkpoint(ctx context.Context, step, _ string) {
	name := actorOf(ctx)
	if name == "" {
		return // a step outside the actors (the final recovery)
	}
	resume := make(chan struct{})
	s.mu.Lock()
	s.parked[name] = resume
	s.running--
	s.trace = append(s.trace, name+":"+step)
	s.mu.Unlock()
	s.changed <- struct{}{}
	<-resume
}

// run starts the actors and, each time every live actor is parked, lets
// the one choose picks go on. choose gets the parked names, sorted.
func (s *scheduler) run(actors map[string]func(context.Context), choose func(names []string) string) {
	var wg sync.WaitGroup
	s.mu.Lock()
	s.running = len(actors)
	s.mu.Unlock()
	for name, act := range actors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			act(context.WithValue(context.Background(), actorKey{}, name))
			s.mu.Lock()
			s.running--
			s.mu.Unlock()
			s.changed <- struct{}{}
		}()
	}
	for {
		<-s.changed
		s.mu.Lock()
		if s.running > 0 {
			s.mu.Unlock()
			continue
		}
		if len(s.parked) == 0 {
			s.mu.Unlock()
			break
		}
		names := make([]string, 0, len(s.parked))
		for n := range s.parked {
			names = append(names, n)
		}
		sortStrings(names)
		next := choose(names)
		resume := s.parked[next]
		delete(s.parked, next)
		s.running++
		s.mu.Unlock()
		close(resume)
	}
	wg.Wait()
}

func sortStrings(a []string) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// scriptedGateway is the simulated gateway with a checkpoint before each
// authorization, whose answer per actor is the real one or a timeout (the
// gateway never saw the call: the outcome is unknown to the caller).
type scriptedGateway struct {
	*payments.Simulated
	sched    *scheduler
	timeouts map[string]bool
}

func (g scriptedGateway) Authorize(ctx context.Context, orderID string, amount int64, token string) (payments.Authorization, error) {
	g.sched.checkpoint(ctx, "authorize", orderID)
	if g.timeouts[actorOf(ctx)] {
		return payments.Authorization{}, fmt.Errorf("%w: timed out", payments.ErrUnavailable)
	}
	a, err := g.Simulated.Authorize(ctx, orderID, amount, token)
	g.sched.checkpoint(ctx, "authorize-answered", orderID)
	return a, err
}

func (g scriptedGateway) Void(ctx context.Context, orderID string) error {
	g.sched.checkpoint(ctx, "void", orderID)
	return g.Simulated.Void(ctx, orderID)
}

// interleaving is one run: which actors, how the gateway answers them.
type interleaving struct {
	split    bool   // stock kept apart from the orders (the Redis shape)
	token    string // the order's card
	actors   []string
	timeouts map[string]bool
}

func (c interleaving) String() string {
	var to []string
	for _, a := range c.actors {
		if c.timeouts[a] {
			to = append(to, a)
		}
	}
	return fmt.Sprintf("split=%v token=%s actors=%v timeouts=%v", c.split, c.token, c.actors, to)
}

const interleaveStock = 10

// outcome is what one actor was told.
type outcome struct {
	status orders.Status
	err    error
}

// interleaveEnv is one store the runs of a case share; each run has its own
// SKU and order.
type interleaveEnv struct {
	st   *sqlstore.Store
	runs int
}

func newInterleaveEnv(t *testing.T) *interleaveEnv {
	t.Helper()
	// NORMAL: no fsync per commit; durability is not what these runs test.
	st, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "o.db"), sqlstore.Options{SQLiteSynchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &interleaveEnv{st: st}
}

// runInterleaving runs c under the schedule choose makes and checks the
// invariants; it returns the trace for failure messages.
func runInterleaving(t *testing.T, env *interleaveEnv, c interleaving, choose func([]string) string) (trace []string, ok bool) {
	t.Helper()
	ctx := context.Background()
	st := env.st
	env.runs++
	sku, id := fmt.Sprintf("A-%d", env.runs), fmt.Sprintf("ord_%d", env.runs)
	stock := int64(interleaveStock)
	if _, _, err := catalog.NewService(st, nil, nil).Put(ctx, sku, catalog.PutRequest{
		Name: "a", Category: "c", BasePrice: 1000, PriceFloor: 1000, PriceCeiling: 1000, Stock: &stock}); err != nil {
		t.Fatal(err)
	}
	sched := newScheduler()
	sim := payments.NewSimulated(payments.SimulatedOptions{})
	gw := scriptedGateway{Simulated: sim, sched: sched, timeouts: c.timeouts}
	created := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	now := created.Add(10 * time.Minute) // the order is stale for the recovery loop
	var stockPort orders.Stock = st
	if c.split {
		stockPort = stockOnly{st}
	}
	svc := orders.NewService(st, prices{}, stockPort, gw, orders.Options{
		RecoverAfter: time.Minute, PaymentTimeout: time.Second, Now: func() time.Time { return now }})
	orders.SetCheckpoint(svc, sched.checkpoint)

	const qty = 3
	if err := st.Reserve(ctx, id, []inventory.Item{{SKU: sku, Qty: qty}}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateOrder(ctx, orders.Order{ID: id, CustomerID: "c", Status: orders.StatusReserved,
		Items: []orders.Line{{SKU: sku, Quantity: qty, UnitPrice: 1000}}, Total: qty * 1000,
		PaymentToken: c.token, CreatedAt: created, UpdatedAt: created}, orders.IdemRef{}, nil); err != nil {
		t.Fatal(err)
	}

	var (
		mu   sync.Mutex
		told = map[string]outcome{}
	)
	actors := map[string]func(context.Context){}
	for _, name := range c.actors {
		actors[name] = func(ctx context.Context) {
			sched.checkpoint(ctx, "start", id) // nobody runs before the schedule says so
			var (
				o   orders.Order
				err error
			)
			if strings.HasPrefix(name, "recover") {
				_, err = svc.RecoverStale(ctx)
				o, _ = st.GetOrder(ctx, id)
			} else {
				o, err = svc.Resume(ctx, id)
			}
			mu.Lock()
			told[name] = outcome{o.Status, err}
			mu.Unlock()
		}
	}
	sched.run(actors, choose)

	// A later recovery finishes whatever a schedule left under way.
	now = now.Add(time.Hour)
	if _, err := svc.RecoverStale(ctx); err != nil {
		t.Errorf("%v: final recovery: %v", c, err)
	}
	final, err := st.GetOrder(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	levels, err := st.Levels(ctx, sku)
	if err != nil {
		t.Fatal(err)
	}
	ledger, err := st.Ledger(ctx, sku)
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	switch final.Status {
	case orders.StatusPaid:
		if sim.Charged(id) != final.Total || sim.Voided(id) {
			bad("paid order charged %d (want %d), voided %v", sim.Charged(id), final.Total, sim.Voided(id))
		}
		if levels.OnHand != interleaveStock-qty || levels.Reserved != 0 {
			bad("paid order: stock %+v, want %d on hand, none reserved", levels, interleaveStock-qty)
		}
		for _, e := range ledger {
			if strings.HasPrefix(e.Ref, "abandon:") {
				bad("paid order got stock back: ledger %+v", e)
			}
		}
	case orders.StatusPaymentFailed:
		if sim.Charged(id) != 0 {
			bad("failed order still charged %d", sim.Charged(id))
		}
		if levels.OnHand != interleaveStock || levels.Reserved != 0 {
			bad("failed order: stock %+v, want all %d back", levels, interleaveStock)
		}
	default:
		bad("order ended %s", final.Status)
	}
	for name, out := range told {
		var fe *orders.FailureError
		switch {
		case out.err == nil && out.status == orders.StatusPaid && final.Status != orders.StatusPaid:
			bad("%s was told paid, order ended %s", name, final.Status)
		case errors.As(out.err, &fe) && final.Status != orders.StatusPaymentFailed:
			bad("%s was told failed (%v), order ended %s", name, out.err, final.Status)
		case out.err != nil && !errors.As(out.err, &fe):
			bad("%s: unexpected error %v", name, out.err)
		}
	}
	if len(problems) > 0 {
		t.Errorf("%v\nschedule %v:\n  %s", c, sched.trace, strings.Join(problems, "\n  "))
		return sched.trace, false
	}
	return sched.trace, true
}

// explore runs every schedule of c (depth-first over the choices made at
// each point where more than one actor waits), up to limit schedules.
func explore(t *testing.T, env *interleaveEnv, c interleaving, limit int) int {
	t.Helper()
	var prefix []int
	runs := 0
	for runs < limit {
		var (
			choices []int // the choice made at each point
			widths  []int // how many actors waited there
		)
		step := 0
		_, ok := runInterleaving(t, env, c, func(names []string) string {
			pick := 0
			if step < len(prefix) {
				pick = prefix[step]
			}
			choices, widths = append(choices, pick), append(widths, len(names))
			step++
			return names[pick]
		})
		runs++
		if !ok {
			return runs
		}
		// Next schedule: advance the deepest choice that has another option.
		i := len(choices) - 1
		for i >= 0 && choices[i]+1 >= widths[i] {
			i--
		}
		if i < 0 {
			return runs
		}
		prefix = append(choices[:i:i], choices[i]+1)
	}
	return runs
}

func TestCheckoutInterleavingsExhaustive(t *testing.T) {
	t.Parallel()
	var cases []interleaving
	for _, split := range []bool{false, true} {
		for _, token := range []string{payments.TokenOK, payments.TokenDecline} {
			for _, pair := range [][]string{{"pay", "recover"}, {"pay", "retry"}} {
				// The gateway answers each payer, or times out on one.
				for _, timeout := range append([]string{""}, pair...) {
					if timeout == "recover" || timeout != "" && token == payments.TokenDecline {
						continue
					}
					cases = append(cases, interleaving{split: split, token: token, actors: pair, timeouts: map[string]bool{timeout: true}})
				}
			}
		}
	}
	total := 0
	env := newInterleaveEnv(t)
	for _, c := range cases {
		total += explore(t, env, c, 2000)
		if t.Failed() {
			return
		}
	}
	t.Logf("%d cases, %d schedules, every one clean", len(cases), total)
}

// Three actors (the request, its retry and the recovery loop), schedules
// drawn at random from a fixed seed.
func TestCheckoutInterleavingsRandomThree(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(20261205, 14))
	runs := 120
	if testing.Short() {
		runs = 30
	}
	env := newInterleaveEnv(t)
	for i := range runs {
		c := interleaving{split: i%2 == 1, token: payments.TokenOK, actors: []string{"pay", "recover", "retry"},
			timeouts: map[string]bool{"pay": rng.IntN(2) == 0, "retry": rng.IntN(3) == 0}}
		if i%5 == 4 {
			c.token = payments.TokenDecline
		}
		if _, ok := runInterleaving(t, env, c, func(names []string) string { return names[rng.IntN(len(names))] }); !ok {
			return
		}
	}
}

// Package batch merges concurrent calls into batches: the calls that arrive
// while a batch is running wait and go together in the next one, so a
// lone caller runs at once and a crowd shares one round trip. There is no
// background goroutine: a waiting caller is handed the lead and runs the
// next batch itself.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Combiner runs calls of Req in batches through Run.
type Combiner[Req any] struct {
	// Run handles a batch and returns one error per request, in order. Its
	// context carries the values, not the cancellation, of the call that
	// leads the batch (a caller that gives up must not cancel the others),
	// and ends after Timeout. A panic in Run is every request's error.
	Run func(ctx context.Context, reqs []Req) []error
	// Max bounds a batch; default 256.
	Max int
	// Parallel is how many batches may run at once; default 1.
	Parallel int
	// Timeout bounds one Run; default 30 s.
	Timeout time.Duration

	mu      sync.Mutex
	pending []*call[Req]
	running int
}

type call[Req any] struct {
	ctx  context.Context
	req  Req
	done chan error    // the outcome
	lead chan struct{} // told to run the next batch (at most once)
	led  bool          // lead was sent; guarded by Combiner.mu
}

// Do adds req to the next batch and returns its outcome. A request whose
// ctx ends before its batch starts is dropped; once its batch has started
// it runs to the end even if ctx ends first, Do then returns ctx's error
// and the outcome is lost, so Run's operations must be safe to retry.
func (c *Combiner[Req]) Do(ctx context.Context, req Req) error {
	cl := &call[Req]{ctx: ctx, req: req, done: make(chan error, 1), lead: make(chan struct{}, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, cl)
	if c.running < max(c.Parallel, 1) {
		c.running++
		cl.led = true // it leads now, not through the channel
		c.mu.Unlock()
		c.runNext(ctx)
	} else {
		c.mu.Unlock()
	}
	select {
	case err := <-cl.done:
		c.leadIfAsked(ctx, cl)
		return err
	case <-cl.lead:
		c.runNext(ctx)
		return <-cl.done // from that batch, or a later one when it was full
	case <-ctx.Done():
		// The call stays in its batch; whoever waits must still take the
		// lead if it is handed over, or the slot would be lost.
		go func() {
			select {
			case <-cl.done:
				c.leadIfAsked(context.WithoutCancel(ctx), cl)
			case <-cl.lead:
				c.runNext(context.WithoutCancel(ctx))
			}
		}()
		return ctx.Err()
	}
}

// leadIfAsked runs a batch if the lead was handed to cl before a batch
// took it: the hand-over happens only while cl is pending, so by the time
// its outcome arrived any lead it was given is in the channel.
func (c *Combiner[Req]) leadIfAsked(ctx context.Context, cl *call[Req]) {
	select {
	case <-cl.lead:
		c.runNext(ctx)
	default:
	}
}

// runNext runs one batch of the pending calls, then hands the lead to a
// waiting caller, or gives the slot back when nobody waits.
func (c *Combiner[Req]) runNext(ctx context.Context) {
	limit := c.Max
	if limit <= 0 {
		limit = 256
	}
	c.mu.Lock()
	n := min(len(c.pending), limit)
	taken := c.pending[:n:n]
	c.pending = c.pending[n:]
	c.mu.Unlock()
	// Callers that gave up before their batch started are answered now,
	// so nothing runs for nobody.
	calls := taken[:0:0]
	for _, cl := range taken {
		if err := cl.ctx.Err(); err != nil {
			cl.done <- err
			continue
		}
		calls = append(calls, cl)
	}
	if len(calls) > 0 {
		reqs := make([]Req, len(calls))
		for i, cl := range calls {
			reqs[i] = cl.req
		}
		errs := c.run(ctx, reqs)
		for i, cl := range calls {
			err := errNoOutcome
			if i < len(errs) {
				err = errs[i]
			}
			cl.done <- err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.pending {
		if !cl.led {
			cl.led = true
			cl.lead <- struct{}{}
			return
		}
	}
	c.running--
}

// errNoOutcome answers a request Run returned no outcome for.
var errNoOutcome = errors.New("batch: no outcome for the request")

// run calls Run with a bounded context that does not end with the leader's
// caller, and turns a panic into every request's error.
func (c *Combiner[Req]) run(ctx context.Context, reqs []Req) (errs []error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("batch: %v", p)
			errs = make([]error, len(reqs))
			for i := range errs {
				errs[i] = err
			}
		}
	}()
	return c.Run(ctx, reqs)
}

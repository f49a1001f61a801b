// Package batch merges concurrent calls into batches: the calls that arrive
// while a batch is running wait and go together in the next one, so a
// lone caller runs at once and a crowd shares one round trip. There is no
// background goroutine: a waiting caller is handed the lead and runs the
// next batch itself.
package batch

import (
	"context"
	"sync"
)

// Combiner runs calls of Req in batches through Run.
type Combiner[Req any] struct {
	// Run handles a batch and returns one error per request, in order. Its
	// context carries the values, not the cancellation, of the call that
	// leads the batch: a caller that gives up must not cancel the others.
	Run func(ctx context.Context, reqs []Req) []error
	// Max bounds a batch; default 256.
	Max int
	// Parallel is how many batches may run at once; default 1.
	Parallel int

	mu      sync.Mutex
	pending []*call[Req]
	running int
}

type call[Req any] struct {
	req  Req
	done chan error    // the outcome
	lead chan struct{} // told to run the next batch (at most once)
	led  bool          // lead was sent; guarded by Combiner.mu
}

// Do adds req to the next batch and returns its outcome. Once added, the
// request runs even if ctx ends first; Do then returns ctx's error and the
// outcome is dropped, so Run's operations must be safe to retry.
func (c *Combiner[Req]) Do(ctx context.Context, req Req) error {
	cl := &call[Req]{req: req, done: make(chan error, 1), lead: make(chan struct{}, 1)}
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
	calls := c.pending[:n:n]
	c.pending = c.pending[n:]
	c.mu.Unlock()
	if n > 0 {
		reqs := make([]Req, n)
		for i, cl := range calls {
			reqs[i] = cl.req
		}
		errs := c.Run(context.WithoutCancel(ctx), reqs)
		for i, cl := range calls {
			var err error
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

package httpapi

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// background tracks work the API starts that outlives its request (report
// runs), so Shutdown can stop it and wait until its outcome is recorded.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func newBackground() *background {
	ctx, cancel := context.WithCancel(context.Background())
	return &background{ctx: ctx, cancel: cancel}
}

// start returns a context for one piece of work, bounded by timeout, and
// the func that ends it (call it once the work is over, or hand it to
// until); ok is false once the server shuts down.
func (b *background) start(timeout time.Duration) (ctx context.Context, done func(), ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, nil, false
	}
	b.wg.Add(1)
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	var once sync.Once
	return ctx, func() { once.Do(func() { cancel(); b.wg.Done() }) }, true
}

// until calls done when finished is closed.
func (b *background) until(finished <-chan struct{}, done func()) {
	go func() {
		<-finished
		done()
	}()
}

// shutdown refuses new work, cancels what is going and waits for it to end
// (a cancelled report run still records itself as failed) or for ctx.
func (b *background) shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	ended := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(ended)
	}()
	select {
	case <-ended:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for background work of the API: %w", ctx.Err())
	}
}

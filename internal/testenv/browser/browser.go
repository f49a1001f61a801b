// Package browser starts Debian's headless Chromium for the console's
// browser tests and drives it with chromedp. No test tool downloads a
// browser: without chromium installed the test is skipped loudly, or fails
// when CI is set.
package browser

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mercato-platform/mercato/internal/testenv"
)

// Browser is one headless Chromium with one tab, and the console errors
// that tab logged.
type Browser struct {
	Ctx context.Context

	mu     sync.Mutex
	errors []string
}

// Start launches chromium (or $MERCATO_TEST_CHROMIUM) on a temp profile and
// stops it when the test ends.
func Start(t testing.TB) *Browser {
	t.Helper()
	bin := os.Getenv("MERCATO_TEST_CHROMIUM")
	if bin == "" {
		bin = testenv.RequireBinary(t, "chromium", "/usr/lib/chromium")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(1360, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	b := &Browser{Ctx: ctx}
	stop := func() {
		cancelTab()
		cancelAlloc()
	}
	// The first action starts the browser, and the browser lives as long as
	// the context of that first action: it must be the tab's own context,
	// not one with a deadline.
	if err := chromedp.Do(ctx); err != nil {
		stop()
		t.Fatalf("starting %s: %v", bin, err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.record(m.String() + " at " + m.URL)
			}
		}
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
	return b
}

func (b *Browser) record(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, s)
}

// Errors returns the console errors and uncaught exceptions logged so far
// and forgets them.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.errors
	b.errors = nil
	return out
}

// Do runs actions with a deadline, so a broken page fails the test instead
// of hanging it.
func (b *Browser) Do(d time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.Ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		return fmt.Errorf("browser: %w", err)
	}
	return nil
}

// Eval evaluates a JavaScript expression in the page (awaiting a promise).
func Eval[T any](b *Browser, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// WaitFor polls a JavaScript predicate until it is truthy or d passes.
func WaitFor(b *Browser, d time.Duration, predicate string) error {
	ctx, cancel := context.WithTimeout(b.Ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		return fmt.Errorf("waiting %s for %s: %w", d, predicate, err)
	}
	return nil
}

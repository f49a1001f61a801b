package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mercato-platform/mercato/internal/orders"
)

// Quote cache (PostgreSQL). Every checkout line reads its product's base
// price, bounds and category, which change when an operator edits the
// product and almost never otherwise: on PostgreSQL each process keeps the
// quotes it read, and the products table tells it of every change.
// Migration 14 puts a trigger on products that sends the changed SKU on
// the channel quotesChannel (pg_notify, delivered when the change
// commits), whoever wrote it: Mercato, or an operator with psql. A
// listener on a connection of its own drops the SKU's entry.
//
// A read is cached only while the listener is connected, and only if no
// change was announced between the read's start and its end (gen): a read
// that raced an edit is answered but not kept. When the connection fails
// the cache is emptied and bypassed until the listener is back, so a quote
// is never older than the last change a live listener was told of. What
// remains is the moment between an edit's commit and its notice reaching
// the listener (a few milliseconds on one network), the same window in
// which a checkout could have read the row just before the edit.

// quotesChannel is the channel of migration 14's trigger.
const quotesChannel = "mercato_products"

// quoteCacheMax bounds the entries; a cache that fills is emptied (the
// catalog's hot SKUs fill it again).
const quoteCacheMax = 200_000

// quoteListenIdle is how long the listener waits for a notice before it
// pings its connection (a variable for tests).
var quoteListenIdle = 15 * time.Second

type quoteCache struct {
	mu      sync.Mutex
	live    bool   // the listener is connected and listening
	gen     uint64 // counts changes announced and reconnects
	entries map[string]orders.Quote

	// idle is how long the listener waits for a notice before it checks
	// that its connection still answers.
	idle time.Duration
	stop context.CancelFunc
	done chan struct{}
}

// get returns a cached quote, or the generation a read must start from to
// be kept (ok false).
func (c *quoteCache) get(sku string) (q orders.Quote, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		q, ok = c.entries[sku]
	}
	return q, c.gen, ok
}

// put keeps a quote read since gen, unless a change was announced since.
func (c *quoteCache) put(sku string, q orders.Quote, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.gen != gen {
		return
	}
	if len(c.entries) >= quoteCacheMax {
		clear(c.entries)
	}
	c.entries[sku] = q
}

// changed drops sku's entry, or every entry for "" (a truncate).
func (c *quoteCache) changed(sku string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if sku == "" {
		clear(c.entries)
		return
	}
	delete(c.entries, sku)
}

// setLive starts or stops caching; either way what was cached is dropped,
// since changes may have gone unannounced while nobody listened.
func (c *quoteCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.live = live
	clear(c.entries)
}

// quoteCache returns a PostgreSQL store's cache, starting its listener on
// first use (a store that never quotes keeps no connection for it), or nil
// on SQLite and after Close.
func (s *Store) quoteCache() *quoteCache {
	if !s.pg {
		return nil
	}
	s.quotesMu.Lock()
	defer s.quotesMu.Unlock()
	if s.quotes == nil && !s.quotesClosed {
		ctx, stop := context.WithCancel(context.Background())
		c := &quoteCache{entries: map[string]orders.Quote{}, idle: quoteListenIdle, stop: stop, done: make(chan struct{})}
		go func() {
			defer close(c.done)
			c.listen(ctx, s.dsn, s.log)
		}()
		s.quotes = c
	}
	return s.quotes
}

// stopQuoteCache stops the listener, if it started, and waits for it.
func (s *Store) stopQuoteCache() {
	s.quotesMu.Lock()
	s.quotesClosed = true
	c := s.quotes
	s.quotesMu.Unlock()
	if c != nil {
		c.stop()
		<-c.done
	}
}

// listen keeps a connection listening on quotesChannel until ctx ends,
// reconnecting with backoff; the cache is live only while it listens.
func (c *quoteCache) listen(ctx context.Context, dsn string, log *slog.Logger) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := c.listenOnce(ctx, dsn)
		c.setLive(false)
		if ctx.Err() != nil {
			return
		}
		log.Warn("product change listener lost its connection; quotes are read from the database until it is back", "err", err)
		if time.Since(start) > time.Minute {
			wait = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

func (c *quoteCache) listenOnce(ctx context.Context, dsn string) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, dsn)
	cancel()
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+quotesChannel); err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	// From here every committed change is announced to this connection.
	c.setLive(true)
	for {
		wctx, cancel := context.WithTimeout(ctx, c.idle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			// Quiet for a while: make sure the connection still answers,
			// or changes could be going unannounced. A timeout leaves a
			// pgx connection usable.
			pctx, cancel := context.WithTimeout(ctx, c.idle)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("checking the connection: %w", err)
			}
		case err != nil:
			return fmt.Errorf("waiting for changes: %w", err)
		default:
			c.changed(n.Payload)
		}
	}
}

// cachedQuote answers ProductQuote from the cache, reading through read
// on a miss.
func (c *quoteCache) cachedQuote(sku string, read func() (orders.Quote, error)) (orders.Quote, error) {
	q, gen, ok := c.get(sku)
	if ok {
		return q, nil
	}
	q, err := read()
	if err == nil {
		c.put(sku, q, gen)
	}
	return q, err
}

package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mercato-platform/mercato/internal/catalog"
	"github.com/mercato-platform/mercato/internal/event"
)

// Quote cache (PostgreSQL). Every checkout line reads its product's base
// price, bounds and category, and replenishment reads a product's reorder
// policy for every SKU whose stock moved; both change when an operator
// edits the product and almost never otherwise: on PostgreSQL each process
// keeps the products it read (the row, without its stock), and the
// products table tells it of every change.
// Migration 14 puts a trigger on products that sends the changed SKU on
// the channel quotesChannel (pg_notify, delivered when the change
// commits), whoever wrote it: Mercato, or an operator with psql. A
// listener on a connection of its own drops the SKU's entry.
//
// A read is cached only while the listener is live, and only if no change
// was announced between the read's start and its end (gen): a read that
// raced an edit is answered but not kept. The listener is live once a
// probe it sent itself from the store's pool came back on its connection,
// and stays live while probes keep coming back (one whenever the channel
// has been quiet for quoteListenIdle). When the connection fails, or a
// probe does not come back, the cache is emptied and bypassed until the
// listener is back, so a quote is never older than the last change a live
// listener was told of. What
// remains is the moment between an edit's commit and its notice reaching
// the listener (a few milliseconds on one network), the same window in
// which a checkout could have read the row just before the edit.

// quotesChannel is the channel of migration 14's trigger; probeChannel
// carries the listener's probes.
const (
	quotesChannel = "mercato_products"
	probeChannel  = "mercato_products_probe"
)

// quoteCacheMax bounds the entries; a cache that fills is emptied (the
// catalog's hot SKUs fill it again).
const quoteCacheMax = 200_000

// quoteListenIdle is how long the listener waits for a notice before it
// sends a probe, and how long a probe may take (a variable for tests).
var quoteListenIdle = 15 * time.Second

type quoteCache struct {
	mu      sync.Mutex
	live    bool   // the listener is connected and listening
	gen     uint64 // counts changes announced and reconnects
	entries map[string]catalog.Product

	// idle is how long the listener waits for a notice before it probes,
	// and how long a probe may take to come back.
	idle time.Duration
	stop context.CancelFunc
	done chan struct{}
}

// get returns a cached product, or the generation a read must start from
// to be kept (ok false).
func (c *quoteCache) get(sku string) (p catalog.Product, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		p, ok = c.entries[sku]
	}
	return p, c.gen, ok
}

// put keeps a product read since gen, unless a change was announced since.
func (c *quoteCache) put(sku string, p catalog.Product, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.gen != gen {
		return
	}
	if len(c.entries) >= quoteCacheMax {
		clear(c.entries)
	}
	c.entries[sku] = p
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
		c := &quoteCache{entries: map[string]catalog.Product{}, idle: quoteListenIdle, stop: stop, done: make(chan struct{})}
		go func() {
			defer close(c.done)
			c.listen(ctx, s.dsn, s.probeQuotes, s.log)
		}()
		s.quotes = c
	}
	return s.quotes
}

// probeQuotes sends a quote listener's probe from the pool.
func (s *Store) probeQuotes(ctx context.Context, nonce string) error {
	_, err := s.w.ExecContext(ctx, `SELECT pg_notify($1, $2)`, probeChannel, nonce)
	return err
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
// reconnecting with backoff; the cache is live only while it listens and
// its probes come back. probe sends a notice on probeChannel from another
// connection (the store's pool).
func (c *quoteCache) listen(ctx context.Context, dsn string, probe func(ctx context.Context, nonce string) error, log *slog.Logger) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := c.listenOnce(ctx, dsn, probe)
		c.setLive(false)
		if ctx.Err() != nil {
			return
		}
		log.Warn("product change listener stopped; quotes are read from the database until it listens again", "err", err)
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

// listenOnce listens on one connection until it fails. Before the cache
// goes live, and whenever the channel has been quiet for c.idle, a probe
// sent from another connection must come back on this one within c.idle:
// that proves notices reach the listener end to end, not only that its
// connection answers. A pooler that does not keep a session to itself
// (PgBouncer in transaction mode accepts LISTEN but delivers nothing)
// fails the first probe, so the cache never goes live behind one.
func (c *quoteCache) listenOnce(ctx context.Context, dsn string, probe func(ctx context.Context, nonce string) error) error {
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
	for _, ch := range []string{quotesChannel, probeChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return fmt.Errorf("listening: %w", err)
		}
	}
	// pending is the probe under way; sent is when it went out.
	var (
		pending string
		sent    time.Time
	)
	send := func() error {
		pending, sent = event.NewID(), time.Now()
		pctx, cancel := context.WithTimeout(ctx, c.idle)
		defer cancel()
		if err := probe(pctx, pending); err != nil {
			return fmt.Errorf("sending a probe: %w", err)
		}
		return nil
	}
	if err := send(); err != nil {
		return err
	}
	for {
		wait := c.idle
		if pending != "" {
			wait = time.Until(sent.Add(c.idle))
		}
		wctx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded) && pending != "":
			return fmt.Errorf("a probe sent %s ago did not come back", c.idle)
		case errors.Is(err, context.DeadlineExceeded):
			// Quiet for a while: make sure notices still arrive. A
			// timeout leaves a pgx connection usable.
			if err := send(); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("waiting for changes: %w", err)
		case n.Channel == probeChannel:
			if n.Payload == pending {
				pending = ""
				// From here every committed change is announced here;
				// a first probe's return makes the cache live.
				c.mu.Lock()
				live := c.live
				c.mu.Unlock()
				if !live {
					c.setLive(true)
				}
			}
		default:
			c.changed(n.Payload)
		}
	}
}

// cachedProduct answers from the cache, reading through read on a miss.
func (c *quoteCache) cachedProduct(sku string, read func() (catalog.Product, error)) (catalog.Product, error) {
	p, gen, ok := c.get(sku)
	if ok {
		return p, nil
	}
	p, err := read()
	if err == nil {
		c.put(sku, p, gen)
	}
	return p, err
}

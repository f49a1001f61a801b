package redisinv

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mercato-platform/mercato/internal/batch"
	"github.com/mercato-platform/mercato/internal/inventory"
)

// Ledger is the SQL side: the system of record's inventory.
type Ledger interface {
	inventory.Store
	inventory.BatchReserver
	ReservationItems(ctx context.Context, id string) ([]inventory.Item, string, error)
	LedgerBalances(ctx context.Context, fn func(sku string, onHand, reserved int64) error) error
}

// Options tune the adapter.
type Options struct {
	Prefix string // key prefix, default "mercato:"; braces in it become parentheses (see New)
	Shards int    // hash-tag shards, default 1
	// RecordTTL is how long a reservation record is remembered in Redis after
	// its hold's TTL, for idempotent replays; default 24h.
	RecordTTL time.Duration
	Logger    *slog.Logger
	// Orders, when set, is the store that keeps the orders in the ledger's
	// database (the same *sqlstore.Store as the ledger): checkout then
	// writes a reservation and its order in one SQL transaction (see
	// CreateReservedOrder).
	Orders OrderStore
}

// Store is the Redis inventory adapter.
type Store struct {
	rdb redis.UniversalClient
	sql Ledger
	o   Options
	// reserver merges concurrent single-shard reservations into batches:
	// one script call per shard and one ledger write for the whole batch.
	reserver batch.Combiner[inventory.ReserveRequest]
}

// New builds the adapter over a Redis client and the SQL ledger.
func New(rdb redis.UniversalClient, ledger Ledger, o Options) *Store {
	if o.Prefix == "" {
		o.Prefix = "mercato:"
	}
	// Redis Cluster hashes a key's first {...}. Braces in the prefix would
	// make that part of the prefix instead of the shard tag, and put the
	// keys of one script in different slots (CROSSSLOT), so they become
	// parentheses.
	o.Prefix = strings.NewReplacer("{", "(", "}", ")").Replace(o.Prefix)
	if o.Shards <= 0 {
		o.Shards = 1
	}
	if o.RecordTTL <= 0 {
		o.RecordTTL = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{rdb: rdb, sql: ledger, o: o}
	s.reserver = batch.Combiner[inventory.ReserveRequest]{Run: s.ReserveBatch, Max: 256, Parallel: 2}
	return s
}

func (s *Store) shard(sku string) int {
	return int(crc32.ChecksumIEEE([]byte(sku)) % uint32(s.o.Shards))
}

// CounterKey is the Redis hash holding a SKU's counters.
func (s *Store) CounterKey(sku string) string {
	return fmt.Sprintf("%sinv:{s%d}:%s", s.o.Prefix, s.shard(sku), sku)
}

func (s *Store) recordKey(shard int, id string) string {
	return fmt.Sprintf("%sres:{s%d}:%s", s.o.Prefix, shard, id)
}

func (s *Store) adjustKey(sku, ref string) string {
	return fmt.Sprintf("%sadj:{s%d}:%s:%s", s.o.Prefix, s.shard(sku), sku, ref)
}

type group struct {
	shard int
	items []inventory.Item
}

func (s *Store) groups(items []inventory.Item) []group {
	by := map[int][]inventory.Item{}
	for _, it := range items {
		sh := s.shard(it.SKU)
		by[sh] = append(by[sh], it)
	}
	out := make([]group, 0, len(by))
	for sh, its := range by {
		out = append(out, group{shard: sh, items: its})
	}
	slices.SortFunc(out, func(a, b group) int { return a.shard - b.shard })
	return out
}

func (s *Store) keysArgs(g group, id string, first any) ([]string, []any) {
	keys := make([]string, 0, len(g.items)+1)
	args := make([]any, 0, len(g.items)+1)
	keys = append(keys, s.recordKey(g.shard, id))
	args = append(args, first)
	for _, it := range g.items {
		keys = append(keys, s.CounterKey(it.SKU))
		args = append(args, it.Qty)
	}
	return keys, args
}

func reply(res any) ([]any, string, error) {
	parts, ok := res.([]any)
	if !ok || len(parts) == 0 {
		return nil, "", fmt.Errorf("unexpected script reply %v", res)
	}
	tag, _ := parts[0].(string)
	return parts, tag, nil
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

// Reserve admits the reservation in Redis, then records it in SQL.
//
// Concurrent reservations whose SKUs share one shard are decided together:
// one script call per shard admits a batch in order, and one ledger write
// (Ledger.ReserveBatch) records the admitted ones; a reservation the ledger
// refuses has its Redis hold returned. If ctx ends while the call waits, it
// returns ctx's error and the reservation may still be made: a retry with
// the same id replays it, an abandoned one expires with its TTL.
func (s *Store) Reserve(ctx context.Context, id string, items []inventory.Item, ttl time.Duration) error {
	items, err := inventory.CheckReservation(id, items, ttl)
	if err != nil {
		return err
	}
	if len(s.groups(items)) == 1 {
		return s.reserver.Do(ctx, inventory.ReserveRequest{ID: id, Items: items, TTL: ttl})
	}
	return s.reserveOne(ctx, id, items, ttl)
}

// reserveOne reserves on its own: script by script across shards, then
// the ledger.
func (s *Store) reserveOne(ctx context.Context, id string, items []inventory.Item, ttl time.Duration) error {
	held, err := s.hold(ctx, id, items, ttl)
	if err != nil {
		return err
	}
	if err := s.sql.Reserve(ctx, id, items, ttl); err != nil {
		s.compensate(id, held)
		return err
	}
	return nil
}

// hold admits a reservation in Redis, script by script across shards, and
// returns the groups it holds (those held already by an earlier call
// included). A group refused returns the others' holds.
func (s *Store) hold(ctx context.Context, id string, items []inventory.Item, ttl time.Duration) ([]group, error) {
	var held []group
	for _, g := range s.groups(items) {
		err := s.reserveGroup(ctx, id, g, ttl)
		if err != nil && !errors.Is(err, errAlreadyHeld) {
			s.compensate(id, held)
			return nil, err
		}
		held = append(held, g)
	}
	return held, nil
}

var errAlreadyHeld = errors.New("already held")

// ReserveBatch reserves each request as Reserve would
// (inventory.BatchReserver): single-shard requests are decided together, in
// order, and those spanning shards one by one first; invalid and repeated
// ids are answered as inventory.ReserveEach says.
func (s *Store) ReserveBatch(ctx context.Context, reqs []inventory.ReserveRequest) []error {
	return inventory.ReserveEach(reqs, func(distinct []inventory.ReserveRequest) []error {
		errs := make([]error, len(distinct))
		var (
			together []inventory.ReserveRequest
			at       []int
		)
		for i, r := range distinct {
			if len(s.groups(r.Items)) > 1 {
				errs[i] = s.reserveOne(ctx, r.ID, r.Items, r.TTL)
				continue
			}
			together = append(together, r)
			at = append(at, i)
		}
		for k, err := range s.reserveBatch(ctx, together) {
			errs[at[k]] = err
		}
		return errs
	}, func(r inventory.ReserveRequest) error { return s.reserveOne(ctx, r.ID, r.Items, r.TTL) })
}

// reserveBatch decides single-shard reservations (valid, normalised,
// distinct ids) together.
func (s *Store) reserveBatch(ctx context.Context, reqs []inventory.ReserveRequest) []error {
	errs := make([]error, len(reqs))
	byShard := map[int][]int{}
	for i, r := range reqs {
		sh := s.shard(r.Items[0].SKU)
		byShard[sh] = append(byShard[sh], i)
	}
	var ledger []int // requests to record in SQL
	// Round two retries the requests whose SKUs were not cached yet, once
	// their counters are loaded from the ledger.
	for round := 0; round < 2 && len(byShard) > 0; round++ {
		missed := map[int][]int{}
		load := map[string][]int{} // SKU -> requests waiting for it
		for sh, idx := range byShard {
			replies, err := s.admit(ctx, sh, reqs, idx)
			if err != nil {
				for _, i := range idx {
					errs[i] = err
				}
				continue
			}
			for k, i := range idx {
				parts, tag, err := reply(replies[k])
				switch {
				case err != nil:
					errs[i] = err
				case tag == "ok":
					ledger = append(ledger, i)
				case tag == "dup":
					if st, _ := parts[1].(string); st == inventory.StateReleased {
						errs[i] = fmt.Errorf("%w: %s was released", inventory.ErrReservationClosed, reqs[i].ID)
					} else {
						ledger = append(ledger, i) // held in Redis: the ledger replays or completes it
					}
				case tag == "short":
					it := reqs[i].Items[asInt(parts[1])-1]
					errs[i] = &inventory.InsufficientStockError{SKU: it.SKU, Requested: it.Qty, Available: asInt(parts[2])}
				case tag == "miss" && round == 0:
					missed[sh] = append(missed[sh], i)
					for _, it := range reqs[i].Items {
						load[it.SKU] = append(load[it.SKU], i)
					}
				case tag == "miss":
					errs[i] = fmt.Errorf("counters of %s missing after loading them", reqs[i].Items[asInt(parts[1])-1].SKU)
				default:
					errs[i] = fmt.Errorf("unexpected reserve reply %v", parts)
				}
			}
		}
		// Load every missing SKU (Load leaves cached ones alone); a request
		// naming a SKU that cannot be loaded (unknown to the ledger) fails.
		for sku, waiting := range load {
			if err := s.Load(ctx, sku); err != nil {
				for _, i := range waiting {
					errs[i] = err
				}
			}
		}
		byShard = map[int][]int{}
		for sh, idx := range missed {
			for _, i := range idx {
				if errs[i] == nil {
					byShard[sh] = append(byShard[sh], i)
				}
			}
		}
	}
	if len(ledger) > 0 {
		batch := make([]inventory.ReserveRequest, len(ledger))
		for k, i := range ledger {
			batch[k] = reqs[i]
		}
		for k, err := range s.sql.ReserveBatch(ctx, batch) {
			if err != nil {
				i := ledger[k]
				errs[i] = err
				s.compensate(reqs[i].ID, []group{{shard: s.shard(reqs[i].Items[0].SKU), items: reqs[i].Items}})
			}
		}
	}
	return errs
}

// admit runs reserveManyScript for the requests idx of one shard.
func (s *Store) admit(ctx context.Context, shard int, reqs []inventory.ReserveRequest, idx []int) ([]any, error) {
	keys := make([]string, 0, 2*len(idx))
	args := make([]any, 0, 1+3*len(idx))
	args = append(args, len(idx))
	for _, i := range idx {
		r := reqs[i]
		keys = append(keys, s.recordKey(shard, r.ID))
		args = append(args, (r.TTL + s.o.RecordTTL).Milliseconds(), len(r.Items))
		for _, it := range r.Items {
			keys = append(keys, s.CounterKey(it.SKU))
			args = append(args, it.Qty)
		}
	}
	res, err := reserveManyScript.Run(ctx, s.rdb, keys, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("reserving in Redis: %w", err)
	}
	replies, ok := res.([]any)
	if !ok || len(replies) != len(idx) {
		return nil, fmt.Errorf("unexpected reserve replies %v", res)
	}
	return replies, nil
}

func (s *Store) reserveGroup(ctx context.Context, id string, g group, ttl time.Duration) error {
	for attempt := 0; ; attempt++ {
		keys, args := s.keysArgs(g, id, (ttl + s.o.RecordTTL).Milliseconds())
		res, err := reserveScript.Run(ctx, s.rdb, keys, args...).Result()
		if err != nil {
			return fmt.Errorf("reserving %s in Redis: %w", id, err)
		}
		parts, tag, err := reply(res)
		if err != nil {
			return err
		}
		switch tag {
		case "ok":
			return nil
		case "dup":
			if st, _ := parts[1].(string); st == inventory.StateReleased {
				return fmt.Errorf("%w: %s was released", inventory.ErrReservationClosed, id)
			}
			return errAlreadyHeld
		case "short":
			it := g.items[asInt(parts[1])-1]
			return &inventory.InsufficientStockError{SKU: it.SKU, Requested: it.Qty, Available: asInt(parts[2])}
		case "miss":
			if attempt > 0 {
				return fmt.Errorf("counters of %s missing after loading them", g.items[asInt(parts[1])-1].SKU)
			}
			// Other SKUs of the group may be missing too: fill them all
			// (Load leaves cached counters alone).
			for _, it := range g.items {
				if err := s.Load(ctx, it.SKU); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("unexpected reserve reply %v", parts)
		}
	}
}

// compensate releases Redis holds of a reservation that failed; it runs
// even when the caller's context is gone, so holds are not left behind.
func (s *Store) compensate(id string, groups []group) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, g := range groups {
		keys, args := s.keysArgs(g, id, inventory.StateReleased)
		if err := closeScript.Run(ctx, s.rdb, keys, args...).Err(); err != nil {
			s.o.Logger.Warn("releasing Redis hold of a failed reservation; run inventory reconcile", "reservation", id, "err", err)
		}
	}
}

// Load copies a SKU's counters from the ledger into Redis unless cached.
func (s *Store) Load(ctx context.Context, sku string) error {
	l, err := s.sql.Levels(ctx, sku)
	if err != nil {
		return err
	}
	if err := loadScript.Run(ctx, s.rdb, []string{s.CounterKey(sku)}, l.OnHand, l.Reserved, l.OnOrder, l.LowStockThreshold, l.Version).Err(); err != nil {
		return fmt.Errorf("caching counters of %s: %w", sku, err)
	}
	return nil
}

// Commit records the sale in SQL, then in Redis.
func (s *Store) Commit(ctx context.Context, id string) error {
	return s.close(ctx, id, inventory.StateCommitted, s.sql.Commit)
}

// Release records the release in SQL, then returns the hold in Redis.
func (s *Store) Release(ctx context.Context, id string) error {
	return s.close(ctx, id, inventory.StateReleased, s.sql.Release)
}

func (s *Store) close(ctx context.Context, id, to string, record func(context.Context, string) error) error {
	if err := record(ctx, id); err != nil {
		return err
	}
	items, _, err := s.sql.ReservationItems(ctx, id)
	if err != nil {
		return err
	}
	for _, g := range s.groups(items) {
		keys, args := s.keysArgs(g, id, to)
		res, err := closeScript.Run(ctx, s.rdb, keys, args...).Result()
		if err != nil {
			return fmt.Errorf("closing %s in Redis (recorded in the ledger; reconcile repairs the cache): %w", id, err)
		}
		parts, tag, err := reply(res)
		if err != nil {
			return err
		}
		if tag == "missing" || tag == "closed" {
			s.o.Logger.Warn("Redis and the ledger disagree on a reservation; run inventory reconcile", "reservation", id, "redis", parts)
		}
	}
	return nil
}

// Adjust records the change in SQL, then applies it to the cached counters.
// A ref makes it idempotent on both sides.
func (s *Store) Adjust(ctx context.Context, sku string, delta int64, reason, ref string) (inventory.Levels, error) {
	l, err := s.sql.Adjust(ctx, sku, delta, reason, ref)
	if err != nil {
		return l, err
	}
	return l, s.adjustCache(ctx, sku, delta, ref, l.Version)
}

// adjustCache applies an adjustment the ledger recorded at version to the
// cached counters: once per ref, and not at all if they were loaded at or
// after that version (they hold it already).
func (s *Store) adjustCache(ctx context.Context, sku string, delta int64, ref string, version int64) error {
	keys := []string{s.CounterKey(sku)}
	if ref != "" {
		keys = append(keys, s.adjustKey(sku, ref))
	}
	res, err := adjustScript.Run(ctx, s.rdb, keys, delta, s.o.RecordTTL.Milliseconds(), version, inventory.OnHandCeiling(delta)).Result()
	if err != nil {
		return fmt.Errorf("adjusting %s in Redis (recorded in the ledger; reconcile repairs the cache): %w", sku, err)
	}
	// The ledger accepted the change, so a refusal here means the cached
	// counters are not the ledger's.
	if _, tag, _ := reply(res); tag == "neg" || tag == "limit" {
		s.o.Logger.Warn("Redis and the ledger disagree on a SKU; run inventory reconcile", "sku", sku, "refused", tag)
	}
	return nil
}

// StockWritten applies a stock write the ledger committed outside this
// port (a product write's stock count, catalog.StockCache) to the cached
// counters. Like Adjust, a failure here leaves the cache behind the ledger
// until reconcile; it is logged, not returned, because the write stands.
func (s *Store) StockWritten(ctx context.Context, sku string, onHandDelta, lowStockThreshold, version int64) {
	// The write stands even if its caller has gone: follow it regardless.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := stockWrittenScript.Run(ctx, s.rdb, []string{s.CounterKey(sku)}, onHandDelta, lowStockThreshold, version).Err(); err != nil {
		s.o.Logger.Warn("updating cached counters after a product write; run inventory reconcile", "sku", sku, "err", err)
	}
}

// Levels reads the system of record, which every change reaches.
func (s *Store) Levels(ctx context.Context, sku string) (inventory.Levels, error) {
	return s.sql.Levels(ctx, sku)
}

// ExpiredReservations lists held reservations past their TTL.
func (s *Store) ExpiredReservations(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return s.sql.ExpiredReservations(ctx, now, limit)
}

// Mismatch is one field on which Redis and the ledger disagree.
type Mismatch struct {
	SKU    string `json:"sku"`
	Field  string `json:"field"`
	Redis  int64  `json:"redis"`
	Ledger int64  `json:"ledger"`
}

// Reconcile compares every cached SKU with its ledger totals and, with fix,
// rewrites the cache from the ledger. SKUs not cached are not mismatches:
// they load on first use. The ledger is summed in one pass (one snapshot)
// and the counters read 500 SKUs per round trip; a SKU that differs is read
// again on both sides (its stock row, which the ledger's entries maintain in
// the same transactions, and its counters) and reported only if it still
// differs. A fix is a compare-and-set: it rewrites the counters only if they
// still hold what was just read. Run it with order traffic paused, or expect
// the operations in flight to show as transient differences.
func (s *Store) Reconcile(ctx context.Context, fix bool) ([]Mismatch, error) {
	type balance struct {
		sku              string
		onHand, reserved int64
	}
	var (
		out  []Mismatch
		page []balance
	)
	check := func() error {
		if len(page) == 0 {
			return nil
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.SliceCmd, len(page))
		for i, b := range page {
			cmds[i] = pipe.HMGet(ctx, s.CounterKey(b.sku), "on_hand", "reserved")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("reading counters: %w", err)
		}
		for i, b := range page {
			if vals := cmds[i].Val(); len(vals) != 2 || vals[0] == nil || len(counterMismatches(b.sku, vals, b.onHand, b.reserved)) == 0 {
				continue
			}
			ms, err := s.recheck(ctx, b.sku, fix)
			if err != nil {
				return err
			}
			out = append(out, ms...)
		}
		page = page[:0]
		return nil
	}
	err := s.sql.LedgerBalances(ctx, func(sku string, onHand, reserved int64) error {
		page = append(page, balance{sku, onHand, reserved})
		if len(page) < 500 {
			return nil
		}
		return check()
	})
	if err == nil {
		err = check()
	}
	return out, err
}

// counterMismatches compares a SKU's counters (HMGET on_hand, reserved) with
// the ledger's values; a missing field is a mismatch.
func counterMismatches(sku string, vals []any, onHand, reserved int64) []Mismatch {
	var ms []Mismatch
	for j, f := range []struct {
		name   string
		ledger int64
	}{{"on_hand", onHand}, {"reserved", reserved}} {
		got := int64(0)
		if vals[j] != nil {
			got = asInt(vals[j])
		}
		if got != f.ledger || vals[j] == nil {
			ms = append(ms, Mismatch{SKU: sku, Field: f.name, Redis: got, Ledger: f.ledger})
		}
	}
	return ms
}

// recheck reads a SKU that differed in the snapshot again, and returns what
// still differs; with fix it sets the counters to the ledger's values if
// they still hold what it read.
func (s *Store) recheck(ctx context.Context, sku string, fix bool) ([]Mismatch, error) {
	vals, err := s.rdb.HMGet(ctx, s.CounterKey(sku), "on_hand", "reserved").Result()
	if err != nil {
		return nil, fmt.Errorf("reading counters of %s: %w", sku, err)
	}
	if len(vals) != 2 || vals[0] == nil {
		return nil, nil // evicted meanwhile: it reloads from the ledger on first use
	}
	l, err := s.sql.Levels(ctx, sku)
	if err != nil {
		return nil, err
	}
	ms := counterMismatches(sku, vals, l.OnHand, l.Reserved)
	if len(ms) == 0 || !fix {
		return ms, nil
	}
	str := func(v any) string {
		if v == nil {
			return ""
		}
		return fmt.Sprint(v)
	}
	if err := casCountersScript.Run(ctx, s.rdb, []string{s.CounterKey(sku)}, str(vals[0]), str(vals[1]), l.OnHand, l.Reserved).Err(); err != nil {
		return nil, fmt.Errorf("rewriting counters of %s: %w", sku, err)
	}
	return ms, nil
}

// casCountersScript sets a SKU's counters only if they still hold the values
// reconcile read (ARGV 1-2; "" for a missing field).
var casCountersScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'on_hand', 'reserved')
if (cur[1] or '') ~= ARGV[1] or (cur[2] or '') ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'on_hand', ARGV[3], 'reserved', ARGV[4])
return 1
`)

// Package redisinv is the inventory port at scale: Redis holds the hot
// counters and decides reservations with Lua scripts (atomic check-and-hold
// across a reservation's SKUs), and the SQL system of record keeps the ledger,
// the reservation records, the alerts and the events.
//
// Order of writes and what a crash leaves behind:
//
//   - Reserve: Redis first (admission), then SQL. Concurrent reservations
//     of one shard go together: one script call admits a batch in order,
//     one ledger transaction records the admitted ones, and a reservation
//     the ledger refuses has its hold returned. SQL re-checks availability
//     with its own conditional update, so if the two ever disagree SQL refuses
//     and the Redis hold is compensated: Redis can never cause an oversell.
//     A crash between the two leaves a Redis hold with no SQL reservation:
//     stock is under-sold, never over-sold, until a retry of the same
//     reservation id completes it or `mercato inventory reconcile --fix`
//     rewrites Redis from the ledger.
//
//   - Commit and Release: SQL first (the record of the sale), then Redis. A
//     crash between leaves Redis holding stock SQL has already sold or
//     released; availability in Redis is then lower than true (again the safe
//     direction) until reconcile.
//
//   - Checkout, when the orders live in the ledger's database
//     (Options.Orders): the same order, with the order written by the
//     ledger's transactions (orders.JointStock). Redis admits the stock,
//     then one SQL transaction records the reservation, the order and its
//     idempotency claim; a transaction that fails returns the Redis hold.
//     The payment's transaction sells the stock, marks the order paid and
//     stores the key's response, then Redis closes the hold; a Redis
//     failure there is logged, not returned (the order stands), and
//     leaves the cache low until reconcile.
//
//   - Adjust and a product write's stock count: SQL first, then the delta
//     in Redis, guarded by the ledger row's version. Counters loaded from
//     the ledger remember the version they were read at, and a delta whose
//     version is not newer is in them already, so a SKU loaded between the
//     two steps does not get the change twice.
//
// So the ledger is the truth, Redis is a cache that can be rebuilt from it at
// any time, and every disagreement errs towards refusing an order rather than
// selling stock that is not there.
//
// Keys are built for Redis Cluster: a SKU's counters live in
// "<prefix>inv:{s<N>}:<sku>" and a reservation's record in
// "<prefix>res:{s<N>}:<id>", where N = crc32(sku) mod Shards is a hash tag.
// Every key one script touches shares one tag, so each script runs on one
// node (the prefix cannot take the tag's place: braces in it become
// parentheses). With Shards = 1 (the default) a reservation over several SKUs is one
// atomic script. With more shards a reservation spanning shards runs one
// script per shard in shard order and releases the earlier shards if a later
// one refuses: all-or-nothing still holds for the caller, but for that brief
// moment another caller may see the earlier shards' hold and be refused.
package redisinv

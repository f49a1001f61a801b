package redisinv

import "github.com/redis/go-redis/v9"

// reserveScript holds every item of one shard or none.
// KEYS[1] reservation record, KEYS[2..] SKU counters.
// ARGV[1] record TTL ms, ARGV[2..] quantities.
// Returns {"ok"}, {"dup", state}, {"miss", i} or {"short", i, available}.
var reserveScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if st then return {'dup', st} end
for i = 2, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'on_hand', 'reserved')
  if not v[1] then return {'miss', i - 1} end
  local avail = tonumber(v[1]) - tonumber(v[2])
  if avail < tonumber(ARGV[i]) then return {'short', i - 1, avail} end
end
for i = 2, #KEYS do redis.call('HINCRBY', KEYS[i], 'reserved', ARGV[i]) end
redis.call('HSET', KEYS[1], 'state', 'held')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {'ok'}
`)

// closeScript commits or releases a held reservation of one shard.
// KEYS as reserveScript; ARGV[1] target state ("committed"|"released"),
// ARGV[2..] quantities. Returns {"ok"}, {"dup"}, {"closed", state} or {"missing"}.
var closeScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {'missing'} end
if st == ARGV[1] then return {'dup'} end
if st ~= 'held' then return {'closed', st} end
for i = 2, #KEYS do
  local q = tonumber(ARGV[i])
  if ARGV[1] == 'committed' then redis.call('HINCRBY', KEYS[i], 'on_hand', -q) end
  redis.call('HINCRBY', KEYS[i], 'reserved', -q)
end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
return {'ok'}
`)

// adjustScript changes on_hand unless it would fall below reserved or rise
// above the stock limit. With a second key (the adjustment's ref marker) it
// applies once per ref. A change whose ledger version the counters were
// loaded at or after is in them already.
// KEYS[1] counters, KEYS[2] optional marker; ARGV[1] delta, ARGV[2] marker
// TTL ms, ARGV[3] the stock row's version after the change, ARGV[4] the
// largest on_hand delta may be added to (inventory.OnHandCeiling).
// Returns {"ok"}, {"dup"}, {"miss"}, {"loaded"}, {"neg", on_hand, reserved}
// or {"limit", on_hand}.
var adjustScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'on_hand', 'reserved', 'version')
if not v[1] then return {'miss'} end
if tonumber(ARGV[3]) <= tonumber(v[3] or '0') then return {'loaded'} end
local d = tonumber(ARGV[1])
if tonumber(v[1]) + d < tonumber(v[2]) then return {'neg', v[1], v[2]} end
if d > 0 and tonumber(v[1]) > tonumber(ARGV[4]) then return {'limit', v[1]} end
if #KEYS == 2 and not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return {'dup'} end
redis.call('HINCRBY', KEYS[1], 'on_hand', d)
return {'ok'}
`)

// loadScript fills a SKU's counters from the ledger unless they are cached,
// with the ledger version they were read at.
// KEYS[1] counters; ARGV on_hand, reserved, on_order, threshold, version.
var loadScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'on_hand', ARGV[1], 'reserved', ARGV[2], 'on_order', ARGV[3], 'threshold', ARGV[4], 'version', ARGV[5])
return 1
`)

// reserveManyScript decides several reservations of one shard in order,
// each all or nothing as reserveScript decides one.
// ARGV[1] count; then per reservation: record TTL ms, item count k, and k
// quantities. KEYS per reservation: its record, then its k SKU counters.
// Returns one reserveScript reply per reservation.
var reserveManyScript = redis.NewScript(`
local out = {}
local ki, ai = 1, 2
for r = 1, tonumber(ARGV[1]) do
  local ttl, k = ARGV[ai], tonumber(ARGV[ai + 1])
  ai = ai + 2
  local rec = KEYS[ki]
  local res
  local st = redis.call('HGET', rec, 'state')
  if st then
    res = {'dup', st}
  else
    for i = 1, k do
      local v = redis.call('HMGET', KEYS[ki + i], 'on_hand', 'reserved')
      if not v[1] then res = {'miss', i} break end
      local avail = tonumber(v[1]) - tonumber(v[2])
      if avail < tonumber(ARGV[ai + i - 1]) then res = {'short', i, avail} break end
    end
    if not res then
      for i = 1, k do redis.call('HINCRBY', KEYS[ki + i], 'reserved', ARGV[ai + i - 1]) end
      redis.call('HSET', rec, 'state', 'held')
      redis.call('PEXPIRE', rec, ttl)
      res = {'ok'}
    end
  end
  out[r] = res
  ki = ki + 1 + k
  ai = ai + k
end
return out
`)

// stockWrittenScript applies a committed stock write made outside the
// inventory port to cached counters, unless they were loaded at or after
// its version; SKUs not cached load fresh on first use.
// KEYS[1] counters; ARGV[1] on_hand delta, ARGV[2] threshold, ARGV[3] version.
// Returns "ok", "loaded" or "miss".
var stockWrittenScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'miss' end
redis.call('HSET', KEYS[1], 'threshold', ARGV[2])
local loaded = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if tonumber(ARGV[3]) <= loaded then return 'loaded' end
redis.call('HINCRBY', KEYS[1], 'on_hand', ARGV[1])
return 'ok'
`)

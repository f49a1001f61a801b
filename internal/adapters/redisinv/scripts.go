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

// adjustScript changes on_hand unless it would fall below reserved. With a
// second key (the adjustment's ref marker) it applies once per ref.
// KEYS[1] counters, KEYS[2] optional marker; ARGV[1] delta, ARGV[2] marker TTL ms.
// Returns {"ok"}, {"dup"}, {"miss"} or {"neg", on_hand, reserved}.
var adjustScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'on_hand', 'reserved')
if not v[1] then return {'miss'} end
local d = tonumber(ARGV[1])
if tonumber(v[1]) + d < tonumber(v[2]) then return {'neg', v[1], v[2]} end
if #KEYS == 2 and not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return {'dup'} end
redis.call('HINCRBY', KEYS[1], 'on_hand', d)
return {'ok'}
`)

// loadScript fills a SKU's counters from the ledger unless they are cached.
// KEYS[1] counters; ARGV on_hand, reserved, on_order, threshold.
var loadScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'on_hand', ARGV[1], 'reserved', ARGV[2], 'on_order', ARGV[3], 'threshold', ARGV[4])
return 1
`)

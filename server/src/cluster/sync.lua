-- ARGV (as the prelude leaves it): prefix, relay, room ttl ms, dead after ms (0: do not judge other relays),
-- repair (1/0), the number of peers the relay holds, then for each: room, peer, conn, name, name key, nonce,
-- grace left ms (0 while connected); then
-- "<room> <peer>" and conn of each entry this script called a stray last time.
-- The relay's heartbeat, and its repair after Redis lost data or the relay lost Redis:
-- 1. records the heartbeat, and keeps the rooms it holds people in from expiring;
-- 2. with repair, puts back its peers that Redis lost (a restart without persistence), without announcing them;
-- 3. returns strays: entries Redis says the relay holds but it does not (a leave it could not record). A stray
--    passed back on the next run and still held through the same connection is removed and announced (twice in
--    a row, so a join or leave in flight while this ran is never mistaken for one);
-- 4. removes the peers of relays silent for longer than `dead after`, and those whose grace period ended.
-- Returns {removed count, {stray member, conn, ...}}.
local me, ttl, dead_after, repair = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1'
local count = tonumber(ARGV[6])
local now = now_ms()
local removed = 0
redis.call('ZADD', relays_key, now, me)

local mine = {}
local first = 7
for i = first, first + 7 * count - 1, 7 do
  local room, peer, conn = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local grace_left = tonumber(ARGV[i + 6])
  mine[member(room, peer)] = true
  if repair and not redis.call('HGET', room_key(room), peer) then
    local expires = 0
    if grace_left > 0 then
      expires = now + grace_left
      redis.call('ZADD', offline_key, expires, member(room, peer))
    end
    redis.call('HSET', room_key(room), peer, cjson.encode({
      relay = me, conn = conn, name = ARGV[i + 3], key = ARGV[i + 4], nonce = ARGV[i + 5], since = now,
      expires = expires }))
    redis.call('SADD', peers_key(me), member(room, peer))
  end
  redis.call('PEXPIRE', room_key(room), ttl)
end

for i = first + 7 * count, #ARGV, 2 do
  local value, conn = ARGV[i], tonumber(ARGV[i + 1])
  local room, peer = split_member(value)
  if not mine[value] then
    local entry = held(room, peer, me, conn)
    if entry then
      remove(room, peer, entry, 'disconnected', nil)
      removed = removed + 1
    end
  end
end

local strays = {}
for _, value in ipairs(redis.call('SMEMBERS', peers_key(me))) do
  if not mine[value] then
    local room, peer = split_member(value)
    local raw = redis.call('HGET', room_key(room), peer)
    local entry = raw and cjson.decode(raw)
    if entry and entry.relay == me then
      strays[#strays + 1] = value
      strays[#strays + 1] = tostring(entry.conn)
    else
      redis.call('SREM', peers_key(me), value)
    end
  end
end

for _, value in ipairs(redis.call('ZRANGEBYSCORE', offline_key, '-inf', now, 'LIMIT', 0, 1000)) do
  local room, peer = split_member(value)
  redis.call('ZREM', offline_key, value)
  local raw = redis.call('HGET', room_key(room), peer)
  if raw then
    local entry = cjson.decode(raw)
    if entry.expires > 0 and entry.expires <= now then
      remove(room, peer, entry, 'disconnected', nil)
      removed = removed + 1
    end
  end
end

if dead_after > 0 then
  for _, relay in ipairs(redis.call('ZRANGEBYSCORE', relays_key, '-inf', now - dead_after, 'LIMIT', 0, 16)) do
    for _, value in ipairs(redis.call('SMEMBERS', peers_key(relay))) do
      local room, peer = split_member(value)
      local raw = redis.call('HGET', room_key(room), peer)
      if raw and cjson.decode(raw).relay == relay then
        remove(room, peer, cjson.decode(raw), 'disconnected', nil)
        removed = removed + 1
      end
    end
    redis.call('DEL', peers_key(relay))
    redis.call('ZREM', relays_key, relay)
  end
end

redis.call('PEXPIRE', peers_key(me), ttl)
redis.call('PEXPIRE', relays_key, ttl * 10)
redis.call('PEXPIRE', offline_key, ttl * 10)
return { removed, strays }

-- ARGV (as the prelude leaves it): prefix, room, peer, relay, conn, name, name key, capacity, resuming (1/0), room ttl ms,
--       the `joined` envelope for other relays, the `taken_over` envelope for the relay a resumed peer leaves
--       (both unsealed: the script seals them for each relay).
-- Returns {'joined'|'resumed', {id, name, ...}}, or {'full', {}} or {'taken', {}}.
local room, peer, me, conn = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local name, key, capacity, resuming = ARGV[6], ARGV[7], tonumber(ARGV[8]), ARGV[9] == '1'
local ttl, joined_envelope, taken_over_envelope = tonumber(ARGV[10]), ARGV[11], ARGV[12]
local now = now_ms()
redis.call('ZADD', relays_key, now, me)

-- Peers whose grace period is over leave before anyone is counted.
for _, pair in ipairs(entries(room)) do
  if pair[2].expires > 0 and pair[2].expires <= now then
    remove(room, pair[1], pair[2], 'disconnected', nil)
  end
end

local function others()
  local list = {}
  for _, pair in ipairs(entries(room)) do
    if pair[1] ~= peer then
      list[#list + 1] = pair[1]
      list[#list + 1] = pair[2].name
    end
  end
  return list
end

local existing = redis.call('HGET', room_key(room), peer)
if resuming and existing then
  local entry = cjson.decode(existing)
  local previous = entry.relay
  entry.relay, entry.conn, entry.expires = me, conn, 0
  redis.call('HSET', room_key(room), peer, cjson.encode(entry))
  redis.call('ZREM', offline_key, member(room, peer))
  if previous ~= me then
    redis.call('SREM', peers_key(previous), member(room, peer))
    redis.call('SADD', peers_key(me), member(room, peer))
    publish(previous, taken_over_envelope)
  end
  redis.call('PEXPIRE', room_key(room), ttl)
  return { 'resumed', others() }
end

local list = entries(room)
if #list >= capacity then
  return { 'full', {} }
end
for _, pair in ipairs(list) do
  if pair[2].key == key then
    return { 'taken', {} }
  end
end
publish_room(room, joined_envelope, me)
-- Join order is `since` order: a newcomer in the same millisecond as the last one still comes after it.
-- (`list` is in join order, so its last entry is the latest.)
local since = now
if #list > 0 and list[#list][2].since >= since then
  since = list[#list][2].since + 1
end
redis.call('HSET', room_key(room), peer,
  cjson.encode({ relay = me, conn = conn, name = name, key = key, since = since, expires = 0 }))
redis.call('SADD', peers_key(me), member(room, peer))
redis.call('PEXPIRE', room_key(room), ttl)
return { 'joined', others() }

-- ARGV (as the prelude leaves it): prefix, room, peer, relay, conn, name, name key, capacity, the nonce of the
--       resume token ('' for a fresh join), this join's nonce, room ttl ms, the `joined` envelope for other relays,
--       the `taken_over` envelope for the relay a resumed peer leaves (both unsealed: the script seals them).
-- A resume takes over the peer only if its entry still has the token's nonce (and then gets this join's).
-- Returns {'joined'|'resumed', {id, name, ...}}, or {'full', {}}, {'taken', {}} or {'invalid_resume', {}}.
local room, peer, me, conn = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local name, key, capacity = ARGV[6], ARGV[7], tonumber(ARGV[8])
local resume_nonce, nonce = ARGV[9], ARGV[10]
local ttl, joined_envelope, taken_over_envelope = tonumber(ARGV[11]), ARGV[12], ARGV[13]
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
if resume_nonce ~= '' then
  local entry = existing and cjson.decode(existing)
  -- Gone (left, or its grace period ended), or resumed since with a newer token.
  if not entry or entry.nonce ~= resume_nonce then
    return { 'invalid_resume', {} }
  end
  local previous = entry.relay
  entry.relay, entry.conn, entry.expires, entry.nonce = me, conn, 0, nonce
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
  cjson.encode({ relay = me, conn = conn, name = name, key = key, nonce = nonce, since = since, expires = 0 }))
redis.call('SADD', peers_key(me), member(room, peer))
redis.call('PEXPIRE', room_key(room), ttl)
return { 'joined', others() }

-- Shared by every script (prepended to each). The layout, under the prefix in ARGV[1]:
--   <p>:room:<room>          hash  peer id -> JSON {relay, conn, name, key, nonce, since, expires}
--                                   (nonce: of its latest join, which its resume token must name; expires: 0 while
--                                   connected, else when its grace period ends, ms)
--   <p>:relay:<relay>:peers  set   "<room> <peer>" for every entry that relay holds
--   <p>:relays               zset  relay id -> its last heartbeat, ms (Redis' clock)
--   <p>:offline              zset  "<room> <peer>" -> expires, for peers within their grace period
--   <p>:seq                  string: the last sequence number of an envelope sealed here (see cluster/seal.rs)
--   <p>:relay:<relay>        channel: sealed envelopes for that relay (see cluster/seal.rs and cluster.rs)
-- Room and peer ids are base32, so a space separates them safely.
-- Every script takes the prefix, then the membership key's inner and outer padded forms (taken out of ARGV here,
-- so that each script's own arguments start at ARGV[2]), then its own.
local prefix = ARGV[1]
local inner_pad = table.remove(ARGV, 2)
local outer_pad = table.remove(ARGV, 2)
local relays_key = prefix .. ':relays'
local offline_key = prefix .. ':offline'
local seq_key = prefix .. ':seq'

local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

local function room_key(room)
  return prefix .. ':room:' .. room
end

local function peers_key(relay)
  return prefix .. ':relay:' .. relay .. ':peers'
end

local function channel(relay)
  return prefix .. ':relay:' .. relay
end

local function unhex(hex)
  return (string.gsub(hex, '..', function(pair) return string.char(tonumber(pair, 16)) end))
end

-- Publishes `body` (an envelope's JSON) to `relay`, sealed with the membership key: HMAC-SHA1 (RFC 2104) over
-- "m.<now ms>.<seq>.<relay>.<body>", where seq keeps rising even if Redis restarts (the larger of the last one + 1
-- and now × 1000).
local function publish(relay, body)
  local now = now_ms()
  local seq = math.max(tonumber(redis.call('GET', seq_key) or '0') + 1, now * 1000)
  seq = string.format('%.0f', seq)
  redis.call('SET', seq_key, seq)
  local signed = 'm.' .. string.format('%.0f', now) .. '.' .. seq .. '.' .. relay .. '.' .. body
  local tag = redis.sha1hex(outer_pad .. unhex(redis.sha1hex(inner_pad .. signed)))
  redis.call('PUBLISH', channel(relay), tag .. '.' .. signed)
end

local function member(room, peer)
  return room .. ' ' .. peer
end

local function split_member(value)
  return string.match(value, '^(%S+) (%S+)$')
end

-- The room's entries as {id, entry} pairs in join order.
local function entries(room)
  local flat = redis.call('HGETALL', room_key(room))
  local list = {}
  for i = 1, #flat, 2 do
    list[#list + 1] = { flat[i], cjson.decode(flat[i + 1]) }
  end
  table.sort(list, function(a, b)
    if a[2].since == b[2].since then
      return a[1] < b[1]
    end
    return a[2].since < b[2].since
  end)
  return list
end

-- Publishes `message` once to every relay holding someone in `room`, except `skip`.
local function publish_room(room, message, skip)
  local seen = {}
  for _, pair in ipairs(entries(room)) do
    local relay = pair[2].relay
    if relay ~= skip and not seen[relay] then
      seen[relay] = true
      publish(relay, message)
    end
  end
end

-- Removes a peer and tells every relay still holding someone in the room (except `skip`).
local function remove(room, peer, entry, reason, skip)
  redis.call('HDEL', room_key(room), peer)
  redis.call('SREM', peers_key(entry.relay), member(room, peer))
  redis.call('ZREM', offline_key, member(room, peer))
  publish_room(room, cjson.encode({ kind = 'left', room = room, peer = peer, reason = reason }), skip)
end

-- The entry of `peer` in `room` if `relay` holds it through connection `conn`.
local function held(room, peer, relay, conn)
  local raw = redis.call('HGET', room_key(room), peer)
  if not raw then
    return nil
  end
  local entry = cjson.decode(raw)
  if entry.relay ~= relay or entry.conn ~= conn then
    return nil
  end
  return entry
end

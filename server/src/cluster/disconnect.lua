-- ARGV (as the prelude leaves it): prefix, room, peer, relay, conn, grace ms. Starts the grace period of a peer
-- whose connection dropped, if that relay still holds it through that connection. Returns 1 if it did.
local room, peer, me, conn = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local entry = held(room, peer, me, conn)
if not entry then
  return 0
end
entry.expires = now_ms() + tonumber(ARGV[6])
redis.call('HSET', room_key(room), peer, cjson.encode(entry))
redis.call('ZADD', offline_key, entry.expires, member(room, peer))
return 1

-- ARGV (as the prelude leaves it): prefix, room, from, to, the `deliver` envelope, sealed by the relay with the content
-- key (published as it came). Returns 1 if `to` is in the room with `from`, else 0.
local room = ARGV[2]
local from = redis.call('HGET', room_key(room), ARGV[3])
local to = redis.call('HGET', room_key(room), ARGV[4])
if not from or not to then
  return 0
end
redis.call('PUBLISH', channel(cjson.decode(to).relay), ARGV[5])
return 1

-- ARGV (as the prelude leaves it): prefix, room, peer, relay, conn, reason ('left' or 'disconnected'),
-- only_if_away (1/0).
-- Removes the peer if that relay still holds it through that connection (and, with only_if_away, if it is still
-- within its grace period), telling the other relays. Returns 1 if removed.
local room, peer, me, conn = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local entry = held(room, peer, me, conn)
if not entry or (ARGV[7] == '1' and entry.expires == 0) then
  return 0
end
remove(room, peer, entry, ARGV[6], me)
return 1

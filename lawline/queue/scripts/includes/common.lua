-- Shared helpers, pasted into each script by the loader (store.py).

-- Times are seconds since the epoch, kept to the microsecond.
local function fmt_time(t)
  return string.format('%.6f', t)
end

local function hgetall(key)
  local flat = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #flat, 2 do
    t[flat[i]] = flat[i + 1]
  end
  return t
end

-- Stream ids ('ms-seq') in order; Lua numbers hold the milliseconds exactly.
local function parse_id(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

local function id_less(a, b)
  local am, as = parse_id(a)
  local bm, bs = parse_id(b)
  return am < bm or (am == bm and as < bs)
end

-- The ledger (group lawline/queue/keys.py LEDGER_GROUP) copies every contact from the stream.
local LEDGER_GROUP = 'ledger'
-- Trim once the stream is this many entries over its cap, by at most this many: one
-- append in a hundred reads a hundred entries, and a backlog left by a ledger that was
-- down drains a hundred per append.
local TRIM_BATCH = 100

-- The oldest id the ledger still needs: its oldest pending entry, or the first one it
-- has not been given yet. nil when there is no ledger group.
local function ledger_floor(events_key)
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', events_key)) do
    local info = {}
    for i = 1, #g, 2 do
      info[g[i]] = g[i + 1]
    end
    if info['name'] == LEDGER_GROUP then
      local ms, seq = parse_id(info['last-delivered-id'])
      local floor = string.format('%d-%d', ms, seq + 1)
      if tonumber(info['pending']) > 0 then
        local oldest = redis.call('XPENDING', events_key, LEDGER_GROUP)[2]
        if id_less(oldest, floor) then
          floor = oldest
        end
      end
      return floor
    end
  end
  return nil
end

-- Keep the stream near maxlen entries, but never drop one the ledger has not
-- acknowledged: a ledger that is down or behind holds the trim back.
local function trim_events(events_key, maxlen)
  maxlen = tonumber(maxlen)
  local excess = redis.call('XLEN', events_key) - maxlen
  if excess < TRIM_BATCH then
    return
  end
  local floor = ledger_floor(events_key)
  if floor == nil then
    redis.call('XTRIM', events_key, 'MAXLEN', '~', maxlen)
    return
  end
  local head = redis.call('XRANGE', events_key, '-', '+', 'COUNT', math.min(excess, TRIM_BATCH) + 1)
  local keep_from = head[#head][1]
  if id_less(floor, keep_from) then
    keep_from = floor
  end
  redis.call('XTRIM', events_key, 'MINID', keep_from)
end

-- Append one event to the stream. `fields` is a flat list of name, value.
local function emit(events_key, maxlen, etype, now, fields)
  local args = {'XADD', events_key, '*', 'type', etype, 'at', fmt_time(now)}
  for _, v in ipairs(fields) do
    args[#args + 1] = v
  end
  local id = redis.call(unpack(args))
  trim_events(events_key, maxlen)
  return id
end

-- Keys a script could not know from its arguments (the contact's lawyer, its queue's
-- stats) are declared by the caller from what it read just before; if the contact has
-- changed since, the script changes nothing and answers STALE: read again and retry.
local STALE = -99

local function refs_stale(lawyer, service, want_lawyer, want_service)
  return (lawyer or '') ~= want_lawyer or (service or '') ~= want_service
end

-- A contact that is over keeps its Redis copy this many seconds (0: for ever); the
-- ledger has it from the event stream, which is kept until the ledger has read it.
local function expire_contact(ckey, ttl)
  ttl = math.floor(tonumber(ttl) or 0)
  if ttl > 0 then
    redis.call('EXPIRE', ckey, ttl)
  end
end

local function contact_json(key)
  return cjson.encode(hgetall(key))
end

-- Derive the lawyer's state from presence and work in hand, and account the
-- time spent in the state being left. Work in hand wins over presence: a lawyer
-- whose console vanished mid-call is still busy until the call ends.
local function refresh_lawyer(lkey, now)
  local l = redis.call('HMGET', lkey, 'presence', 'offer', 'load_voice', 'load_video',
    'wrapup_until', 'state', 'state_since')
  local presence, offer = l[1], l[2]
  local load = (tonumber(l[3]) or 0) + (tonumber(l[4]) or 0)
  local state
  if offer and offer ~= '' then
    state = 'offered'
  elseif load > 0 then
    state = 'busy'
  elseif (tonumber(l[5]) or 0) ~= 0 then
    state = 'wrapup'  -- until finishWrapup clears it
  elseif presence == 'available' then
    state = 'available'
  elseif presence == 'break' then
    state = 'break'
  else
    state = 'offline'
  end
  local old, since = l[6], tonumber(l[7]) or now
  if state ~= old then
    if old then
      redis.call('HINCRBYFLOAT', lkey, 't_' .. old, math.max(0, now - since))
    end
    redis.call('HSET', lkey, 'state', state, 'state_since', fmt_time(now))
    if state == 'available' then
      redis.call('HSET', lkey, 'idle_since', fmt_time(now))
    end
  end
  return state
end

local function lawyer_json(lkey)
  return cjson.encode(hgetall(lkey))
end

-- Put an offered contact back in the queue with its original entry time.
local function requeue(ckey, waiting_key, offers_key, cid)
  local entered = redis.call('HGET', ckey, 'entered_at')
  redis.call('HSET', ckey, 'state', 'waiting', 'lawyer', '', 'offer_deadline', '')
  redis.call('ZREM', offers_key, cid)
  redis.call('ZADD', waiting_key, entered, cid)
end

-- The lawyer is no longer on this contact: one less in hand on its channel.
local function release_lawyer(lkey, channel, contact_id)
  if redis.call('HGET', lkey, 'talking') == contact_id then
    redis.call('HSET', lkey, 'talking', '')
  end
  if redis.call('HINCRBY', lkey, 'load_' .. channel, -1) < 0 then
    redis.call('HSET', lkey, 'load_' .. channel, 0)
  end
end

-- After a conversation: one more handled, and wrap-up until now + wrapup_s (a later
-- wrap-up still pending is kept); none configured: no wrap-up.
local function start_wrapup(lkey, wrapups_key, lawyer_id, now, wrapup_s)
  redis.call('HINCRBY', lkey, 'handled', 1)
  local until_ = math.max(now + wrapup_s, tonumber(redis.call('HGET', lkey, 'wrapup_until')) or 0)
  if until_ > now then
    redis.call('HSET', lkey, 'wrapup_until', fmt_time(until_))
    redis.call('ZADD', wrapups_key, until_, lawyer_id)
  else
    redis.call('HSET', lkey, 'wrapup_until', 0)
  end
end

-- The named fields of a hash as a table (missing ones nil).
local function hmget(key, names)
  local values = redis.call('HMGET', key, unpack(names))
  local t = {}
  for i, name in ipairs(names) do
    t[name] = values[i]
  end
  return t
end

local CONTACT_ENDING_FIELDS = {'state', 'lawyer', 'entered_at', 'answered_at', 'id', 'service',
  'channel'}

-- A waiting or offered contact is given up (the caller left): off the queue, an offer
-- withdrawn with nothing counted against the lawyer. c: hmget(CONTACT_ENDING_FIELDS);
-- k: the contact, waiting, offers, lawyer (its offer's), stats and events keys.
local function abandon_contact(k, c, now, reason, maxlen, keep_s)
  local fields = {}
  if c.state == 'offered' then
    redis.call('HSET', k.lawyer, 'offer', '')
    refresh_lawyer(k.lawyer, now)
    fields = {'lawyer', lawyer_json(k.lawyer)}
  end
  redis.call('ZREM', k.waiting, c.id)
  redis.call('ZREM', k.offers, c.id)
  redis.call('HSET', k.contact, 'state', 'abandoned', 'ended_at', fmt_time(now), 'lawyer', '',
    'offer_deadline', '', 'ended_by', reason)
  redis.call('HINCRBY', k.stats, 'abandoned', 1)
  redis.call('HINCRBYFLOAT', k.stats, 'wait_abandoned_s', now - tonumber(c.entered_at))
  expire_contact(k.contact, keep_s)
  fields[#fields + 1] = 'contact'
  fields[#fields + 1] = contact_json(k.contact)
  fields[#fields + 1] = 'reason'
  fields[#fields + 1] = reason
  emit(k.events, maxlen, 'contact.abandoned', now, fields)
end

-- A connected contact ends: its lawyer goes to wrap-up. c: hmget(CONTACT_ENDING_FIELDS);
-- k: the contact, wrapups, lawyer, stats and events keys.
local function end_contact(k, c, now, ended_by, wrapup_s, maxlen, keep_s)
  redis.call('HSET', k.contact, 'state', 'ended', 'ended_at', fmt_time(now), 'ended_by', ended_by)
  release_lawyer(k.lawyer, c.channel, c.id)
  start_wrapup(k.lawyer, k.wrapups, c.lawyer, now, tonumber(wrapup_s))
  refresh_lawyer(k.lawyer, now)
  redis.call('HINCRBY', k.stats, 'handled', 1)
  redis.call('HINCRBYFLOAT', k.stats, 'talk_s', now - tonumber(c.answered_at))
  expire_contact(k.contact, keep_s)
  emit(k.events, maxlen, 'contact.ended', now,
    {'contact', contact_json(k.contact), 'lawyer', lawyer_json(k.lawyer), 'reason', ended_by})
end

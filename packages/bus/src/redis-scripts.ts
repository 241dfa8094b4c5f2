/**
 * Lua run by RedisStreamsBus. Each script touches the keys of ONE shard (all carry the
 * shard's hash tag), so it runs atomically on a single Redis and stays slot-local on a
 * cluster.
 *
 * Entry ids are "<ms>-<n>": ms is the server's time (never going back within a shard) and n
 * the entry's number in the shard's epoch: 1, 2, 3, ... without holes. Numbers make every
 * loss visible: a trim past a reader (XTRIM does not move max-deleted-entry-id, so Redis
 * itself cannot tell), a deleted entry, a stream that was recreated.
 */
import { createHash } from 'node:crypto';

/**
 * PUBLISH: KEYS = [streamKey, seqKey]; ARGV = [maxLen, payload]. Numbers the entry, appends it
 * with MAXLEN ~ trimming, returns its id.
 */
export const PUBLISH_SCRIPT = `
local n = redis.call('HINCRBY', KEYS[2], 'n', 1)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('HGET', KEYS[2], 't') or '0')
if now < last then now = last end
-- an id written by someone else (never by us) must not make XADD fail forever
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if top then
  local dash = string.find(top[1], '-', 1, true)
  local tms, tn = tonumber(string.sub(top[1], 1, dash - 1)), tonumber(string.sub(top[1], dash + 1))
  if tms > now or (tms == now and tn >= n) then now = tms + 1 end
end
redis.call('HSET', KEYS[2], 't', string.format('%d', now))
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], string.format('%d', now) .. '-' .. n, 'd', ARGV[2])
`;

/**
 * READ: KEYS = [epochKey, streamKey, seqKey]; ARGV = [cursorEpoch, cursorPosition, count, newEpoch].
 * Creates the shard's epoch when missing (a fresh or emptied Redis), then, atomically:
 *   {'epoch', epoch}                    the cursor belongs to another incarnation of the shard
 *   {'trimmed', epoch, resumeId}        entries after the cursor are gone; read on after resumeId
 *   {'ok', epoch, [[id, [field, value, ...]], ...]}   up to `count` entries after the cursor
 */
export const READ_SCRIPT = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[4])
  epoch = ARGV[4]
end
if epoch ~= ARGV[1] then return {'epoch', epoch} end
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local cms, cn = parse(ARGV[2])
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
if not first then
  local n = tonumber(redis.call('HGET', KEYS[3], 'n') or '0')
  if n > cn then return {'trimmed', epoch, '0-' .. string.format('%d', n)} end
  return {'ok', epoch, {}}
end
local fms, fn = parse(first[1])
if fn > cn + 1 then return {'trimmed', epoch, string.format('%d', fms) .. '-' .. string.format('%d', fn - 1)} end
return {'ok', epoch, redis.call('XRANGE', KEYS[2], '(' .. ARGV[2], '+', 'COUNT', tonumber(ARGV[3]))}
`;

/** TRIM_AGE: KEYS = [streamKey]; ARGV = [maxAgeMs]. Drops entries older than maxAgeMs by the server's clock. */
export const TRIM_AGE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local minid = math.max(0, now - tonumber(ARGV[1]))
return redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d', minid) .. '-0')
`;

export interface Script {
  text: string;
  sha: string;
}

export function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

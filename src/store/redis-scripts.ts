import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script sent by SHA1 (EVALSHA); its text crosses the wire only when Redis does not know it yet. */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

function script(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Run a script in one round trip. After a Redis restart (script cache empty) the first call pays one
 * extra round trip for the NOSCRIPT reply, then EVAL caches the script again.
 */
export async function runScript(
  redis: Redis,
  s: LuaScript,
  keys: string[],
  args: Array<string | number>,
): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT'))
      return redis.eval(s.lua, keys.length, ...keys, ...args);
    throw err;
  }
}

/**
 * Take the contact lock and, only if it was free, read the session, the contact and any further string
 * keys (JSON documents) in the same call.
 * KEYS: lock, session, contact, doc... ARGV: token, ttlMs.
 * Returns {1, sessionJson|false, contactHashFlat, docJson|false...} or {0, lockPttlMs}.
 */
export const LOCK_AND_LOAD = script(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local out = {1, redis.call('GET', KEYS[2]), redis.call('HGETALL', KEYS[3])}
  for i = 4, #KEYS do out[i] = redis.call('GET', KEYS[i]) end
  return out
end
return {0, redis.call('PTTL', KEYS[1])}
`);

/** Release the lock only for the holder's token. KEYS: lock. ARGV: token. */
export const RELEASE = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`);

/**
 * One conversation step, all or nothing (docs/design.md#step-6-commit-before-answering).
 * KEYS: lock, session, outbox, [seen], [contact], update docs..., cancel markers...
 * ARGV: token, sessionJson ('' deletes), sessionTtlMs, seenTtlMs ('' = no dedupe marker),
 *       nContactFields, field, value, ..., nJobs, jobJson, ..., cancelTtlMs,
 *       nUpdates, expected, newJson, ... (expected: '0' = absent, else '1' .. the current text)
 * Returns 1 committed, 0 duplicate (lock released, nothing written), -1 lock no longer ours (nothing
 * written), -2 an update document changed since it was read (nothing written, lock kept: read again).
 */
export const COMMIT = script(`
local token = ARGV[1]
local k = 4
local seenKey = nil
if ARGV[4] ~= '' then
  seenKey = KEYS[k]
  k = k + 1
end
if seenKey and redis.call('EXISTS', seenKey) == 1 then
  if redis.call('GET', KEYS[1]) == token then redis.call('DEL', KEYS[1]) end
  return 0
end
if redis.call('GET', KEYS[1]) ~= token then
  return -1
end
local a = 5
local nc = tonumber(ARGV[a])
local contactArg = a + 1
local contactKey = nil
if nc > 0 then
  contactKey = KEYS[k]
  k = k + 1
end
a = a + 1 + nc * 2
local nj = tonumber(ARGV[a])
local jobsArg = a + 1
a = a + 1 + nj
local cancelTtl = ARGV[a]
local nu = tonumber(ARGV[a + 1] or '0')
local updArg = a + 2
local updKey = k
k = k + nu
for i = 0, nu - 1 do
  local expected = ARGV[updArg + i * 2]
  local cur = redis.call('GET', KEYS[updKey + i])
  if expected == '0' then
    if cur then return -2 end
  elseif cur ~= string.sub(expected, 2) then
    return -2
  end
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
if nc > 0 then
  local fields = {}
  for i = contactArg, contactArg + nc * 2 - 1 do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', contactKey, unpack(fields))
end
if nj > 0 then
  local jobs = {}
  for i = jobsArg, jobsArg + nj - 1 do jobs[#jobs + 1] = ARGV[i] end
  redis.call('RPUSH', KEYS[3], unpack(jobs))
end
if seenKey then redis.call('SET', seenKey, '1', 'PX', ARGV[4]) end
for i = 0, nu - 1 do redis.call('SET', KEYS[updKey + i], ARGV[updArg + i * 2 + 1], 'KEEPTTL') end
for i = k, #KEYS do redis.call('SET', KEYS[i], '1', 'PX', cancelTtl) end
redis.call('DEL', KEYS[1])
return 1
`);

/**
 * Move up to ARGV[1] more entries from the outbox to the in-flight list without blocking.
 * KEYS: outbox, inflight. Returns the moved entries.
 */
export const MOVE_BATCH = script(`
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not v then break end
  out[#out + 1] = v
end
return out
`);

/**
 * Close a connection politely when it is up (QUIT lets replies in flight arrive) and at once when it is
 * not: QUIT on a reconnecting client would sit in the offline queue for as long as Redis stays away.
 */
export async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  await redis.quit().catch(() => redis.disconnect());
}

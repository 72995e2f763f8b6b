import { createHash } from "node:crypto";

/*
 * The Lua scripts of the Redis acceptor store. A script runs atomically in Redis, so the
 * read-compare-write of an acceptor is one step even when many writes are in flight (DESIGN.md,
 * pitfalls). With `appendfsync always` Redis fsyncs the script's effects to the AOF before it
 * replies. Errors carry a PAXOS_* code the store maps to AcceptorStoreError codes.
 */

/** Error prefixes the scripts reply with. */
export const SCRIPT_ERRORS = {
  amnesia: "PAXOS_AMNESIA",
  stale: "PAXOS_STALE",
  corrupt: "PAXOS_CORRUPT",
  notEmpty: "PAXOS_NOT_EMPTY",
  fenced: "PAXOS_FENCED",
} as const;

/** A Lua script and its SHA1, for EVALSHA with an EVAL fallback. */
export interface Script {
  /** What the script does, for spans and logs ("write", "init", "raiseEpoch"). */
  readonly name: string;
  readonly lua: string;
  readonly sha1: string;
}

function script(name: string, lua: string): Script {
  return { name, lua, sha1: createHash("sha1").update(lua).digest("hex") };
}

/**
 * Writes one AcceptorWrite. KEYS: identity, promised, accepted, epoch. ARGV: the epoch the
 * writing store raised at open, round, proposerId, chosenBelow, and for an accept also slot and
 * the entry's JSON. Refuses when the identity key is gone (Redis was wiped under us), when the
 * stored epoch is not the writer's (a newer open superseded the writing store: this write may be
 * one that timed out and reached Redis late, and applying it now would put on disk a vote that
 * the newer store's state does not hold), or when the write would lower the stored promise. The
 * chosen watermark is kept at the higher of the stored and the written value. The epoch is
 * compared in the same script as the ballot, so no open can slip between check and write.
 *
 * Ballots compare by round, then proposerId byte by byte. Lua's `<` on strings is strcoll, and
 * redis-server sets LC_COLLATE from its environment: under en_US.UTF-8, "a-b" and "ab" would
 * order differently from JavaScript. So the byte loop, never `<` on strings. Epochs are compared
 * as the exact decimal strings Redis stores, never as Lua numbers.
 */
export const WRITE_SCRIPT = script(
  "write",
  `
local function compare_bytes(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      if x < y then return -1 else return 1 end
    end
  end
  if #a == #b then return 0 end
  if #a < #b then return -1 else return 1 end
end

if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('${SCRIPT_ERRORS.amnesia} identity key ' .. KEYS[1] .. ' is gone')
end
local epoch = redis.call('GET', KEYS[4])
if epoch ~= ARGV[1] then
  return redis.error_reply('${SCRIPT_ERRORS.fenced} the writing store opened at epoch ' .. ARGV[1] ..
    ', the stored epoch is ' .. (epoch or 'missing'))
end
local round = tonumber(ARGV[2])
local stored = redis.call('HMGET', KEYS[2], 'round', 'proposerId', 'chosenBelow')
if stored[1] or stored[2] then
  local stored_round = tonumber(stored[1])
  if stored_round == nil or type(stored[2]) ~= 'string' then
    return redis.error_reply('${SCRIPT_ERRORS.corrupt} stored promise is malformed')
  end
  if round < stored_round or (round == stored_round and compare_bytes(ARGV[3], stored[2]) < 0) then
    return redis.error_reply('${SCRIPT_ERRORS.stale} stored promise ' .. stored[1] .. '.' .. stored[2] ..
      ' is above ' .. ARGV[2] .. '.' .. ARGV[3])
  end
end
local chosen_below = ARGV[4]
if stored[3] and tonumber(stored[3]) > tonumber(chosen_below) then chosen_below = stored[3] end
redis.call('HSET', KEYS[2], 'round', ARGV[2], 'proposerId', ARGV[3], 'chosenBelow', chosen_below)
if ARGV[5] then
  redis.call('HSET', KEYS[3], ARGV[5], ARGV[6])
end
return 'OK'
`,
);

/**
 * Writes the identity key, only if none of this acceptor's keys exist. KEYS: identity, promised,
 * accepted, epoch. ARGV: the identity JSON. One step, so two processes started with the same id
 * cannot both believe they initialised an empty store. The epoch key counts as acceptor data: it
 * exists only once a store opened over an identity, so an epoch without identity means the
 * identity was lost (not a new Redis), and even allowInit must not initialise over it.
 */
export const INIT_SCRIPT = script(
  "init",
  `
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4]) ~= 0 then
  return redis.error_reply('${SCRIPT_ERRORS.notEmpty} acceptor keys exist')
end
redis.call('SET', KEYS[1], ARGV[1])
return 'OK'
`,
);

/**
 * Raises the fencing epoch by one and returns it (as Redis stores it, a decimal string). KEYS:
 * identity, promised, accepted, epoch. Run by `open` after the identity check and before the
 * state is loaded: once it has run, no write of an older store can apply (WRITE_SCRIPT checks
 * the epoch), so the load that follows sees every older write that will ever land. Refuses when
 * the identity key is gone (a wipe between the identity check and this step), so an epoch key is
 * never created in a wiped Redis, and when the stored epoch is not a positive integer.
 */
export const RAISE_EPOCH_SCRIPT = script(
  "raiseEpoch",
  `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('${SCRIPT_ERRORS.amnesia} identity key ' .. KEYS[1] .. ' is gone')
end
local kind = redis.call('TYPE', KEYS[4])['ok']
if kind ~= 'none' and (kind ~= 'string' or not string.match(redis.call('GET', KEYS[4]), '^[1-9][0-9]*$')) then
  return redis.error_reply('${SCRIPT_ERRORS.corrupt} stored epoch is malformed')
end
redis.call('INCR', KEYS[4])
return redis.call('GET', KEYS[4])
`,
);

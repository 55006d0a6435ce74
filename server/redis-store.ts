/**
 * A session store on Redis, for several server processes: every process sees every session, a
 * logout or revoke on one is seen by all at once, sessions survive restarts, and the app's
 * access_token is fetched by one process and shared.
 *
 * Layout (prefix `wxlk:` by default):
 *   <prefix>s:<sha256(token)>      JSON {platform?, appid?, openid, unionid?, session_key?, anonymousOpenid?, createdAt, expiresAt, lastSeenAt, idleMs}, PX = lifetime
 *   <prefix>o:<sha256(user)>       sorted set of the user's session ids, oldest first; user = userKeyOf(session) in
 *                                  ./store: the openid in the single-app form (the layout before `apps`),
 *                                  ["<platform>","<appid>","<openid>"] with `apps`
 *   <prefix>at:<appid>             JSON {token, expiresAt}: the shared access_token
 *   <prefix>at:<appid>:lock        the refresh lock (SET NX PX, released only by its holder)
 *   <prefix>rl:...                 the plugin's rate-limit counters (`hit`: per IP and per openid)
 * Only hashes of tokens are keys. Each read-modify-write is one Lua script, so it is atomic. The
 * scripts build key names inside, so the store needs one Redis (or one Cluster slot), not a Cluster.
 * Reading a session is what every authenticated request does, so it is cheap: the reads of one
 * turn of the event loop go as one MGET (DataLoader, no caching: each read still goes to Redis
 * after its request arrived, so a logout anywhere holds for every later request). With an idle
 * timeout, lastSeenAt is written back at most every idleMs / 10, so the idle timeout holds to
 * within a tenth of itself.
 *
 * Times are the server's `now` (ms), so a session's deadlines follow the server clock; Redis TTLs
 * only free the memory.
 */
import { randomBytes } from 'node:crypto';
import DataLoader from 'dataloader';
import { hashToken } from './crypto';
import { isLive, StoreUnavailableError, userKeyOf, type AccessTokenCache, type Session, type SessionInfo, type SessionStore, type StoredSession } from './store';

/**
 * What the store uses of an ioredis client (ioredis 6's `Redis` fits it: tsc checks that here), declared so that
 * the store's types need no ioredis: `import type` of it would fail to type-check for an app that
 * uses the memory store and has no ioredis installed.
 */
export interface RedisClient {
  /** ioredis's connection state: 'wait' (lazyConnect), 'connecting', 'connect', 'ready', 'reconnecting', 'close', 'end'. */
  readonly status: string;
  readonly options: { keyPrefix?: string };
  defineCommand(name: string, definition: { numberOfKeys?: number; lua: string }): void;
  get(key: string): Promise<string | null>;
  mget(...keys: string[]): Promise<Array<string | null>>;
  set(key: string, value: string, keepTtl: 'KEEPTTL', xx: 'XX'): Promise<unknown>;
  set(key: string, value: string, px: 'PX', milliseconds: number): Promise<unknown>;
  set(key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX'): Promise<unknown>;
  del(...keys: string[]): Promise<number>;
  ping(): Promise<unknown>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'ready', listener: () => void): unknown;
  removeListener(event: 'ready', listener: () => void): unknown;
}

export interface RedisStoreOptions {
  /**
   * An ioredis client (`new Redis(url)`), owned by the caller: the store never closes it. It gets
   * the store's Lua commands (named `wxLoginKit*`) through `defineCommand`, and an `error`
   * listener (the plugin reports an outage once, where ioredis would print every reconnect).
   * Its own options may stay ioredis's defaults: the store bounds every command itself.
   */
  redis: RedisClient;
  /** Prefix of every key. @default 'wxlk:' */
  prefix?: string;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
  /**
   * Give up on a command after this many ms (a stalled Redis) with {@link StoreUnavailableError};
   * while the client is not connected, commands fail at once instead of queueing. @default 1000
   */
  commandTimeoutMs?: number;
  /** `ping()` (the plugin's start-up check) waits this long for the connection, ms. @default 5000 */
  connectTimeoutMs?: number;
}

/** The defaults of the optional `RedisStoreOptions` fields. */
export const REDIS_STORE_DEFAULTS = { prefix: 'wxlk:', commandTimeoutMs: 1000, connectTimeoutMs: 5000 } as const;

// Whether a session's JSON (or false: no such key) is usable at now: isLive in ./store, in Lua.
const IS_LIVE = `
local function isLive(raw, now)
  if not raw then return false end
  local s = cjson.decode(raw)
  return now < s.expiresAt and not (s.idleMs > 0 and now - s.lastSeenAt >= s.idleMs)
end
`;

// Drops the index's dead members; returns the live ids, oldest first.
const LIVE = `${IS_LIVE}
local function liveIds(index, prefix, now)
  local live = {}
  for _, id in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    if isLive(redis.call('GET', prefix .. id), now) then
      table.insert(live, id)
    else
      redis.call('DEL', prefix .. id)
      redis.call('ZREM', index, id)
    end
  end
  return live
end
`;

// KEYS: session, index. ARGV: id, now, ttlMs, maxPerOpenid, session prefix, the session JSON.
// Returns the revoked ids.
const CREATE = `${LIVE}
local id, now, ttl, max, prefix = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
redis.call('SET', KEYS[1], ARGV[6], 'PX', ttl)
-- Scores only order the index: a session created in the same ms as the newest goes after it.
local score = now
local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if newest[2] and tonumber(newest[2]) >= score then score = tonumber(newest[2]) + 1 end
redis.call('ZADD', KEYS[2], score, id)
local live = liveIds(KEYS[2], prefix, now)
local revoked = {}
for i = 1, #live - max do
  redis.call('DEL', prefix .. live[i])
  redis.call('ZREM', KEYS[2], live[i])
  table.insert(revoked, live[i])
end
-- The index lives as long as its newest session.
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return revoked
`;

// KEYS: index. ARGV: now, session prefix. Returns the live ids, oldest first.
const LIST = `${LIVE}
return liveIds(KEYS[1], ARGV[2], tonumber(ARGV[1]))
`;

// KEYS: index. ARGV: now, session prefix. Revokes every session; returns how many were live.
const REVOKE_ALL = `${LIVE}
local live = liveIds(KEYS[1], ARGV[2], tonumber(ARGV[1]))
for _, id in ipairs(live) do redis.call('DEL', ARGV[2] .. id) end
redis.call('DEL', KEYS[1])
return #live
`;

// KEYS: index, session. ARGV: id, now. Revokes the session only if the openid's index has it;
// returns 1 if it was live.
const REVOKE = `${IS_LIVE}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
local live = isLive(redis.call('GET', KEYS[2]), tonumber(ARGV[2]))
redis.call('DEL', KEYS[2])
if live then return 1 end
return 0
`;

// KEYS: session. ARGV: now, graceMs. Marks a live, not yet renewed session renewed and ends it
// within the grace; returns 1 if it did.
const RENEW = `${IS_LIVE}
local raw = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[1])
if not isLive(raw, now) then return 0 end
local s = cjson.decode(raw)
if s.renewed then return 0 end
s.renewed = true
s.expiresAt = math.min(s.expiresAt, now + tonumber(ARGV[2]))
redis.call('SET', KEYS[1], cjson.encode(s), 'PX', math.max(1, s.expiresAt - now))
return 1
`;

// KEYS: counter. ARGV: windowMs. Returns {hits in the window, ms until it ends}.
const HIT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

// KEYS: lock. ARGV: holder. Deletes the lock only if this holder still has it.
const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type Command = (...args: Array<string | number>) => Promise<unknown>;

/**
 * ioredis puts a failed command's arguments on its error (`err.command.args`): a session's JSON
 * with its session_key, or the access_token, which a logger would print. Keeps only the name.
 */
function scrub(err: unknown): unknown {
  const command = (err as { command?: { name?: unknown } } | null)?.command;
  if (command) (err as { command: unknown }).command = { name: command.name };
  return err;
}

// States in which the connection was lost: ioredis would queue a command until a reconnect (with
// its defaults, for the whole outage). While connecting, a command waits, bounded by the timeout.
const DOWN = new Set(['reconnecting', 'close', 'end']);

/**
 * The Redis store. Sessions, the per-openid index and the access_token live in Redis, so any
 * number of server processes share them. See the top of this file for the key layout.
 */
export function createRedisStore(opts: RedisStoreOptions): SessionStore & { redis: RedisClient; prefix: string } {
  const { redis } = opts;
  if (redis.options.keyPrefix) {
    // ioredis prefixes KEYS but not the key names the Lua scripts build from ARGV: the cap, list
    // and revokeAll would see no sessions.
    throw new Error('[wx-login-kit] createRedisStore: the ioredis client has a keyPrefix; create it without one and pass prefix to createRedisStore instead.');
  }
  const prefix = opts.prefix ?? REDIS_STORE_DEFAULTS.prefix;
  const now = opts.now ?? Date.now;
  const commandTimeoutMs = opts.commandTimeoutMs ?? REDIS_STORE_DEFAULTS.commandTimeoutMs;
  const connectTimeoutMs = opts.connectTimeoutMs ?? REDIS_STORE_DEFAULTS.connectTimeoutMs;
  let lastError = '';
  redis.on('error', (err) => {
    lastError = err.message;
  });

  /**
   * Sends one command, bounded: fails at once while the client is not connected, and after
   * commandTimeoutMs when Redis does not answer (stalled). A late answer is dropped.
   */
  function bounded<T>(send: () => Promise<T>): Promise<T> {
    if (DOWN.has(redis.status)) {
      return Promise.reject(new StoreUnavailableError(`Redis is ${redis.status}${lastError ? ` (${lastError})` : ''}`));
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new StoreUnavailableError(`no answer from Redis within ${commandTimeoutMs} ms`)), commandTimeoutMs);
      send().then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(scrub(err));
        },
      );
    });
  }
  const sessionPrefix = `${prefix}s:`;
  const sessionKey = (id: string) => sessionPrefix + id;
  const indexKey = (user: string) => `${prefix}o:${hashToken(user)}`;

  const scripts = { Create: [2, CREATE], List: [1, LIST], RevokeAll: [1, REVOKE_ALL], Revoke: [2, REVOKE], Renew: [1, RENEW], Unlock: [1, UNLOCK], Hit: [1, HIT] } as const;
  const commands = redis as unknown as Record<string, Command | undefined>;
  for (const [name, [numberOfKeys, lua]] of Object.entries(scripts)) {
    if (!commands[`wxLoginKit${name}`]) redis.defineCommand(`wxLoginKit${name}`, { numberOfKeys, lua });
  }
  const run = (name: keyof typeof scripts, ...args: Array<string | number>) => bounded(() => commands[`wxLoginKit${name}`]!(...args));

  // Batches the GETs of one event-loop turn (every request whose bytes arrived in one poll) into
  // one MGET: per command, ioredis costs the server more CPU than Redis spends answering it.
  const reads = new DataLoader<string, string | null>((keys) => bounded(() => redis.mget(...keys)), {
    cache: false,
    batchScheduleFn: (dispatch) => setImmediate(dispatch),
  });

  return {
    // The plugin keeps its rate-limit counters in the same Redis, under `${prefix}rl:`.
    redis,
    prefix,

    async create(tokenHash, session: Session, { ttlMs, idleMs = 0, maxPerOpenid }) {
      const t = now();
      const stored: StoredSession = { ...session, expiresAt: t + ttlMs, lastSeenAt: t, idleMs };
      const args = [sessionKey(tokenHash), indexKey(userKeyOf(session)), tokenHash, t, ttlMs, maxPerOpenid, sessionPrefix, JSON.stringify(stored)];
      return (await run('Create', ...args)) as string[];
    },

    async get(tokenHash) {
      const key = sessionKey(tokenHash);
      const raw = await reads.load(key);
      if (!raw) return null;
      const s = JSON.parse(raw) as StoredSession;
      const t = now();
      if (!isLive(s, t)) {
        await bounded(() => redis.del(key));
        return null;
      }
      if (s.idleMs > 0 && t - s.lastSeenAt >= s.idleMs / 10) {
        s.lastSeenAt = t;
        // XX: never brings back a session revoked since the GET; KEEPTTL: the lifetime stays.
        await bounded(() => redis.set(key, JSON.stringify(s), 'KEEPTTL', 'XX'));
      }
      return s;
    },

    async delete(tokenHash) {
      // The openid's index keeps the id until its next create/list/revokeAll drops it.
      await bounded(() => redis.del(sessionKey(tokenHash)));
    },

    async list(user) {
      const ids = (await run('List', indexKey(user), now(), sessionPrefix)) as string[];
      if (ids.length === 0) return [];
      const raws = await bounded(() => redis.mget(...ids.map(sessionKey)));
      const t = now();
      const infos: SessionInfo[] = [];
      raws.forEach((raw, i) => {
        const s = raw ? (JSON.parse(raw) as StoredSession) : null;
        // A session that died between the two calls is left out.
        if (s && isLive(s, t)) infos.push({ id: ids[i], createdAt: s.createdAt, expiresAt: s.expiresAt, lastSeenAt: s.lastSeenAt });
      });
      return infos;
    },

    async revoke(user, id) {
      return (await run('Revoke', indexKey(user), sessionKey(id), id, now())) === 1;
    },

    async revokeAll(user) {
      return (await run('RevokeAll', indexKey(user), now(), sessionPrefix)) as number;
    },

    async renew(tokenHash, graceMs) {
      return (await run('Renew', sessionKey(tokenHash), now(), graceMs)) === 1;
    },

    async ping() {
      if (redis.status !== 'ready' && redis.status !== 'wait' && redis.status !== 'end') {
        // Starting up (or reconnecting): wait for the connection, at most connectTimeoutMs.
        let onReady = () => {};
        const ready = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), connectTimeoutMs);
          onReady = () => {
            clearTimeout(timer);
            resolve(true);
          };
          redis.once('ready', onReady);
        });
        const connected = await ready;
        redis.removeListener('ready', onReady);
        if (!connected) {
          throw new StoreUnavailableError(`could not connect to Redis within ${connectTimeoutMs} ms${lastError ? ` (${lastError})` : ''}`);
        }
      }
      await bounded(() => redis.ping());
    },

    async hit(key, windowMs) {
      // Windows run on Redis's clock: every process counts into the same window.
      const [count, resetMs] = (await run('Hit', `${prefix}rl:${key}`, windowMs)) as [number, number];
      return { count, resetMs };
    },

    accessTokenCache(appid): AccessTokenCache {
      const key = `${prefix}at:${appid}`;
      const lockKey = `${key}:lock`;
      return {
        async read() {
          const raw = await bounded(() => redis.get(key));
          if (!raw) return null;
          const entry = JSON.parse(raw) as { token?: unknown; expiresAt?: unknown };
          return typeof entry.token === 'string' && typeof entry.expiresAt === 'number'
            ? { token: entry.token, expiresAt: entry.expiresAt }
            : null;
        },
        async write(entry) {
          // Redis drops it when WeChat would; a clock far from the server's keeps it a minute at least.
          const px = Math.max(60_000, entry.expiresAt - now());
          await bounded(() => redis.set(key, JSON.stringify({ token: entry.token, expiresAt: entry.expiresAt }), 'PX', px));
        },
        async lock(ttlMs) {
          const holder = randomBytes(16).toString('hex');
          const taken = await bounded(() => redis.set(lockKey, holder, 'PX', ttlMs, 'NX'));
          if (taken !== 'OK') return null;
          return async () => {
            await run('Unlock', lockKey, holder);
          };
        },
      };
    },
  };
}

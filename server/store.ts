/**
 * Session stores: sha256(token) -> the session behind it, plus a per-user index (the sessions
 * cap, `list`, `revokeAll`) and the apps' shared access_token caches.
 *
 * A user is the openid in the single-app form `{appid, secret}` (the layout of every release
 * before `apps`), and platform + appid + openid with `apps` ({@link userKeyOf}): the same openid
 * string in two apps is two users, with their own cap, list and revocation.
 *
 * Keys are sha256 hex of the token (see `hashToken` in ./crypto), never the raw token, so a
 * leaked store dump cannot be replayed. Two stores implement this interface and pass one
 * contract suite (test/server/store.test.ts): the in-process memory store below (one server
 * process) and the Redis store in ./redis-store (several processes).
 */
import type { Platform } from './apps';

/** What a token stands for. `session_key` never leaves the server. */
export interface Session {
  /** With `apps` only: the app's platform. Absent in the single-app form. */
  platform?: Platform;
  /** With `apps` only: the app's appid. Absent in the single-app form. */
  appid?: string;
  openid: string;
  /** WeChat: only when the app is bound to an Open Platform account; Douyin: when it gives one; Alipay: never. */
  unionid?: string;
  /** WeChat and Douyin: the key of the login's encrypted data. Alipay sessions have none. */
  session_key?: string;
  /** Douyin, when the login sent an anonymousCode: the device's anonymous_openid. */
  anonymousOpenid?: string;
  /** When the token was issued, ms since the epoch (from the server's `now`). */
  createdAt: number;
}

/** A stored session with its deadlines, as `get` returns it. */
export interface StoredSession extends Session {
  /** Absolute deadline, ms since the epoch: createdAt + the token lifetime. */
  expiresAt: number;
  /** With an idle timeout, when the token was last used (`get`); without one, createdAt. ms since the epoch. */
  lastSeenAt: number;
  /** Idle timeout in ms; 0 means none. */
  idleMs: number;
  /** Set by `renew`: a successor was issued and this token lives only for the grace. */
  renewed?: boolean;
}

/** One live session as `list` shows it: no token, no session_key. */
export interface SessionInfo {
  /** sha256 hex of the token: names the session for `revoke`, is useless as a token. */
  id: string;
  createdAt: number;
  expiresAt: number;
  lastSeenAt: number;
}

export interface CreateSessionOptions {
  /** Absolute lifetime, ms. */
  ttlMs: number;
  /** Refuse the token after this many ms without a `get`. 0 or absent: no idle timeout. */
  idleMs?: number;
  /** Live sessions kept per openid; beyond it the oldest are revoked. */
  maxPerOpenid: number;
}

/** The app's access_token shared by every process on the store (see ./access-token). */
export interface AccessTokenCache {
  read(): Promise<{ token: string; expiresAt: number } | null>;
  write(entry: { token: string; expiresAt: number }): Promise<void>;
  /** Takes the refresh lock for at most `ttlMs`; resolves to its release, or null if another holder has it. */
  lock(ttlMs: number): Promise<(() => Promise<void>) | null>;
}

export interface SessionStore {
  /**
   * Stores a new session under `tokenHash` and indexes it by its user ({@link userKeyOf}). If the
   * user then has more than `maxPerOpenid` live sessions, the oldest are revoked. Resolves to the
   * revoked ids.
   */
  create(tokenHash: string, session: Session, opts: CreateSessionOptions): Promise<string[]>;
  /**
   * The session, or null when unknown, revoked, past `expiresAt` or idle for `idleMs`.
   * A found session with an idle timeout is marked used now (`lastSeenAt`); a store may skip
   * that write while the last mark is younger than idleMs / 10 (the Redis store does, so that a
   * read stays one GET).
   */
  get(tokenHash: string): Promise<StoredSession | null>;
  /** Forgets one session (logout); deleting an unknown key is not an error. */
  delete(tokenHash: string): Promise<void>;
  /** The user's live sessions, oldest first. `user`: {@link userKeyOf} (the openid in the single-app form). */
  list(user: string): Promise<SessionInfo[]>;
  /** Revokes one of the user's sessions by `SessionInfo.id`; false if it has no such session. */
  revoke(user: string, id: string): Promise<boolean>;
  /** Revokes every session of the user; resolves to how many were live. */
  revokeAll(user: string): Promise<number>;
  /**
   * Marks a live session renewed and ends it within `graceMs` (ms), at once for every process.
   * Resolves to false, changing nothing, when it is not live or was renewed already: one renewal
   * per token, however many requests carry it at the time.
   */
  renew(tokenHash: string, graceMs: number): Promise<boolean>;
  /** The shared access_token cache of `appid`. */
  accessTokenCache(appid: string): AccessTokenCache;
  /**
   * Counts one hit on `key` in a fixed window of `windowMs` that starts at the window's first hit
   * (the plugin's per-openid rate limit). Resolves to the hits so far in the window and the ms
   * until it ends.
   */
  hit(key: string, windowMs: number): Promise<{ count: number; resetMs: number }>;
  /**
   * Resolves once the store can serve requests; rejects with {@link StoreUnavailableError} when it
   * cannot within its own bound. The plugin calls it in `onReady`, so `app.ready()` and
   * `app.listen()` fail loudly when the store is unreachable at start-up.
   */
  ping?(): Promise<void>;
}

/**
 * The store could not answer: Redis down, stalled past the command timeout, or not connected.
 * The plugin answers such a request 503 `{error: 'store_unavailable'}` with `Retry-After`.
 * `cause` is the client's error, with a failed command's arguments removed.
 */
export class StoreUnavailableError extends Error {
  readonly name = 'StoreUnavailableError';
  // Declared here because the ES2020 lib typings predate Error#cause.
  readonly cause?: unknown;
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`[wx-login-kit] session store unavailable: ${reason}`);
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

/**
 * The user a session belongs to, as the stores index it and as `list`, `revoke` and `revokeAll`
 * take it: the openid alone for a session of the single-app form (no `platform`), else
 * `["<platform>","<appid>","<openid>"]` (JSON: no two apps' users can meet, whatever their ids).
 */
export function userKeyOf(s: Pick<Session, 'platform' | 'appid' | 'openid'>): string {
  return s.platform === undefined ? s.openid : JSON.stringify([s.platform, s.appid ?? '', s.openid]);
}

/** Whether a stored session is still usable at `t`. Shared by both stores. */
export function isLive(s: Pick<StoredSession, 'expiresAt' | 'lastSeenAt' | 'idleMs'>, t: number): boolean {
  return t < s.expiresAt && !(s.idleMs > 0 && t - s.lastSeenAt >= s.idleMs);
}

export interface MemoryStoreOptions {
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
  /**
   * Most sessions kept. When a `create` goes beyond it, the least recently used sessions are
   * dropped, down to 99% of it (those users log in again), and `onEvict` is told how many live
   * sessions went. Rate-limit counters (`hit`) are capped at the same number. @default 100_000
   */
  maxEntries?: number;
  /** Called once per eviction sweep with the number of live sessions dropped for the cap. */
  onEvict?: (count: number) => void;
}

/**
 * An in-process store for one server process: sessions are lost on restart and not seen by
 * other processes. `size()` counts sessions held, dead or not, so tests can see memory is bounded.
 *
 * Every operation is O(1) amortised, at the cap too: sessions are kept in the order of their last
 * use (a Map re-inserted on each `get`), so the dead and the least recently used are found at its
 * head; a dead session elsewhere is dropped when it is read, or when it reaches the head.
 */
export function createMemoryStore(opts: MemoryStoreOptions = {}): SessionStore & { size(): number } {
  const now = opts.now ?? Date.now;
  const maxEntries = opts.maxEntries ?? 100_000;
  // Evict a hundredth at a time, so a store at its cap sweeps (and logs) once per 1% of logins.
  const evictTo = Math.max(1, maxEntries - Math.floor(maxEntries / 100));
  // Least recently used first.
  const sessions = new Map<string, StoredSession>();
  // Per user (userKeyOf), in creation order: "oldest first" for the cap and list().
  const byUser = new Map<string, Set<string>>();
  const tokens = new Map<string, { token: string; expiresAt: number }>();
  const locks = new Map<string, number>();
  // In the order their windows started.
  const hits = new Map<string, { count: number; resetAt: number }>();

  function remove(tokenHash: string): void {
    const s = sessions.get(tokenHash);
    if (!s) return;
    sessions.delete(tokenHash);
    const user = userKeyOf(s);
    const ids = byUser.get(user);
    ids?.delete(tokenHash);
    if (ids?.size === 0) byUser.delete(user);
  }

  /** The user's live session ids, oldest first; drops the dead ones on the way. */
  function liveIds(user: string): string[] {
    const t = now();
    const live: string[] = [];
    for (const id of byUser.get(user) ?? []) {
      const s = sessions.get(id);
      if (s && isLive(s, t)) live.push(id);
      else remove(id);
    }
    return live;
  }

  /** Drops dead sessions from the head; past the cap, the least recently used as well. */
  function sweep(t: number): void {
    // Past the cap, make room for a while (a hundredth), so the next creates need not evict.
    const target = sessions.size > maxEntries ? evictTo : Infinity;
    let evicted = 0;
    for (const [id, s] of sessions) {
      const live = isLive(s, t);
      if (live && sessions.size <= target) break;
      remove(id);
      if (live) evicted += 1;
    }
    if (evicted > 0) opts.onEvict?.(evicted);
  }

  return {
    async create(tokenHash, session, { ttlMs, idleMs = 0, maxPerOpenid }) {
      remove(tokenHash);
      const t = now();
      sessions.set(tokenHash, { ...session, expiresAt: t + ttlMs, lastSeenAt: t, idleMs });
      const user = userKeyOf(session);
      const ids = byUser.get(user) ?? new Set<string>();
      byUser.set(user, ids.add(tokenHash));

      const live = liveIds(user);
      const revoked = live.slice(0, Math.max(0, live.length - maxPerOpenid));
      revoked.forEach(remove);
      sweep(t);
      return revoked;
    },

    async get(tokenHash) {
      const s = sessions.get(tokenHash);
      if (!s) return null;
      const t = now();
      if (!isLive(s, t)) {
        remove(tokenHash);
        return null;
      }
      // Most recently used goes last: the cap evicts from the head.
      sessions.delete(tokenHash);
      sessions.set(tokenHash, s);
      if (s.idleMs > 0) s.lastSeenAt = t;
      // A copy, so callers cannot change what is stored.
      return { ...s };
    },

    async delete(tokenHash) {
      remove(tokenHash);
    },

    async list(user) {
      return liveIds(user).map((id) => {
        const { createdAt, expiresAt, lastSeenAt } = sessions.get(id)!;
        return { id, createdAt, expiresAt, lastSeenAt };
      });
    },

    async revoke(user, id) {
      const s = sessions.get(id);
      if (!s || userKeyOf(s) !== user) return false;
      remove(id);
      return isLive(s, now());
    },

    async revokeAll(user) {
      const live = liveIds(user);
      live.forEach(remove);
      return live.length;
    },

    async renew(tokenHash, graceMs) {
      const s = sessions.get(tokenHash);
      const t = now();
      if (!s || !isLive(s, t) || s.renewed) return false;
      s.renewed = true;
      s.expiresAt = Math.min(s.expiresAt, t + graceMs);
      return true;
    },

    accessTokenCache(appid) {
      return {
        async read() {
          const entry = tokens.get(appid);
          return entry ? { ...entry } : null;
        },
        async write(entry) {
          tokens.set(appid, { ...entry });
        },
        async lock(ttlMs) {
          const t = now();
          if ((locks.get(appid) ?? -Infinity) > t) return null;
          const until = t + ttlMs;
          locks.set(appid, until);
          return async () => {
            if (locks.get(appid) === until) locks.delete(appid);
          };
        },
      };
    },

    async hit(key, windowMs) {
      const t = now();
      let h = hits.get(key);
      if (!h || h.resetAt <= t) {
        hits.delete(key);
        // A new window: drop the ended ones at the head (for one window length; longer ones only
        // delay this) and, at the cap, the oldest, to make room. A key already counted drops none.
        for (const [k, old] of hits) {
          if (old.resetAt > t && hits.size < maxEntries) break;
          hits.delete(k);
        }
        h = { count: 0, resetAt: t + windowMs };
        hits.set(key, h);
      }
      h.count += 1;
      return { count: h.count, resetMs: h.resetAt - t };
    },

    size() {
      return sessions.size;
    },
  };
}

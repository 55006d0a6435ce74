/**
 * Session store: token hash -> the WeChat session behind it.
 *
 * Keys are sha256 hex of the token (see `hashToken` in ./crypto), never the raw
 * token. The interface is async so a Redis or SQL store can replace the memory one.
 */

/** What a token stands for. `session_key` never leaves the server. */
export interface Session {
  openid: string;
  unionid?: string;
  session_key: string;
  /** When the token was issued, ms since the epoch (from the server's `now`). */
  createdAt: number;
}

export interface SessionStore {
  /** The session, or null when unknown or expired. */
  get(tokenHash: string): Promise<Session | null>;
  /** Stores (or replaces) a session for `ttlMs` milliseconds. */
  set(tokenHash: string, session: Session, ttlMs: number): Promise<void>;
  /** Forgets a session; deleting an unknown key is not an error. */
  delete(tokenHash: string): Promise<void>;
}

export interface MemoryStoreOptions {
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
  /**
   * Most entries kept. When a `set` goes beyond it, expired entries are swept
   * and, if still too many, the oldest-written entries are dropped (those users
   * log in again). @default 100_000
   */
  maxEntries?: number;
}

/** Sweep expired entries every this many `set`s, so a sweep costs O(1) amortised. */
const SWEEP_EVERY = 100;

/**
 * An in-process store for one server instance (sessions are lost on restart).
 * `size()` counts entries held, expired or not, so tests can see memory is bounded.
 */
export function createMemoryStore(opts: MemoryStoreOptions = {}): SessionStore & { size(): number } {
  const now = opts.now ?? Date.now;
  const maxEntries = opts.maxEntries ?? 100_000;
  // Map keeps insertion order, which gives "oldest written first" for eviction.
  const entries = new Map<string, { session: Session; expiresAt: number }>();
  let setsSinceSweep = 0;

  function sweep(): void {
    const t = now();
    for (const [key, entry] of entries) {
      if (entry.expiresAt <= t) entries.delete(key);
    }
    setsSinceSweep = 0;
  }

  return {
    async get(tokenHash) {
      const entry = entries.get(tokenHash);
      if (!entry) return null;
      if (entry.expiresAt <= now()) {
        entries.delete(tokenHash);
        return null;
      }
      // A copy, so callers cannot change what is stored.
      return { ...entry.session };
    },

    async set(tokenHash, session, ttlMs) {
      // delete first so a rewritten key moves to the newest end of the order.
      entries.delete(tokenHash);
      entries.set(tokenHash, { session: { ...session }, expiresAt: now() + ttlMs });
      setsSinceSweep += 1;
      if (setsSinceSweep >= SWEEP_EVERY || entries.size > maxEntries) sweep();
      for (const key of entries.keys()) {
        if (entries.size <= maxEntries) break;
        entries.delete(key);
      }
    },

    async delete(tokenHash) {
      entries.delete(tokenHash);
    },

    size() {
      return entries.size;
    },
  };
}

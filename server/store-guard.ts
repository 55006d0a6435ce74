/**
 * The plugin's view of its store: every failure becomes a {@link StoreUnavailableError} (answered
 * 503 `store_unavailable`), and an outage is logged twice, when it starts and when it ends, not
 * once per request. How long a command may take is the store's own bound (the Redis store's
 * `commandTimeoutMs`); the memory store cannot fail.
 */
import { StoreUnavailableError, type AccessTokenCache, type SessionStore } from './store';

interface Log {
  warn(obj: object, msg: string): void;
}

export function guardStore(store: SessionStore, log: Log): SessionStore {
  let outage: { since: number; failed: number } | null = null;

  function fail(err: unknown): never {
    const reason = err instanceof Error ? err.message : String(err);
    if (!outage) {
      outage = { since: Date.now(), failed: 0 };
      // The reason only: a client's stack per request would bury the log.
      log.warn({ reason }, '[wx-login-kit] session store unavailable: answering 503 store_unavailable until it is back');
    }
    outage.failed += 1;
    throw err instanceof StoreUnavailableError ? err : new StoreUnavailableError(reason, { cause: err });
  }

  function ok<T>(value: T): T {
    if (outage) {
      log.warn({ outageMs: Date.now() - outage.since, failed: outage.failed }, '[wx-login-kit] session store available again');
      outage = null;
    }
    return value;
  }

  const guard = <A extends unknown[], R>(call: (...args: A) => Promise<R>) => (...args: A) => {
    let pending: Promise<R>;
    try {
      pending = call(...args);
    } catch (err) {
      return Promise.reject(err).catch(fail);
    }
    return pending.then(ok, fail);
  };

  const guarded: SessionStore = {
    create: guard(store.create.bind(store)),
    get: guard(store.get.bind(store)),
    delete: guard(store.delete.bind(store)),
    list: guard(store.list.bind(store)),
    revoke: guard(store.revoke.bind(store)),
    revokeAll: guard(store.revokeAll.bind(store)),
    renew: guard(store.renew.bind(store)),
    hit: guard(store.hit.bind(store)),
    accessTokenCache(appid): AccessTokenCache {
      const cache = store.accessTokenCache(appid);
      const lock = guard(cache.lock.bind(cache));
      return {
        read: guard(cache.read.bind(cache)),
        write: guard(cache.write.bind(cache)),
        lock: async (ttlMs) => {
          const release = await lock(ttlMs);
          return release && guard(release);
        },
      };
    },
  };
  if (store.ping) guarded.ping = guard(store.ping.bind(store));
  return guarded;
}

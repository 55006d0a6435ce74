/**
 * The app's access token for WeChat server APIs, from getStableAccessToken (auth.getStableAccessToken):
 * https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getStableAccessToken.html
 *
 * stable_token takes the secret in a JSON body, so it never sits in a URL. In normal mode WeChat
 * hands every caller the same token, and a new one only in its last 5 minutes, so several
 * processes can each cache it without invalidating one another. force_refresh (limited to 20 a
 * day by WeChat) is used only after an API said the token no longer works.
 */
import type { AccessTokenCache } from './store';
import { callWechat, WechatApiError, WechatUnreachableError } from './wechat-call';

export interface AccessTokenClientOptions {
  /** e.g. 'https://api.weixin.qq.com' or the emulator's base URL, no trailing slash needed. */
  apiBase: string;
  appid: string;
  secret: string;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
  /**
   * Fetch a new token this many ms before the cached one expires. WeChat renews a stable token
   * only in its last 5 minutes: with a larger margin, get() asks WeChat on every call until then.
   * @default 300_000
   */
  refreshMarginMs?: number;
  /** Give up on WeChat after this many ms. @default 5000 */
  timeoutMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /**
   * Where processes share the token (`store.accessTokenCache(appid)`): a process reads the
   * shared token before asking WeChat, and only the holder of the cache's lock asks, so N
   * processes fetch once per expiry. Without it the token is cached in this process only.
   */
  cache?: AccessTokenCache;
  /**
   * How long a process waits for another one's fetch before giving up, ms; also the lock's
   * lifetime, so a process that died holding it blocks the others no longer. It outlives one
   * call to WeChat, so a lock cannot lapse while its holder still waits for the answer.
   * @default 2 * timeoutMs + 1000
   */
  lockTimeoutMs?: number;
}

export interface AccessTokenClient {
  /**
   * The cached token, or a new one when none is cached or it expires within refreshMarginMs.
   * Concurrent calls share one request; a failed request is not cached.
   * @throws WechatApiError (api 'getStableAccessToken') on an errcode: 40013 wrong appid, 40125 wrong secret, ...
   * @throws WechatUnreachableError on network failure, timeout, non-200 or non-JSON
   */
  get(): Promise<string>;
  /**
   * Call after an API answered 40001 or 42001 to a request made with `stale`. Returns the cached
   * token if it already differs from `stale` (someone refreshed meanwhile), otherwise forces a
   * new one (force_refresh). Concurrent calls share one request. Throws like get().
   */
  refresh(stale: string): Promise<string>;
}

const API = 'getStableAccessToken';

/** How often a process waiting for another one's fetch looks at the shared cache, ms. */
const POLL_MS = 50;

export function createAccessTokenClient(opts: AccessTokenClientOptions): AccessTokenClient {
  const now = opts.now ?? Date.now;
  const refreshMarginMs = opts.refreshMarginMs ?? 300_000;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const lockTimeoutMs = opts.lockTimeoutMs ?? 2 * timeoutMs + 1000;
  const doFetch = opts.fetch ?? globalThis.fetch;
  const { cache } = opts;
  const url = `${opts.apiBase.replace(/\/+$/, '')}/cgi-bin/stable_token`;

  let cached: { token: string; expiresAt: number } | null = null;
  // The one request under way in this process, forced or not: every caller waits on it.
  let inflight: Promise<string> | null = null;

  const fresh = (entry: { expiresAt: number } | null) => entry !== null && now() < entry.expiresAt - refreshMarginMs;

  /** Asks WeChat. */
  async function ask(forceRefresh: boolean): Promise<{ token: string; expiresAt: number }> {
    // Count the lifetime from when we asked, so network delay only makes us refresh earlier.
    const askedAt = now();
    const body = { grant_type: 'client_credential', appid: opts.appid, secret: opts.secret, force_refresh: forceRefresh };
    const answer = await callWechat(API, url, { fetch: doFetch, timeoutMs, json: body });
    const { access_token: token, expires_in: expiresIn } = answer;
    if (typeof token !== 'string' || !token || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
      throw new WechatApiError(0, 'answer has no access_token or expires_in', API);
    }
    return { token, expiresAt: askedAt + expiresIn * 1000 };
  }

  /**
   * A token that is fresh and not `stale`: from the shared cache if another process put one
   * there, else asked from WeChat by whoever holds the lock (forced when replacing `stale`).
   */
  async function shared(store: AccessTokenCache, stale: string | null): Promise<{ token: string; expiresAt: number }> {
    const usable = (entry: { token: string; expiresAt: number } | null) => fresh(entry) && entry!.token !== stale;
    const giveUpAt = Date.now() + lockTimeoutMs;
    for (;;) {
      const seen = await store.read();
      if (usable(seen)) return seen!;
      const release = await store.lock(lockTimeoutMs);
      if (release) {
        try {
          // Another process may have written between our read and our lock.
          const again = await store.read();
          if (usable(again)) return again!;
          // Forced only to replace `stale`: a plain ask would hand it back while WeChat still has it.
          const entry = await ask(stale !== null && (again === null || again.token === stale));
          await store.write(entry);
          return entry;
        } finally {
          await release();
        }
      }
      // Another process is asking WeChat: wait for it to write (wall time, whatever `now` says).
      if (Date.now() >= giveUpAt) throw new WechatUnreachableError('another process held the access_token lock too long', { api: API });
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  function start(stale: string | null): Promise<string> {
    const forced = stale !== null;
    inflight = (cache ? shared(cache, stale) : ask(forced))
      .then((entry) => {
        cached = entry;
        return entry.token;
      })
      .finally(() => {
        inflight = null;
      });
    return inflight;
  }

  function get(): Promise<string> {
    if (cached && fresh(cached)) return Promise.resolve(cached.token);
    return inflight ?? start(null);
  }

  async function refresh(stale: string): Promise<string> {
    // A request under way may already bring a different token: wait for it, whatever its outcome.
    if (inflight) await inflight.catch(() => undefined);
    if (cached && cached.token !== stale) return get();
    return inflight ?? start(stale);
  }

  return { get, refresh };
}

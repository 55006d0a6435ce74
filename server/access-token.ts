/**
 * The app's access token for WeChat server APIs, from getStableAccessToken (auth.getStableAccessToken):
 * https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getStableAccessToken.html
 *
 * stable_token takes the secret in a JSON body, so it never sits in a URL. In normal mode WeChat
 * hands every caller the same token, and a new one only in its last 5 minutes, so several
 * processes can each cache it without invalidating one another. force_refresh (limited to 20 a
 * day by WeChat) is used only after an API said the token no longer works.
 */
import { callWechat, WechatApiError } from './wechat-call';

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

export function createAccessTokenClient(opts: AccessTokenClientOptions): AccessTokenClient {
  const now = opts.now ?? Date.now;
  const refreshMarginMs = opts.refreshMarginMs ?? 300_000;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const doFetch = opts.fetch ?? globalThis.fetch;
  const url = `${opts.apiBase.replace(/\/+$/, '')}/cgi-bin/stable_token`;

  let cached: { token: string; expiresAt: number } | null = null;
  // The one request under way, forced or not: every caller waits on it instead of sending another.
  let inflight: Promise<string> | null = null;

  function request(forceRefresh: boolean): Promise<string> {
    // Count the lifetime from when we asked, so network delay only makes us refresh earlier.
    const askedAt = now();
    const body = { grant_type: 'client_credential', appid: opts.appid, secret: opts.secret, force_refresh: forceRefresh };
    inflight = callWechat(API, url, { fetch: doFetch, timeoutMs, json: body })
      .then((answer) => {
        const { access_token: token, expires_in: expiresIn } = answer;
        if (typeof token !== 'string' || !token || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
          throw new WechatApiError(0, 'answer has no access_token or expires_in', API);
        }
        cached = { token, expiresAt: askedAt + expiresIn * 1000 };
        return token;
      })
      .finally(() => {
        inflight = null;
      });
    return inflight;
  }

  function get(): Promise<string> {
    if (cached && now() < cached.expiresAt - refreshMarginMs) return Promise.resolve(cached.token);
    return inflight ?? request(false);
  }

  async function refresh(stale: string): Promise<string> {
    // A request under way may already bring a different token: wait for it, whatever its outcome.
    if (inflight) await inflight.catch(() => undefined);
    if (cached && cached.token !== stale) return get();
    return inflight ?? request(true);
  }

  return { get, refresh };
}

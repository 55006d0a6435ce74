/** Options of {@link createAuth} and their defaults. */
import type { WxLike, WxObject, WxResponse } from './wx.js';

/** What a login answer must be turned into by {@link AuthOptions.parseLogin}. */
export interface LoginResult {
  token: string;
  /** Seconds until the server forgets the token; absent means "until a 401". */
  expiresIn?: number;
}

export interface AuthOptions {
  /** Your server, e.g. `https://api.example.com`. Relative request URLs are joined to it. Required. */
  baseURL: string;
  /** Path of the login endpoint, `POST {code}` answered `{token, expiresIn?}`. @default '/auth/login' */
  loginPath?: string;
  /**
   * Other origins (`https://host[:port]`) that also receive the token. The token is sent ONLY to
   * baseURL's origin and these, compared as exact origins (scheme, host, port). @default []
   */
  trustedOrigins?: string[];
  /** Header that carries the token. @default 'Authorization' */
  tokenHeader?: string;
  /** Scheme before the token, `Bearer <token>`; `''` sends the bare token. @default 'Bearer' */
  tokenScheme?: string;
  /** Storage key for `{token, expiresAt}` (see `wx.setStorageSync`). @default 'wx-login-kit:token' */
  storageKey?: string;
  /** Key of `getApp().globalData` that mirrors the token. @default 'token' */
  globalDataKey?: string;
  /** Is this answer "your token is no good"? @default res => res.statusCode === 401 */
  isUnauthorized?: (res: WxResponse) => boolean;
  /**
   * Body of the login POST for a login code (`wx.login`, `tt.login`, `my.getAuthCode`'s authCode)
   * and the app it is for (`platform`: `'wechat'`, `'douyin'`, `'alipay'` or `'qq'`; `appid` from the
   * platform's account-info API, absent where it has none).
   * @default (code, app) => ({ code, platform, appid })
   */
  loginData?: (code: string, app: { platform: string; appid?: string }) => WxObject;
  /** Reads the login answer. Return `null` (or throw) when there is no token. @default reads `{token, expiresIn}` */
  parseLogin?: (data: unknown) => LoginResult | null;
  /** Retries of a login after a failed `wx.login`, a network error or a 5xx (never after a 4xx). @default 2 */
  loginRetries?: number;
  /** First retry delay in ms; doubles each retry. @default 500 */
  retryDelay?: number;
  /** At most this many automatic re-logins after 401 per `reloginWindow`. @default 3 */
  reloginLimit?: number;
  /** Window of `reloginLimit`, ms. @default 60000 */
  reloginWindow?: number;
  /**
   * The kit stops using a token this many ms before the server's expiry (`expiresIn`), or halfway
   * through its life if that is shorter, and logs in before the next request. @default 60000
   */
  expiryMargin?: number;
  /** A fresh `wx.login` code is kept at most this long, ms (WeChat's code lives 5 min). @default 240000 */
  codeRefreshInterval?: number;
  /** Server endpoint of `<login-button open-type="getPhoneNumber|getRealtimePhoneNumber">`. @default '/auth/phone' */
  phonePath?: string;
  /** Server endpoint of `<login-button open-type="getUserInfo">`. @default '/auth/profile' */
  profilePath?: string;
  /**
   * Where `logout()` POSTs the token it had, so the server ends that session (the server half's
   * `POST {prefix}/logout`); `false` keeps logout local. @default '/auth/logout'
   */
  logoutPath?: string | false;
  /**
   * Where `logout({ everywhere: true })` POSTs it, ending every session of the user (the server
   * half's `POST {prefix}/logout-all`); `false` keeps it local. @default '/auth/logout-all'
   */
  logoutAllPath?: string | false;
  /**
   * In-band login (the server half's contract; README "The contract"): a request that needs a token
   * while none is held carries the `wx.login` code in `X-WX-Login-Code` and its answer brings the
   * token in `X-WX-Token` (+ `X-WX-Token-Expires-In`, s): 2 serial hops to the first answer, not
   * 3. Concurrent requests share it (one `wx.login`); uploads and downloads wait for it. Only the
   * code and the app it is for (`X-WX-Login-Platform`, `X-WX-Login-Appid`) are sent, not
   * `loginData`'s body. A server that answers without `X-WX-Token` gets the login POST
   * from then on. Off: every login is the POST to `loginPath`. Either way the kit takes a renewed
   * token from `X-WX-Token` of a 2xx answer to the token it holds. @default false
   */
  inbandLogin?: boolean;
  /**
   * The name `<login-button auth="...">` and {@link getAuth} find this instance by, in every copy
   * of the kit the app bundles. Give each instance its own: a second `createAuth` under a name
   * already registered replaces the first and says so with a `console.warn`.
   * @default 'default'
   */
  name?: string;
  /**
   * The platform's API, shaped like `wx`. @default the global the build provides: `tt` (Douyin),
   * `my` (Alipay, adapted), `qq` (QQ), else `wx` (WeChat)
   */
  wx?: WxLike;
}

/** The options in force: every default filled in, and the platform found (see `wx`). */
export type ResolvedOptions = Required<Omit<AuthOptions, 'wx'>> & { wx: WxLike; platform: string; appid?: string };

/** Defaults of every optional field of {@link AuthOptions}. */
export const DEFAULTS = {
  loginPath: '/auth/login',
  trustedOrigins: [] as string[],
  tokenHeader: 'Authorization',
  tokenScheme: 'Bearer',
  storageKey: 'wx-login-kit:token',
  globalDataKey: 'token',
  isUnauthorized: (res: WxResponse) => res.statusCode === 401,
  loginData: (code: string, app?: { platform: string; appid?: string }): WxObject => Object.assign({ code }, app),
  // The kit checks the token is a non-empty string and ignores an expiresIn that is not > 0.
  parseLogin: (data: unknown) => data as LoginResult | null,
  loginRetries: 2,
  retryDelay: 500,
  reloginLimit: 3,
  reloginWindow: 60_000,
  expiryMargin: 60_000,
  codeRefreshInterval: 240_000,
  phonePath: '/auth/phone',
  profilePath: '/auth/profile',
  logoutPath: '/auth/logout' as string | false,
  logoutAllPath: '/auth/logout-all' as string | false,
  inbandLogin: false,
  name: 'default',
} satisfies Omit<ResolvedOptions, 'baseURL' | 'wx' | 'platform' | 'appid'>;

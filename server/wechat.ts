/**
 * Client for the WeChat server APIs the login kit needs:
 * - code2Session (auth.code2Session):
 *   https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html
 * - getPhoneNumber (phonenumber.getPhoneNumber), with an access token from ./access-token:
 *   https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-info/phone-number/getPhoneNumber.html
 *
 * code2Session carries the app secret in its query string, getPhoneNumber the access token
 * (WeChat's design), so no request URL, secret or token ever goes into an error message.
 */
import { createAccessTokenClient, type AccessTokenClient } from './access-token';
import { callWechat, WechatApiError } from './wechat-call';

export { WechatApiError, WechatUnreachableError } from './wechat-call';

export interface WechatClientOptions {
  /** e.g. 'https://api.weixin.qq.com' or the emulator's base URL, no trailing slash needed. */
  apiBase: string;
  appid: string;
  secret: string;
  /** Give up on WeChat after this many ms, per HTTP call. @default 5000 */
  timeoutMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /**
   * Where getUserPhoneNumber gets its access token. Share one between clients of the same
   * appid so they share one cached token.
   * @default createAccessTokenClient with this client's apiBase, appid, secret, timeoutMs and fetch
   */
  accessTokens?: AccessTokenClient;
}

/** What code2Session gives on success. */
export interface Code2SessionResult {
  openid: string;
  session_key: string;
  /** Only when the app is bound to a WeChat Open Platform account. */
  unionid?: string;
}

/** getPhoneNumber's `phone_info`. */
export interface PhoneInfo {
  /** With the country code for numbers outside mainland China, e.g. '13800138000'. */
  phoneNumber: string;
  /** Without the country code. */
  purePhoneNumber: string;
  /** e.g. '86'. */
  countryCode: string;
  /** `timestamp` in seconds since the epoch; `appid` is checked to be this client's. */
  watermark: { timestamp: number; appid: string };
}

export interface WechatClient {
  /**
   * Exchanges a `wx.login` code.
   * @throws WechatApiError when WeChat answers an errcode (40029 invalid code,
   *   40163 code used, 45011 rate limit, -1 busy, 40226 blocked user, ...)
   * @throws WechatUnreachableError on network failure, timeout, non-200 or non-JSON
   */
  code2Session(code: string): Promise<Code2SessionResult>;
  /**
   * Exchanges the `detail.code` of a getPhoneNumber / getRealtimePhoneNumber button for the
   * user's number. With `openid`, WeChat checks the code is that user's (a mismatch is 40029 here). When WeChat answers 40001 or 42001 (access token superseded or expired), asks
   * for a fresh token and retries once.
   * @throws WechatApiError on an errcode (40029 invalid, expired or used phone code; 40001/42001
   *   twice in a row; 40013/40125 from the token call, ...), or errcode 0 when the answer has no
   *   phone_info or its watermark is for another appid
   * @throws WechatUnreachableError on network failure, timeout, non-200 or non-JSON
   */
  getUserPhoneNumber(phoneCode: string, openid?: string): Promise<PhoneInfo>;
}

// What code2Session's fields look like: session_key is base64 of the 16-byte AES-128 key
// (https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html);
// openid and unionid are 28 characters today, of [A-Za-z0-9_-]. Anything else is not stored.
const SESSION_KEY = /^[A-Za-z0-9+/]{22}==$/;
const OPEN_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** errcodes that mean "this access token no longer works, get another". */
const STALE_TOKEN_ERRCODES = new Set([40001, 42001]);

export function createWechatClient(opts: WechatClientOptions): WechatClient {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const doFetch = opts.fetch ?? globalThis.fetch;
  const base = opts.apiBase.replace(/\/+$/, '');
  const accessTokens =
    opts.accessTokens ??
    createAccessTokenClient({ apiBase: base, appid: opts.appid, secret: opts.secret, timeoutMs, fetch: opts.fetch });

  async function code2Session(code: string): Promise<Code2SessionResult> {
    const query = new URLSearchParams({
      appid: opts.appid,
      secret: opts.secret,
      js_code: code,
      grant_type: 'authorization_code',
    });
    const answer = await callWechat('code2Session', `${base}/sns/jscode2session?${query}`, { fetch: doFetch, timeoutMs });
    if (typeof answer.openid !== 'string' || typeof answer.session_key !== 'string') {
      throw new WechatApiError(0, 'answer has no openid or session_key');
    }
    if (!OPEN_ID.test(answer.openid) || !SESSION_KEY.test(answer.session_key)) {
      throw new WechatApiError(0, 'answer has a malformed openid or session_key');
    }
    if (answer.unionid !== undefined && (typeof answer.unionid !== 'string' || !OPEN_ID.test(answer.unionid))) {
      throw new WechatApiError(0, 'answer has a malformed unionid');
    }
    const result: Code2SessionResult = { openid: answer.openid, session_key: answer.session_key };
    if (typeof answer.unionid === 'string') result.unionid = answer.unionid;
    return result;
  }

  function askPhoneNumber(accessToken: string, phoneCode: string, openid?: string) {
    const query = new URLSearchParams({ access_token: accessToken });
    return callWechat('getPhoneNumber', `${base}/wxa/business/getuserphonenumber?${query}`, {
      fetch: doFetch,
      timeoutMs,
      json: openid === undefined ? { code: phoneCode } : { code: phoneCode, openid },
    });
  }

  async function getUserPhoneNumber(phoneCode: string, openid?: string): Promise<PhoneInfo> {
    const token = await accessTokens.get();
    let answer: Record<string, unknown>;
    try {
      answer = await askPhoneNumber(token, phoneCode, openid);
    } catch (err) {
      // Another process may have force-refreshed the token (40001 once the 5-minute overlap is
      // over), or it expired under us: WeChat checks the token before the code, so the phone
      // code is still unused and one retry with a fresh token is safe.
      if (!(err instanceof WechatApiError) || !STALE_TOKEN_ERRCODES.has(err.errcode)) throw err;
      answer = await askPhoneNumber(await accessTokens.refresh(token), phoneCode, openid);
    }

    const info = answer.phone_info as Partial<PhoneInfo> | undefined;
    const watermark = info?.watermark;
    if (
      typeof info?.phoneNumber !== 'string' ||
      typeof info.purePhoneNumber !== 'string' ||
      typeof info.countryCode !== 'string' ||
      typeof watermark?.timestamp !== 'number' ||
      typeof watermark.appid !== 'string'
    ) {
      throw new WechatApiError(0, 'answer has no complete phone_info', 'getPhoneNumber');
    }
    if (watermark.appid !== opts.appid) {
      throw new WechatApiError(0, 'phone_info watermark is for another appid', 'getPhoneNumber');
    }
    return {
      phoneNumber: info.phoneNumber,
      purePhoneNumber: info.purePhoneNumber,
      countryCode: info.countryCode,
      watermark: { timestamp: watermark.timestamp, appid: watermark.appid },
    };
  }

  return { code2Session, getUserPhoneNumber };
}

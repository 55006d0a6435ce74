/**
 * Client for Douyin's (tt) mini program login, the server half:
 * - code2Session: `POST <apiBase>/api/apps/v2/jscode2session` with JSON `{appid, secret, code, anonymous_code}`,
 *   answer `{err_no, err_tips, data: {session_key, openid, anonymous_openid, unionid}}`.
 *   https://developer.open-douyin.com/docs/resource/zh-CN/mini-app/develop/server/basic-abilities/log-in/code-2-session
 * - the phone number of a getPhoneNumber button (`e.detail.encryptedData`, `e.detail.iv`), decrypted
 *   with the session_key of the same tt.login, as WeChat's: AES-128-CBC, PKCS#7.
 *   https://developer.open-douyin.com/docs/resource/zh-CN/mini-app/develop/tutorial/open-capabilities/general-capabilities/acquire-phone-number-acquire
 *   https://developer.open-douyin.com/docs/resource/zh-CN/mini-app/develop/tutorial/basic-ability/sensitive-data-process
 *
 * The request body carries the app secret, so no body, secret or session_key goes into an error message.
 */
import { readLimited } from './wechat-call';
import { DecryptError, decryptData } from './wechat-crypto';

export { DecryptError } from './wechat-crypto';

/** What to do about a Douyin error, by err_no. */
export type DouyinErrorKind =
  /** 40018 / 40019: the code (or anonymous_code) is unknown, expired (3 minutes) or used: call tt.login again. */
  | 'invalid_code'
  /** 40015 / 40017: the server's appid or secret is wrong. */
  | 'config'
  /** -1: Douyin is busy: retry later. */
  | 'busy'
  /** Anything else, 40014 (bad params) included, or a malformed success (err_no 0). */
  | 'rejected';

const KIND_BY_ERR_NO: Record<number, DouyinErrorKind> = {
  40018: 'invalid_code',
  40019: 'invalid_code',
  40015: 'config',
  40017: 'config',
  [-1]: 'busy',
};

const ADVICE: Record<DouyinErrorKind, string> = {
  invalid_code: 'call tt.login again and send the new code',
  config: 'check the appid and secret of the Douyin app',
  busy: 'Douyin is busy; retry',
  rejected: 'the request or the answer is not what Douyin documents',
};

/** Douyin answered, with an error. `err_no` / `err_tips` are Douyin's; `kind` says what to do. */
export class DouyinApiError extends Error {
  readonly name = 'DouyinApiError';
  readonly kind: DouyinErrorKind;
  constructor(
    readonly err_no: number,
    readonly err_tips: string,
    readonly api = 'code2Session',
  ) {
    const kind = KIND_BY_ERR_NO[err_no] ?? 'rejected';
    super(`[wx-login-kit] Douyin ${api} failed: err_no ${err_no} ${err_tips} (${ADVICE[kind]})`);
    this.kind = kind;
  }
}

/** No usable answer from Douyin. `cause` is the underlying error, if any. */
export class DouyinUnreachableError extends Error {
  readonly name = 'DouyinUnreachableError';
  // Declared here because the ES2020 lib typings predate Error#cause.
  readonly cause?: unknown;
  constructor(
    reason: string,
    options?: { cause?: unknown },
    readonly api = 'code2Session',
  ) {
    super(`[wx-login-kit] Douyin ${api} failed: Douyin unreachable (${reason})`);
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

export interface DouyinClientOptions {
  /** 'https://developer.toutiao.com' or the emulator's base URL; a trailing slash is fine. */
  apiBase: string;
  /** e.g. 'tt' + 16 hex digits. */
  appid: string;
  secret: string;
  /** Give up on Douyin after this many ms. @default 5000 */
  timeoutMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** What code2Session gives. Douyin answers '' for what it does not give; those are left out here. */
export interface DouyinSession {
  openid: string;
  /** base64 of the 16-byte AES key that decrypts this login's open data. Never send it to the client. */
  session_key: string;
  /** A UUID-like id across the developer's apps, when Douyin gives one. */
  unionid?: string;
  /** Only when an anonymous_code was sent: the device's id before login, to merge its data. */
  anonymous_openid?: string;
}

/** The decrypted getPhoneNumber data. */
export interface DouyinPhoneInfo {
  /** With the country code for numbers outside mainland China, e.g. '13800138000'. */
  phoneNumber: string;
  /** Without the country code. */
  purePhoneNumber: string;
  /** e.g. '86'. */
  countryCode: string;
  /** `timestamp` in seconds; `appid` checked to be this client's. */
  watermark: { appid: string; timestamp: number };
}

export interface DouyinClient {
  /**
   * Exchanges a tt.login `code` (and optionally its `anonymousCode`, to learn the anonymous_openid).
   * @throws DouyinApiError on an err_no other than 0 (see DouyinErrorKind), or err_no 0 without a
   *   well-formed openid and session_key
   * @throws DouyinUnreachableError on network failure, timeout, non-200, non-JSON or an answer over 64 KB
   */
  code2Session(code: string, anonymousCode?: string): Promise<DouyinSession>;
  /**
   * Decrypts a getPhoneNumber button's `encryptedData` / `iv` with the session_key of the tt.login
   * that came before the tap, and checks the watermark's appid.
   * @throws DecryptError 'bad_base64', 'decrypt_failed' (another session_key: was tt.login called
   *   after the tap?), 'watermark_mismatch'; also 'decrypt_failed' when it holds no phone number
   */
  decryptPhoneNumber(input: { sessionKey: string; encryptedData: string; iv: string }): DouyinPhoneInfo;
}

/** The largest answer read from Douyin, bytes: its answers are a few hundred bytes. */
export const MAX_DOUYIN_ANSWER_BYTES = 64 * 1024;

// session_key is base64 of 16 bytes (sensitive-data-process: "aeskey 长度为 16Byte"). Ids: Douyin's
// examples show '_000kVq7iperbx_ahV...', '8PB.cW.TabxdbJFs' and a UUID, so dots and dashes are allowed.
const SESSION_KEY = /^[A-Za-z0-9+/]{22}==$/;
const ID = /^[A-Za-z0-9_.-]{1,128}$/;

export function createDouyinClient(opts: DouyinClientOptions): DouyinClient {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const doFetch = opts.fetch ?? globalThis.fetch;
  const url = `${opts.apiBase.replace(/\/+$/, '')}/api/apps/v2/jscode2session`;

  async function code2Session(code: string, anonymousCode?: string): Promise<DouyinSession> {
    const body: Record<string, string> = { appid: opts.appid, secret: opts.secret, code };
    if (anonymousCode) body.anonymous_code = anonymousCode;
    const signal = AbortSignal.timeout(timeoutMs);
    let status: number;
    let text: string | null;
    try {
      const res = await doFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
      status = res.status;
      text = await readLimited(res, MAX_DOUYIN_ANSWER_BYTES);
    } catch (err) {
      // Ask the signal rather than the error: the abort error is a DOMException.
      throw new DouyinUnreachableError(signal.aborted ? `no answer within ${timeoutMs} ms` : 'network error', { cause: err });
    }
    if (status !== 200) throw new DouyinUnreachableError(`HTTP ${status}`);
    if (text === null) throw new DouyinUnreachableError(`answer larger than ${MAX_DOUYIN_ANSWER_BYTES} bytes`);
    let answer: Record<string, unknown>;
    try {
      answer = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new DouyinUnreachableError('answer is not JSON');
    }
    if (typeof answer !== 'object' || answer === null) throw new DouyinUnreachableError('answer is not a JSON object');

    // Douyin's own SDK types err_no as a string; take 0 and '0' alike.
    const errNo = Number(answer.err_no);
    if (answer.err_no === undefined || !Number.isFinite(errNo)) throw new DouyinApiError(0, 'answer has no err_no');
    if (errNo !== 0) throw new DouyinApiError(errNo, String(answer.err_tips ?? ''));

    const data = (answer.data ?? {}) as Record<string, unknown>;
    const { openid, session_key, unionid, anonymous_openid } = data;
    if (typeof openid !== 'string' || !ID.test(openid) || typeof session_key !== 'string' || !SESSION_KEY.test(session_key)) {
      throw new DouyinApiError(0, 'answer has no well-formed openid and session_key');
    }
    const session: DouyinSession = { openid, session_key };
    for (const [name, value] of [['unionid', unionid], ['anonymous_openid', anonymous_openid]] as const) {
      if (value === undefined || value === '') continue;
      if (typeof value !== 'string' || !ID.test(value)) throw new DouyinApiError(0, `answer has a malformed ${name}`);
      session[name] = value;
    }
    return session;
  }

  function decryptPhoneNumber(input: { sessionKey: string; encryptedData: string; iv: string }): DouyinPhoneInfo {
    let data: Record<string, unknown>;
    try {
      data = decryptData({ ...input, appid: opts.appid });
    } catch (err) {
      // The shared crypto speaks of wx.login; say tt.login here.
      if (err instanceof DecryptError && err.code === 'decrypt_failed') {
        throw new DecryptError('decrypt_failed', 'encryptedData did not decrypt with the session_key of this code: was tt.login called after the tap?');
      }
      throw err;
    }
    const watermark = data.watermark as { appid: string; timestamp?: unknown };
    if (typeof data.phoneNumber !== 'string' || typeof data.purePhoneNumber !== 'string' || typeof data.countryCode !== 'string' || typeof watermark.timestamp !== 'number') {
      throw new DecryptError('decrypt_failed', 'encryptedData holds no phone number: pass the getPhoneNumber button\'s encryptedData and iv.');
    }
    return {
      phoneNumber: data.phoneNumber,
      purePhoneNumber: data.purePhoneNumber,
      countryCode: data.countryCode,
      watermark: { appid: watermark.appid, timestamp: watermark.timestamp },
    };
  }

  return { code2Session, decryptPhoneNumber };
}

/**
 * Client for WeChat's code2Session (auth.code2Session):
 * https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html
 *
 * The request URL carries the app secret in its query string, so neither the URL
 * nor the secret ever goes into an error message.
 */

export interface WechatClientOptions {
  /** e.g. 'https://api.weixin.qq.com' or the emulator's base URL, no trailing slash needed. */
  apiBase: string;
  appid: string;
  secret: string;
  /** Give up on WeChat after this many ms. @default 5000 */
  timeoutMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** What code2Session gives on success. */
export interface Code2SessionResult {
  openid: string;
  session_key: string;
  /** Only when the app is bound to a WeChat Open Platform account. */
  unionid?: string;
}

export interface WechatClient {
  /**
   * Exchanges a `wx.login` code.
   * @throws WechatApiError when WeChat answers an errcode (40029 invalid code,
   *   40163 code used, 45011 rate limit, -1 busy, 40226 blocked user, ...)
   * @throws WechatUnreachableError on network failure, timeout, non-200 or non-JSON
   */
  code2Session(code: string): Promise<Code2SessionResult>;
}

/** WeChat answered, with an error. `errmsg` is WeChat's text (it ends with a request id). */
export class WechatApiError extends Error {
  readonly name = 'WechatApiError';
  constructor(
    readonly errcode: number,
    readonly errmsg: string,
  ) {
    super(`[wx-login-kit] code2Session failed: errcode ${errcode} ${errmsg}`);
  }
}

/** No usable answer from WeChat. `cause` is the underlying error, if any. */
export class WechatUnreachableError extends Error {
  readonly name = 'WechatUnreachableError';
  // Declared here because the ES2020 lib typings predate Error#cause.
  readonly cause?: unknown;
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`[wx-login-kit] code2Session failed: WeChat unreachable (${reason})`);
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

export function createWechatClient(opts: WechatClientOptions): WechatClient {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const doFetch = opts.fetch ?? globalThis.fetch;
  const base = opts.apiBase.replace(/\/+$/, '');

  async function code2Session(code: string): Promise<Code2SessionResult> {
    const query = new URLSearchParams({
      appid: opts.appid,
      secret: opts.secret,
      js_code: code,
      grant_type: 'authorization_code',
    });

    const signal = AbortSignal.timeout(timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await doFetch(`${base}/sns/jscode2session?${query}`, { signal });
      status = res.status;
      text = await res.text();
    } catch (err) {
      // Ask the signal rather than the error: the abort error is a DOMException,
      // which is not `instanceof Error` in every realm.
      const reason = signal.aborted ? `no answer within ${timeoutMs} ms` : 'network error';
      throw new WechatUnreachableError(reason, { cause: err });
    }
    if (status !== 200) throw new WechatUnreachableError(`HTTP ${status}`);

    // WeChat serves this JSON as text/plain, so parse the text whatever the content type.
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new WechatUnreachableError('answer is not JSON');
    }
    if (typeof body !== 'object' || body === null) throw new WechatUnreachableError('answer is not a JSON object');

    const answer = body as Record<string, unknown>;
    // Success has no errcode at all; some WeChat APIs send errcode 0, accept that too.
    if (answer.errcode !== undefined && answer.errcode !== 0) {
      const errcode = typeof answer.errcode === 'number' ? answer.errcode : Number(answer.errcode);
      throw new WechatApiError(Number.isFinite(errcode) ? errcode : -1, String(answer.errmsg ?? ''));
    }
    if (typeof answer.openid !== 'string' || typeof answer.session_key !== 'string') {
      throw new WechatApiError(0, 'answer has no openid or session_key');
    }
    const result: Code2SessionResult = { openid: answer.openid, session_key: answer.session_key };
    if (typeof answer.unionid === 'string') result.unionid = answer.unionid;
    return result;
  }

  return { code2Session };
}

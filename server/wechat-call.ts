/**
 * One HTTP call to a WeChat server API and its two failure types, shared by ./wechat and
 * ./access-token. URLs may carry the app secret or an access token (WeChat's design), so no URL,
 * secret or token ever goes into an error message.
 */

/**
 * WeChat answered, with an error. `errmsg` is WeChat's text (it ends with a request id);
 * `api` names the call that failed.
 */
export class WechatApiError extends Error {
  readonly name = 'WechatApiError';
  constructor(
    readonly errcode: number,
    readonly errmsg: string,
    readonly api = 'code2Session',
  ) {
    super(`[wx-login-kit] ${api} failed: errcode ${errcode} ${errmsg}`);
  }
}

/** No usable answer from WeChat. `cause` is the underlying error, if any; `api` names the call. */
export class WechatUnreachableError extends Error {
  readonly name = 'WechatUnreachableError';
  // Declared here because the ES2020 lib typings predate Error#cause.
  readonly cause?: unknown;
  readonly api: string;
  constructor(reason: string, options?: { cause?: unknown; api?: string }) {
    const api = options?.api ?? 'code2Session';
    super(`[wx-login-kit] ${api} failed: WeChat unreachable (${reason})`);
    this.api = api;
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

/** The largest answer read from WeChat, bytes: its JSON answers are a few hundred bytes. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** The body as text, or null once it passes `limit` bytes (the rest is not read). Also ./douyin's. */
export async function readLimited(res: Response, limit: number): Promise<string | null> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    return null;
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * One call to WeChat, shared by ./wechat and ./access-token (not part of the kit's API):
 * returns the JSON object WeChat answered, without an errcode or with errcode 0.
 * `url` may hold a secret or a token, so it never reaches an error.
 * @throws WechatApiError on a non-zero errcode
 * @throws WechatUnreachableError on network failure, timeout, non-200, non-JSON or an answer
 *   over MAX_ANSWER_BYTES
 */
export async function callWechat(
  api: string,
  url: string,
  opts: { fetch: typeof fetch; timeoutMs: number; json?: object },
): Promise<Record<string, unknown>> {
  const signal = AbortSignal.timeout(opts.timeoutMs);
  const init: RequestInit = opts.json
    ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(opts.json), signal }
    : { signal };
  let status: number;
  let text: string | null;
  try {
    const res = await opts.fetch(url, init);
    status = res.status;
    text = await readLimited(res, MAX_ANSWER_BYTES);
  } catch (err) {
    // Ask the signal rather than the error: the abort error is a DOMException,
    // which is not `instanceof Error` in every realm.
    const reason = signal.aborted ? `no answer within ${opts.timeoutMs} ms` : 'network error';
    throw new WechatUnreachableError(reason, { cause: err, api });
  }
  if (status !== 200) throw new WechatUnreachableError(`HTTP ${status}`, { api });
  if (text === null) throw new WechatUnreachableError(`answer larger than ${MAX_ANSWER_BYTES} bytes`, { api });

  // WeChat serves this JSON as text/plain, so parse the text whatever the content type.
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new WechatUnreachableError('answer is not JSON', { api });
  }
  if (typeof body !== 'object' || body === null) throw new WechatUnreachableError('answer is not a JSON object', { api });

  const answer = body as Record<string, unknown>;
  // code2Session's success has no errcode at all; getPhoneNumber's has errcode 0.
  if (answer.errcode !== undefined && answer.errcode !== 0) {
    const errcode = typeof answer.errcode === 'number' ? answer.errcode : Number(answer.errcode);
    throw new WechatApiError(Number.isFinite(errcode) ? errcode : -1, String(answer.errmsg ?? ''), api);
  }
  return answer;
}

/**
 * Alipay's half of a mini program login, over the official `alipay-sdk` (4.x, an optional peer:
 * loaded on the first exchange, so an app that never uses Alipay needs it not installed):
 * - `my.getAuthCode` -> authCode -> `alipay.system.oauth.token` -> open_id (or user_id).
 *   https://opendocs.alipay.com/open/02ailc
 * - `my.getPhoneNumber` -> `res.response` -> {@link decryptPhone}: signature check, then AES.
 *   https://opendocs.alipay.com/mini/api/getphonenumber
 *   https://opendocs.alipay.com/common/02mse3
 *
 * What a session keeps: the openid only. Alipay gives no unionid here. The access_token and
 * refresh_token only serve Alipay's user-info APIs (alipay.user.info.share), which the login does
 * not need; they are handed back non-enumerable, so logging the result leaves them out, and no
 * error message of this module ever contains one.
 */
import { createDecipheriv, createVerify } from 'node:crypto';

/** Alipay answered, with an error (`error_response`). Fields are Alipay's: code '40002', sub_code 'isv.code-invalid', ... */
export class AlipayApiError extends Error {
  readonly name = 'AlipayApiError';
  constructor(
    readonly code: string,
    readonly msg: string,
    readonly sub_code: string,
    readonly sub_msg: string,
    readonly api = 'alipay.system.oauth.token',
  ) {
    super(`[wx-login-kit] ${api} failed: ${code} ${msg} (${sub_code || 'no sub_code'}${sub_msg ? ` ${sub_msg}` : ''})${advice(sub_code, code)}`);
  }
}

/** No usable answer from Alipay: network, timeout, non-200, not JSON, or a signature that does not verify. */
export class AlipayUnreachableError extends Error {
  readonly name = 'AlipayUnreachableError';
  // Declared here because the ES2020 lib typings predate Error#cause.
  readonly cause?: unknown;
  constructor(
    reason: string,
    options?: { cause?: unknown },
    readonly api = 'alipay.system.oauth.token',
  ) {
    super(`[wx-login-kit] ${api} failed: no usable answer from Alipay (${reason})`);
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

export type AlipayPhoneErrorCode = 'bad_response' | 'bad_signature' | 'decrypt_failed' | 'refused';

/** my.getPhoneNumber's `response` was not usable. */
export class AlipayPhoneError extends Error {
  readonly name = 'AlipayPhoneError';
  constructor(
    readonly code: AlipayPhoneErrorCode,
    message: string,
  ) {
    super(`[wx-login-kit] my.getPhoneNumber response: ${message}`);
  }
}

/** What to do about an error_response, by sub_code (https://opendocs.alipay.com/open/02ailc, https://opendocs.alipay.com/common/02km9f). */
function advice(subCode: string, code: string): string {
  if (subCode === 'isv.code-invalid') return ': the authCode is wrong, used, expired or another app\'s; call my.getAuthCode again and send the new one';
  if (subCode === 'isv.invalid-signature') return ': Alipay could not verify the request; check that privateKey matches the app public key set in Alipay\'s console';
  if (subCode === 'isv.invalid-app-id' || subCode === 'isv.missing-app-id') return ': check appId';
  if (code === '20000') return ': Alipay is busy; retry';
  return '';
}

export interface AlipayClientOptions {
  /** The mini program's app_id, e.g. '2021000000000001'. */
  appId: string;
  /** The app's RSA2 private key: PEM (PKCS#1 or PKCS#8) or the bare base64 Alipay's key tool prints. */
  privateKey: string;
  /** Bare base64 only: which encoding it is. @default 'PKCS1' (alipay-sdk's default) */
  keyType?: 'PKCS1' | 'PKCS8';
  /** Alipay's public key for this app (not the app's own): answers must verify with it. */
  alipayPublicKey: string;
  /** @default 'https://openapi.alipay.com/gateway.do' */
  gateway?: string;
  /** Give up on Alipay after this many ms per call (alipay-sdk's `timeout`). @default 5000 */
  timeoutMs?: number;
}

/**
 * What the exchange gives. `openid` is open_id (apps in "openid 模式") or user_id (older apps).
 * The token fields are non-enumerable: JSON.stringify, loggers and console.log leave them out.
 */
export interface AlipayLogin {
  openid: string;
  /** Alipay's oauth.token gives none. */
  unionid?: undefined;
  /** For alipay.user.info.share; never store or log it. */
  readonly access_token: string;
  /** Seconds. */
  readonly expires_in: number;
  readonly refresh_token: string;
  /** Seconds. */
  readonly re_expires_in: number;
}

export interface AlipayClient {
  /**
   * Exchanges a `my.getAuthCode` authCode (single use) via alipay.system.oauth.token, the answer's
   * signature checked with alipayPublicKey.
   * @throws AlipayApiError on an error_response (40002 isv.code-invalid for a wrong, used or
   *   expired code; 40002 isv.invalid-signature; 20000 isp.unknow-error busy; ...)
   * @throws AlipayUnreachableError on network failure, timeout, non-200, non-JSON, a missing or
   *   bad signature, or an answer without open_id / user_id / access_token
   */
  exchangeAuthCode(authCode: string): Promise<AlipayLogin>;
  /** {@link decryptPhone} with this client's alipayPublicKey and the given AES key. */
  decryptPhone(response: string, aesKey: string): { mobile: string };
}

const METHOD = 'alipay.system.oauth.token';
const OPEN_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The parts of alipay-sdk 4.x this module uses. */
interface SdkLike {
  exec(method: string, params: Record<string, unknown>, options: { validateSign: boolean }): Promise<Record<string, unknown>>;
}

type SdkModule = { AlipaySdk: new (config: Record<string, unknown>) => SdkLike };

let sdkModule: Promise<SdkModule> | undefined;
function loadSdk(): Promise<SdkModule> {
  sdkModule ??= import('alipay-sdk').then(
    (mod) => mod as unknown as SdkModule,
    (err: { code?: string }) => {
      sdkModule = undefined;
      if (err.code !== 'MODULE_NOT_FOUND' && err.code !== 'ERR_MODULE_NOT_FOUND') throw err;
      throw new Error('[wx-login-kit] alipay-sdk is not installed: npm i alipay-sdk@4 to log in Alipay users.');
    },
  );
  return sdkModule;
}

function keyTypeOf(key: string, declared?: 'PKCS1' | 'PKCS8'): 'PKCS1' | 'PKCS8' {
  if (key.includes('BEGIN RSA PRIVATE KEY')) return 'PKCS1';
  if (key.includes('BEGIN PRIVATE KEY')) return 'PKCS8';
  return declared ?? 'PKCS1';
}

function seconds(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * alipay-sdk's errors, turned into ours. Its own messages are not passed on: on a bad signature
 * it quotes the answer, access_token included.
 */
function translate(err: unknown, timeoutMs: number): Error {
  const e = err as { name?: string; message?: string; responseDataRaw?: unknown; cause?: { name?: string } };
  if (e?.name !== 'AlipayRequestError') {
    // A TypeError from node:crypto when the answer has no sign at all, or a bug: nothing verified.
    return new AlipayUnreachableError('answer could not be verified (no sign?)');
  }
  const message = String(e.message ?? '');
  const status = /status: (\d+)/.exec(message);
  if (status) return new AlipayUnreachableError(`HTTP ${status[1]}`);
  // alipay-sdk 4.x verifies an error_response against the wrong slice of the answer and calls it a
  // bad signature, so an error_response is read here from the raw answer. It is not verified:
  // an error can only refuse a login, never grant one.
  if (typeof e.responseDataRaw === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(e.responseDataRaw);
    } catch {
      return new AlipayUnreachableError('answer is not JSON');
    }
    const node = (parsed as { error_response?: Record<string, unknown> } | null)?.error_response;
    if (node && typeof node === 'object') {
      return new AlipayApiError(String(node.code ?? ''), String(node.msg ?? ''), String(node.sub_code ?? ''), String(node.sub_msg ?? ''));
    }
  }
  if (message.startsWith('验签失败')) {
    return new AlipayUnreachableError("answer's signature does not verify with alipayPublicKey (Alipay's public key for this app, not the app's own)");
  }
  if (message.startsWith('Response 格式错误')) return new AlipayUnreachableError(`answer has no ${METHOD.replace(/\./g, '_')}_response`);
  const timedOut = /Timeout/.test(e.cause?.name ?? '');
  return new AlipayUnreachableError(timedOut ? `no answer within ${timeoutMs} ms` : 'network error', { cause: e.cause });
}

/**
 * Creates the client. alipay-sdk is loaded on the first exchange.
 * @throws Error when appId, privateKey or alipayPublicKey is empty (without the public key,
 *   alipay-sdk would skip the answer's signature check with a warning)
 */
export function createAlipayClient(opts: AlipayClientOptions): AlipayClient {
  if (!opts.appId || !opts.privateKey || !opts.alipayPublicKey) {
    throw new Error('[wx-login-kit] createAlipayClient needs appId, privateKey and alipayPublicKey.');
  }
  const timeoutMs = opts.timeoutMs ?? 5000;
  let sdk: Promise<SdkLike> | undefined;
  const getSdk = () =>
    (sdk ??= loadSdk().then(
      ({ AlipaySdk }) =>
        new AlipaySdk({
          appId: opts.appId,
          privateKey: opts.privateKey,
          keyType: keyTypeOf(opts.privateKey, opts.keyType),
          alipayPublicKey: opts.alipayPublicKey,
          gateway: opts.gateway ?? 'https://openapi.alipay.com/gateway.do',
          timeout: timeoutMs,
          signType: 'RSA2',
          // Keep Alipay's field names (open_id, access_token), as the docs spell them.
          camelcase: false,
        }),
      (err) => {
        sdk = undefined;
        throw err;
      },
    ));

  async function exchangeAuthCode(authCode: string): Promise<AlipayLogin> {
    const client = await getSdk();
    let answer: Record<string, unknown>;
    try {
      answer = await client.exec(METHOD, { grant_type: 'authorization_code', code: authCode }, { validateSign: true });
    } catch (err) {
      throw translate(err, timeoutMs);
    }
    // A verified answer that is an error (some gateways put code/sub_code in the method's own node).
    if (typeof answer.sub_code === 'string' || (typeof answer.code === 'string' && answer.code !== '10000')) {
      throw new AlipayApiError(String(answer.code ?? ''), String(answer.msg ?? ''), String(answer.sub_code ?? ''), String(answer.sub_msg ?? ''));
    }
    const openid = typeof answer.open_id === 'string' ? answer.open_id : answer.user_id;
    const expires = seconds(answer.expires_in);
    const reExpires = seconds(answer.re_expires_in);
    if (typeof openid !== 'string' || !OPEN_ID.test(openid)) throw new AlipayUnreachableError('answer has no well-formed open_id or user_id');
    if (typeof answer.access_token !== 'string' || !answer.access_token || expires === undefined) {
      throw new AlipayUnreachableError('answer has no access_token or expires_in');
    }
    const login = { openid } as AlipayLogin;
    const hidden = (value: unknown) => ({ value, enumerable: false, writable: false, configurable: false });
    Object.defineProperties(login, {
      access_token: hidden(answer.access_token),
      expires_in: hidden(expires),
      refresh_token: hidden(typeof answer.refresh_token === 'string' ? answer.refresh_token : ''),
      re_expires_in: hidden(reExpires ?? 0),
    });
    return login;
  }

  return {
    exchangeAuthCode,
    decryptPhone: (response, aesKey) => decryptPhone(response, { aesKey, alipayPublicKey: opts.alipayPublicKey }),
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const AES_BY_LENGTH: Record<number, string> = { 16: 'aes-128-cbc', 24: 'aes-192-cbc', 32: 'aes-256-cbc' };

function pem(key: string): string {
  if (key.includes('-----BEGIN')) return key;
  return `-----BEGIN PUBLIC KEY-----\n${key.replace(/\s+/g, '').replace(/(.{64})/g, '$1\n')}\n-----END PUBLIC KEY-----\n`;
}

/**
 * Checks and opens what `my.getPhoneNumber` gave the mini program (`res.response`, a JSON string
 * `{response, sign, sign_type?, encrypt_type?, charset?}`), as Alipay's doc says a server must:
 * 1. verify `sign` (RSA2, SHA256withRSA) with Alipay's public key over the ciphertext wrapped in
 *    double quotes (a plaintext JSON `response` is verified as is);
 * 2. decrypt AES-CBC (PKCS#7 padding, IV of 16 zero bytes) with the app's AES content key
 *    (base64, 16 bytes for Alipay's AES-128; 24 or 32 taken too);
 * 3. take `mobile` when `code` is '10000'.
 * https://opendocs.alipay.com/mini/api/getphonenumber
 * https://opendocs.alipay.com/common/02mse3
 * @throws AlipayPhoneError: 'bad_response' (not that JSON, or an unsupported sign_type/encrypt_type),
 *   'bad_signature', 'decrypt_failed' (wrong AES key), 'refused' (code other than 10000, e.g. the
 *   app lacks the phone permission)
 */
export function decryptPhone(response: string, keys: { aesKey: string; alipayPublicKey: string }): { mobile: string } {
  let envelope: Record<string, unknown>;
  try {
    envelope = JSON.parse(response) as Record<string, unknown>;
  } catch {
    throw new AlipayPhoneError('bad_response', 'not JSON: pass res.response of my.getPhoneNumber as it is.');
  }
  const content = envelope?.response;
  const sign = envelope?.sign;
  if (typeof content !== 'string' || !content || typeof sign !== 'string' || !sign) {
    throw new AlipayPhoneError('bad_response', 'it has no response or sign field: pass res.response of my.getPhoneNumber as it is.');
  }
  if ((envelope.sign_type ?? 'RSA2') !== 'RSA2' || (envelope.encrypt_type ?? 'AES') !== 'AES') {
    throw new AlipayPhoneError('bad_response', 'only sign_type RSA2 and encrypt_type AES are supported.');
  }

  const encrypted = !content.startsWith('{');
  let verified = false;
  try {
    verified = createVerify('RSA-SHA256')
      .update(encrypted ? `"${content}"` : content, 'utf8')
      .verify(pem(keys.alipayPublicKey), sign, 'base64');
  } catch {
    verified = false;
  }
  if (!verified) {
    throw new AlipayPhoneError('bad_signature', "the signature does not verify with alipayPublicKey: it was altered, or the key is not Alipay's public key for this app.");
  }

  let plain: Record<string, unknown>;
  try {
    let text = content;
    if (encrypted) {
      const key = BASE64.test(keys.aesKey) ? Buffer.from(keys.aesKey, 'base64') : Buffer.alloc(0);
      const algorithm = AES_BY_LENGTH[key.length];
      if (!algorithm || !BASE64.test(content)) throw new Error('bad key or ciphertext');
      const decipher = createDecipheriv(algorithm, key, Buffer.alloc(16));
      text = Buffer.concat([decipher.update(Buffer.from(content, 'base64')), decipher.final()]).toString('utf8');
    }
    plain = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new AlipayPhoneError('decrypt_failed', "it did not decrypt with the AES key: use the app's current content key (base64) from Alipay's console.");
  }
  if (plain?.code !== '10000' || typeof plain.mobile !== 'string' || !plain.mobile) {
    const detail = [plain?.code, plain?.msg, plain?.subCode ?? plain?.sub_code].filter((x) => typeof x === 'string').join(' ');
    throw new AlipayPhoneError('refused', `Alipay gave no number (${detail || 'no code'}): check the app has the phone number permission.`);
  }
  return { mobile: plain.mobile };
}

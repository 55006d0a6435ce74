/**
 * An emulator of Alipay's open API gateway, for tests and development. Nothing here reaches Alipay.
 *
 * - `POST /gateway.do` (public parameters in the query string, the rest as a form body, as the
 *   official `alipay-sdk` sends them) with `method=alipay.system.oauth.token`,
 *   `grant_type=authorization_code`, `code=<authCode>`: the request's RSA2 (SHA256withRSA)
 *   signature is VERIFIED with the app's public key, and every answer is SIGNED with the
 *   emulator's "Alipay" private key, so `new AlipaySdk({gateway: emulator gateway, alipayPublicKey})`
 *   runs against it unmodified, response signature check included.
 *   Success `{"alipay_system_oauth_token_response": {open_id | user_id, access_token, expires_in,
 *   refresh_token, re_expires_in, auth_start}, "sign": "..."}`; errors
 *   `{"error_response": {code, msg, sub_code, sub_msg}, "sign": "..."}`, HTTP 200 either way.
 *   https://opendocs.alipay.com/open/02ailc (alipay.system.oauth.token)
 *   https://opendocs.alipay.com/common/02kf5q (request signature: sorted `key=value` joined by `&`)
 *   https://opendocs.alipay.com/common/02km9f (public error codes 40001, 40002, 20000 ...)
 * - `my.getAuthCode` is played by {@link AlipayEmulator.authCode}: single-use codes.
 * - `my.getPhoneNumber` is played by {@link AlipayEmulator.phoneResponse}: the `response` string
 *   the mini program hands over, `{"response": <AES ciphertext>, "sign", "sign_type": "RSA2",
 *   "encrypt_type": "AES", "charset": "UTF-8"}`. The ciphertext is AES-128-CBC (PKCS#7 padding,
 *   IV of 16 zero bytes) with the app's AES content key of `{"code":"10000","msg":"Success","mobile"}`;
 *   the sign is over the ciphertext wrapped in double quotes, with the "Alipay" private key.
 *   https://opendocs.alipay.com/mini/api/getphonenumber
 *   https://opendocs.alipay.com/common/02mse3 (AES content encryption; its zero IV is also what
 *   alipay-sdk 4.x's aesDecrypt uses)
 * A test double: it hands an auth code for any user to whoever asks, so it listens on loopback only.
 */
import { createCipheriv, createHmac, createPublicKey, createSign, createVerify, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';

/** Most oauth.token calls one failNext can fail. */
export const MAX_ALIPAY_FAIL_NEXT = 100;

export interface AlipayEmulatorApp {
  /** The app's RSA2 public key (PEM, or the bare base64 Alipay's console shows): requests must verify with it. */
  appPublicKey: string;
  /** The app's AES content key ("接口内容加密方式"), base64 of 16 bytes; needed for phoneResponse only. */
  aesKey?: string;
}

export interface AlipayEmulatorOptions {
  /** app_id -> its keys, for every app the emulator knows. */
  apps: Record<string, AlipayEmulatorApp>;
  /** The "Alipay" private key answers are signed with. @default a new RSA 2048 key */
  alipayPrivateKey?: KeyObject;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
  /**
   * How long an auth code can be exchanged, ms. Alipay documents "3 minutes to 24 hours": the
   * emulator takes the short end, so a server that holds codes too long fails here first.
   * @default 180_000
   */
  codeTtlMs?: number;
  /** access_token lifetime in seconds (expires_in). @default 1_296_000 (15 days) */
  accessTokenTtlSeconds?: number;
  /** refresh_token lifetime in seconds (re_expires_in). @default 2_592_000 (30 days) */
  refreshTokenTtlSeconds?: number;
  /**
   * Which user id the app is configured for: new apps get `open_id` ("openid 模式"), older ones `user_id`
   * (16 digits starting 2088). The answer carries only that one.
   * @default 'open_id'
   */
  idMode?: 'open_id' | 'user_id';
  /** user -> the open_id (or user_id) the exchange gives them (read at each exchange). @default derived */
  openids?: Record<string, string>;
  /** user -> mobile number my.getPhoneNumber gives. @default '139' + 8 digits derived from the user */
  phones?: Record<string, string>;
  /** Derives ids; the same seed gives the same ids across runs. @default random per emulator */
  seed?: string;
  /** Fastify logger option. @default false */
  logger?: boolean;
}

export interface AlipayEmulator {
  /** The fastify instance; call `listen` / `close` on it. The gateway is `<base>/gateway.do`. */
  app: FastifyInstance;
  /** The "Alipay" public key (PEM) to give the app as `alipayPublicKey`. */
  alipayPublicKey: string;
  /** What `my.getAuthCode` gives `user` in app `appId`: a fresh single-use auth code. */
  authCode(appId: string, user: string): string;
  /** What `my.getPhoneNumber` gives `user` in app `appId` as `res.response` (needs the app's aesKey). */
  phoneResponse(appId: string, user: string): string;
  /** The open_id (or user_id, per idMode) the exchange gives `user` in `appId`. */
  openidOf(appId: string, user: string): string;
  /**
   * The next `count` oauth.token calls that pass the signature check answer an error_response with
   * this sub_code (a public one like 'isp.unknow-error', or any text).
   */
  failNext(subCode: string, count?: number): void;
}

interface IssuedCode {
  appId: string;
  user: string;
  issuedAt: number;
  used: boolean;
}

interface AlipayError {
  code: string;
  msg: string;
  sub_code: string;
  sub_msg: string;
}

/** Alipay's own words for the errors the emulator answers (public codes: https://opendocs.alipay.com/common/02km9f). */
const ERRORS = {
  missingMethod: { code: '40001', msg: 'Missing Required Arguments', sub_code: 'isv.missing-method', sub_msg: '缺少方法名参数' },
  missingSignature: { code: '40001', msg: 'Missing Required Arguments', sub_code: 'isv.missing-signature', sub_msg: '缺少签名参数' },
  missingAppId: { code: '40001', msg: 'Missing Required Arguments', sub_code: 'isv.missing-app-id', sub_msg: '缺少AppID参数' },
  invalidAppId: { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-app-id', sub_msg: '无效的AppID参数' },
  invalidSignatureType: { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature-type', sub_msg: '无效的签名类型' },
  invalidSignature: { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature', sub_msg: '验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配' },
  invalidMethod: { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-method', sub_msg: '不存在的方法名' },
  grantTypeInvalid: { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.grant-type-invalid', sub_msg: 'grant_type参数不正确' },
  codeInvalid: { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.code-invalid', sub_msg: '授权码code无效' },
} satisfies Record<string, AlipayError>;

/** What an injected sub_code answers with; others answer 40004 Business Failed. */
const INJECTED: Record<string, Omit<AlipayError, 'sub_code'>> = {
  'isp.unknow-error': { code: '20000', msg: 'Service Currently Unavailable', sub_msg: '系统繁忙' },
  'aop.ACQ.SYSTEM_ERROR': { code: '20000', msg: 'Service Currently Unavailable', sub_msg: '系统错误' },
};

/** A public key as PEM, from a PEM or the bare base64 body Alipay's console shows. */
function publicPem(key: string): string {
  if (key.includes('-----BEGIN')) return key;
  const body = key.replace(/\s+/g, '').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----\n`;
}

/** Alipay's string to sign: every parameter but `sign` with a non-empty value, sorted by key, `k=v` joined by `&`. */
function signContent(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

/** Alipay timestamps: 'yyyy-MM-dd HH:mm:ss' in China time (UTC+8). */
function chinaTime(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

export function buildAlipayEmulator(opts: AlipayEmulatorOptions): AlipayEmulator {
  const now = opts.now ?? Date.now;
  const codeTtlMs = opts.codeTtlMs ?? 180_000;
  const accessTtl = opts.accessTokenTtlSeconds ?? 1_296_000;
  const refreshTtl = opts.refreshTokenTtlSeconds ?? 2_592_000;
  const idMode = opts.idMode ?? 'open_id';
  const seed = opts.seed ?? randomBytes(32).toString('hex');
  const alipayPrivateKey = opts.alipayPrivateKey ?? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const alipayPublicKey = createPublicKey(alipayPrivateKey).export({ type: 'spki', format: 'pem' }) as string;

  const codes = new Map<string, IssuedCode>();
  let failure: { subCode: string; remaining: number } | null = null;

  const derive = (input: string) => createHmac('sha256', seed).update(input).digest();
  // open_id: per (app, user), about 47 base64url-like chars in Alipay's examples; user_id: '2088' + 12 digits, per user.
  const openidOf = (appId: string, user: string): string => {
    const named = opts.openids?.[user];
    if (named !== undefined) return named;
    if (idMode === 'user_id') return '2088' + String(derive(`user_id\0${user}`).readBigUInt64BE() % 10n ** 12n).padStart(12, '0');
    return '0' + derive(`open_id\0${appId}\0${user}`).toString('base64url').slice(0, 42);
  };
  const phoneOf = (user: string) =>
    opts.phones?.[user] ?? '139' + String(derive(`phone\0${user}`).readUInt32BE() % 1e8).padStart(8, '0');
  const sign = (content: string) => createSign('RSA-SHA256').update(content, 'utf8').sign(alipayPrivateKey, 'base64');

  /** The answer as Alipay writes it: the node's JSON text, signed exactly as sent. */
  function answer(key: string, node: object): string {
    const text = JSON.stringify(node);
    return `{"${key}":${text},"sign":"${sign(text)}"}`;
  }
  const fail = (error: AlipayError) => answer('error_response', error);

  function sweep(t: number): void {
    for (const [code, issued] of codes) if (t - issued.issuedAt >= codeTtlMs) codes.delete(code);
  }

  function failNext(subCode: string, count = 1): void {
    if (!Number.isInteger(count) || count < 0 || count > MAX_ALIPAY_FAIL_NEXT) {
      throw new RangeError(`failNext: count must be 0 to ${MAX_ALIPAY_FAIL_NEXT}`);
    }
    failure = count > 0 ? { subCode, remaining: count } : null;
  }

  const app = Fastify({ logger: opts.logger ?? false });
  // alipay-sdk posts application/x-www-form-urlencoded; fastify has no parser for it by default.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.post('/gateway.do', async (req, reply) => {
    // Alipay's gateway serves its JSON as text/html;charset=utf-8; the SDK reads the text whatever the type.
    reply.type('text/html;charset=utf-8');
    const params: Record<string, string> = {};
    for (const source of [req.query, req.body]) {
      if (source && typeof source === 'object') {
        for (const [k, v] of Object.entries(source as Record<string, unknown>)) if (typeof v === 'string') params[k] = v;
      }
    }

    // The gateway's checks, in its order: method, app, signature; then the API's own.
    if (!params.method) return fail(ERRORS.missingMethod);
    if (!params.app_id) return fail(ERRORS.missingAppId);
    const known = opts.apps[params.app_id];
    if (!known) return fail(ERRORS.invalidAppId);
    if (!params.sign) return fail(ERRORS.missingSignature);
    if (params.sign_type !== 'RSA2') return fail(ERRORS.invalidSignatureType);
    let verified = false;
    try {
      verified = createVerify('RSA-SHA256').update(signContent(params), 'utf8').verify(publicPem(known.appPublicKey), params.sign, 'base64');
    } catch {
      verified = false;
    }
    if (!verified) return fail(ERRORS.invalidSignature);
    if (params.method !== 'alipay.system.oauth.token') return fail(ERRORS.invalidMethod);

    if (failure) {
      const { subCode } = failure;
      failure.remaining -= 1;
      if (failure.remaining <= 0) failure = null;
      const injected = INJECTED[subCode] ?? { code: '40004', msg: 'Business Failed', sub_msg: 'injected' };
      return fail({ ...injected, sub_code: subCode });
    }

    if (params.grant_type !== 'authorization_code') return fail(ERRORS.grantTypeInvalid);
    const t = now();
    const issued = params.code ? codes.get(params.code) : undefined;
    // Alipay gives one sub_code for a code that is wrong, used, expired or another app's.
    if (!issued || issued.used || issued.appId !== params.app_id || t - issued.issuedAt >= codeTtlMs) {
      return fail(ERRORS.codeInvalid);
    }
    issued.used = true;
    const id = openidOf(issued.appId, issued.user);
    return answer('alipay_system_oauth_token_response', {
      [idMode]: id,
      // 40 characters, like the documented '20120823ac6ffaa4d2d84e7384bf983531473993'.
      access_token: 'authusrB' + randomBytes(16).toString('hex'),
      expires_in: accessTtl,
      refresh_token: 'authusrB' + randomBytes(16).toString('hex'),
      re_expires_in: refreshTtl,
      auth_start: chinaTime(t),
    });
  });

  return {
    app,
    alipayPublicKey,
    authCode(appId, user) {
      if (!opts.apps[appId]) throw new Error(`[wx-login-kit] Alipay emulator: unknown app_id "${appId}"`);
      const t = now();
      sweep(t);
      // 32 hex characters, like the documented '4b203fe6c11548bcabd8da5bb087a83b'.
      const code = randomBytes(16).toString('hex');
      codes.set(code, { appId, user, issuedAt: t, used: false });
      return code;
    },
    phoneResponse(appId, user) {
      const aesKey = opts.apps[appId]?.aesKey;
      if (!aesKey) throw new Error(`[wx-login-kit] Alipay emulator: app "${appId}" has no aesKey; give it one to encrypt phone numbers.`);
      const cipher = createCipheriv('aes-128-cbc', Buffer.from(aesKey, 'base64'), Buffer.alloc(16));
      const plain = JSON.stringify({ code: '10000', msg: 'Success', mobile: phoneOf(user) });
      const response = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]).toString('base64');
      return JSON.stringify({ response, sign: sign(`"${response}"`), sign_type: 'RSA2', encrypt_type: 'AES', charset: 'UTF-8' });
    },
    openidOf,
    failNext,
  };
}

export interface StartedAlipayEmulator {
  /** The emulator itself. */
  emulator: AlipayEmulator;
  /** Pass it to alipay-sdk as `gateway` (or to createAlipayClient), e.g. 'http://127.0.0.1:49152/gateway.do'. */
  gateway: string;
  close(): Promise<void>;
}

/**
 * Starts the emulator on 127.0.0.1 (port 0 picks a free one).
 * @throws Error under NODE_ENV=production
 */
export async function startAlipayEmulator(opts: AlipayEmulatorOptions & { port?: number }): Promise<StartedAlipayEmulator> {
  if (process.env.NODE_ENV === 'production') {
    throw new Error('[wx-login-kit] the Alipay emulator gives anyone an auth code for any user; it does not start under NODE_ENV=production.');
  }
  const emulator = buildAlipayEmulator(opts);
  const base = await emulator.app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  return { emulator, gateway: `${base}/gateway.do`, close: () => emulator.app.close() };
}

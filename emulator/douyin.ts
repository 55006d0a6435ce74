/**
 * An emulator of Douyin's (tt) mini program server API, for tests and development. Nothing here
 * reaches Douyin.
 *
 * - `POST /api/apps/v2/jscode2session`, JSON body `{appid, secret, code?, anonymous_code?}`:
 *   always HTTP 200, `{err_no, err_tips, log_id, data: {session_key, openid, anonymous_openid, unionid}}`
 *   with '' for what the request did not ask for; an error has err_no other than 0 and no data.
 *   https://developer.open-douyin.com/docs/resource/zh-CN/mini-app/develop/server/basic-abilities/log-in/code-2-session
 *   (request and field names also as in Douyin's own SDK, @open-dy/open_api_sdk's V2Jscode2sessionRequest/Response)
 *   err_no, in the order checked: 40014 'bad params' (appid, secret or both codes missing),
 *   40015 'bad appid', 40017 'bad secret', 40018 'bad code' (unknown, expired, used or another
 *   app's code: Douyin does not tell them apart), 40019 'bad acode' (the same for anonymous_code),
 *   -1 'system error' (injected with failNext). The numbers are the documented table (-1 系统错误,
 *   40015 appid 错误, 40017 secret 错误, 40018 code 错误, 40019 acode 错误, 其它 参数为空); the err_tips
 *   wording follows Douyin's answers as developers quote them ('bad code', 'bad params').
 * - `tt.login` is played by {@link DouyinEmulator.login}: a code and an anonymous_code, single use,
 *   3 minutes (the typings of @douyin-microapp/typings: "临时登录凭证, 有效期 3 分钟"), and a new session_key.
 * - `<button open-type="getPhoneNumber">` is played by {@link DouyinEmulator.phoneNumberDetail}: the
 *   `e.detail` `{errMsg, encryptedData, iv}`, AES-128-CBC with the session_key of the user's latest
 *   tt.login, of `{phoneNumber, purePhoneNumber, countryCode, watermark: {appid, timestamp}}`.
 *   https://developer.open-douyin.com/docs/resource/zh-CN/mini-app/develop/tutorial/open-capabilities/general-capabilities/acquire-phone-number-acquire
 *   https://developer.open-douyin.com/docs/resource/zh-CN/mini-app/develop/tutorial/basic-ability/sensitive-data-process
 * A test double: it takes the secret it was given and hands out codes to anyone who asks, so it
 * listens on loopback only.
 */
import { createHmac, randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { encryptData } from '../server/wechat-crypto';

/** Most code2Session calls one failNext can fail. */
export const MAX_DOUYIN_FAIL_NEXT = 100;

export interface DouyinEmulatorOptions {
  /** appid -> secret of every app the emulator knows (Douyin appids look like 'tt' + 16 hex digits). */
  apps: Record<string, string>;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
  /** How long a code or anonymous_code can be exchanged, ms. @default 180_000 (3 minutes) */
  codeTtlMs?: number;
  /** user -> the openid code2Session gives them (read at each exchange). @default derived from the user, appid and seed */
  openids?: Record<string, string>;
  /** user -> mainland number ('13800138000') getPhoneNumber gives. @default '137' + 8 digits derived from the user */
  phones?: Record<string, string>;
  /** Derives ids; the same seed gives the same ids across runs. @default random per emulator */
  seed?: string;
  /** Fastify logger option. @default false */
  logger?: boolean;
}

export interface DouyinEmulator {
  /** The fastify instance; call `listen` / `close` on it. */
  app: FastifyInstance;
  /** What `tt.login` gives `user` in app `appid`; rotates the user's session_key, as tt.login does. */
  login(appid: string, user: string): { code: string; anonymousCode: string };
  /**
   * The `e.detail` of a getPhoneNumber button tapped by `user`, encrypted with the session_key of
   * their latest login (call `login` first, as Douyin requires tt.login before the tap).
   */
  phoneNumberDetail(appid: string, user: string): { errMsg: string; encryptedData: string; iv: string };
  /** session_key of the latest login of (appid, user), exchanged or not; undefined before any. */
  latestSessionKey(appid: string, user: string): string | undefined;
  /** The openid code2Session gives `user` in `appid`. */
  openidOf(appid: string, user: string): string;
  /** The next `count` code2Session calls that pass the appid/secret checks answer `errNo` (-1: 'system error'). */
  failNext(errNo: number, count?: number): void;
}

interface IssuedCode {
  appid: string;
  user: string;
  /** '' for an anonymous_code. */
  session_key: string;
  issuedAt: number;
  used: boolean;
}

const ERR_TIPS: Record<number, string> = {
  [-1]: 'system error',
  40014: 'bad params',
  40015: 'bad appid',
  40017: 'bad secret',
  40018: 'bad code',
  40019: 'bad acode',
};

export function buildDouyinEmulator(opts: DouyinEmulatorOptions): DouyinEmulator {
  const now = opts.now ?? Date.now;
  const codeTtlMs = opts.codeTtlMs ?? 180_000;
  const seed = opts.seed ?? randomBytes(32).toString('hex');
  const codes = new Map<string, IssuedCode>();
  const anonymousCodes = new Map<string, IssuedCode>();
  const latestKeys = new Map<string, string>();
  let failure: { errNo: number; remaining: number } | null = null;

  const userKey = (appid: string, user: string) => `${appid}\0${user}`;
  const derive = (input: string) => createHmac('sha256', seed).update(input).digest();
  // Douyin openids as developers quote them: '_000' then about 20 characters, e.g. '_000kVq7iperbx_ahVxxxxxx'.
  const openidOf = (appid: string, user: string) => opts.openids?.[user] ?? '_000' + derive(`openid\0${appid}\0${user}`).toString('base64url').slice(0, 20);
  const anonymousOpenidOf = (appid: string, user: string) => '_000' + derive(`anonymous\0${appid}\0${user}`).toString('base64url').slice(0, 20);
  // unionid in Douyin's example is a UUID ('ab085c8d-6911-4sca-ba17-257vh646cba8'); one per user across apps.
  const unionidOf = (user: string) => {
    const h = derive(`unionid\0${user}`).toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  };
  const phoneOf = (user: string) => opts.phones?.[user] ?? '137' + String(derive(`phone\0${user}`).readUInt32BE() % 1e8).padStart(8, '0');
  // Douyin's log_id: a timestamp then hex, e.g. '2024102117013250E8ABC6F2D070B...'.
  const logId = () => new Date(now()).toISOString().replace(/\D/g, '').slice(0, 14) + randomBytes(10).toString('hex').toUpperCase();
  const error = (err_no: number) => ({ err_no, err_tips: ERR_TIPS[err_no] ?? 'injected', log_id: logId() });

  function sweep(t: number): void {
    for (const store of [codes, anonymousCodes]) {
      for (const [code, issued] of store) if (t - issued.issuedAt >= codeTtlMs) store.delete(code);
    }
  }

  function failNext(errNo: number, count = 1): void {
    if (!Number.isInteger(count) || count < 0 || count > MAX_DOUYIN_FAIL_NEXT) throw new RangeError(`failNext: count must be 0 to ${MAX_DOUYIN_FAIL_NEXT}`);
    failure = count > 0 ? { errNo, remaining: count } : null;
  }

  /** The live, unused code `value` of `appid` in `store`, or undefined. */
  function usable(store: Map<string, IssuedCode>, value: string, appid: string, t: number): IssuedCode | undefined {
    const issued = store.get(value);
    if (!issued || issued.used || issued.appid !== appid || t - issued.issuedAt >= codeTtlMs) return undefined;
    return issued;
  }

  const app = Fastify({ logger: opts.logger ?? false });
  app.setErrorHandler((err: { statusCode?: number; message?: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return reply.code(status).send({ error: status === 500 ? 'internal_error' : String(err.message) });
  });

  app.post('/api/apps/v2/jscode2session', async (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    const appid = str(body.appid);
    const secret = str(body.secret);
    const code = str(body.code);
    const anonymousCode = str(body.anonymous_code);
    if (!appid || !secret) return error(40014);
    const known = opts.apps[appid];
    if (known === undefined) return error(40015);
    if (secret !== known) return error(40017);
    if (!code && !anonymousCode) return error(40014);

    if (failure) {
      const { errNo } = failure;
      failure.remaining -= 1;
      if (failure.remaining <= 0) failure = null;
      return error(errNo);
    }

    const t = now();
    const issued = code ? usable(codes, code, appid, t) : undefined;
    if (code && !issued) return error(40018);
    const anonymous = anonymousCode ? usable(anonymousCodes, anonymousCode, appid, t) : undefined;
    if (anonymousCode && !anonymous) return error(40019);
    // Both are checked before either is used up: a refused pair uses up neither (Douyin does not document this case).
    if (issued) issued.used = true;
    if (anonymous) anonymous.used = true;
    return {
      err_no: 0,
      err_tips: 'success',
      log_id: logId(),
      data: {
        session_key: issued?.session_key ?? '',
        openid: issued ? openidOf(appid, issued.user) : '',
        anonymous_openid: anonymous ? anonymousOpenidOf(appid, anonymous.user) : '',
        unionid: issued ? unionidOf(issued.user) : '',
      },
    };
  });

  return {
    app,
    login(appid, user) {
      if (opts.apps[appid] === undefined) throw new Error(`[wx-login-kit] Douyin emulator: unknown appid "${appid}"`);
      const t = now();
      sweep(t);
      // Douyin's codes are long base64url strings (about 100 characters).
      const code = randomBytes(72).toString('base64url');
      const anonymousCode = randomBytes(72).toString('base64url');
      const session_key = randomBytes(16).toString('base64');
      codes.set(code, { appid, user, session_key, issuedAt: t, used: false });
      anonymousCodes.set(anonymousCode, { appid, user, session_key: '', issuedAt: t, used: false });
      latestKeys.set(userKey(appid, user), session_key);
      return { code, anonymousCode };
    },
    phoneNumberDetail(appid, user) {
      const sessionKey = latestKeys.get(userKey(appid, user));
      if (sessionKey === undefined) throw new Error('[wx-login-kit] Douyin emulator: no session_key; call login for this appid and user first.');
      const phone = phoneOf(user);
      const sealed = encryptData(sessionKey, {
        phoneNumber: phone,
        purePhoneNumber: phone,
        countryCode: '86',
        watermark: { appid, timestamp: Math.floor(now() / 1000) },
      });
      return { errMsg: 'getPhoneNumber:ok', ...sealed };
    },
    latestSessionKey: (appid, user) => latestKeys.get(userKey(appid, user)),
    openidOf,
    failNext,
  };
}

export interface StartedDouyinEmulator {
  emulator: DouyinEmulator;
  /** Pass it to createDouyinClient as `apiBase`, e.g. 'http://127.0.0.1:49152'. */
  apiBase: string;
  close(): Promise<void>;
}

/**
 * Starts the emulator on 127.0.0.1 (port 0 picks a free one).
 * @throws Error under NODE_ENV=production
 */
export async function startDouyinEmulator(opts: DouyinEmulatorOptions & { port?: number }): Promise<StartedDouyinEmulator> {
  if (process.env.NODE_ENV === 'production') {
    throw new Error('[wx-login-kit] the Douyin emulator gives anyone a login code for any user; it does not start under NODE_ENV=production.');
  }
  const emulator = buildDouyinEmulator(opts);
  const apiBase = await emulator.app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  return { emulator, apiBase, close: () => emulator.app.close() };
}

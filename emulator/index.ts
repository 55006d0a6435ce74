/**
 * An emulator of the WeChat server API, for tests and the demo. Nothing here
 * reaches WeChat.
 *
 * - `GET /sns/jscode2session` behaves like auth.code2Session: always HTTP 200,
 *   success `{openid, session_key, unionid}` without errcode, errors `{errcode, errmsg}`.
 *   https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html
 * - `GET /cgi-bin/token` (auth.getAccessToken) and `POST /cgi-bin/stable_token`
 *   (auth.getStableAccessToken) issue access tokens; errors `{errcode, errmsg}` with HTTP 200.
 *   https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getAccessToken.html
 *   https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getStableAccessToken.html
 * - `POST /wxa/business/getuserphonenumber?access_token=` `{code, openid?}` (phonenumber.getPhoneNumber;
 *   with openid, a code of another user is refused).
 *   https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-info/phone-number/getPhoneNumber.html
 * - `POST /emulator/login` `{appid, user}` -> `{code}` plays the client's `wx.login`.
 * - `POST /emulator/open-data` `{appid, user, kind}` -> the `e.detail` an open-type button
 *   (getPhoneNumber, getRealtimePhoneNumber, getUserInfo) hands the page.
 * - `POST /emulator/fail-next` `{errcode, count?}` makes the next code2Session calls fail
 *   (count 0 to MAX_FAIL_NEXT).
 * A test double: it takes any secret it was given and hands out codes to anyone who asks, so it
 * listens on loopback only (`npm run dev --emulator` refuses under NODE_ENV=production).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { encryptData } from '../server/wechat-crypto';

/** Most code2Session calls one fail-next can fail. */
export const MAX_FAIL_NEXT = 100;

export interface EmulatorOptions {
  /** appid -> secret of every app the emulator knows. */
  apps: Record<string, string>;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
  /** How long a `wx.login` code or a phone code can be used, ms (WeChat: 5 minutes). @default 300_000 */
  codeTtlMs?: number;
  /** Lifetime of an access token, ms (WeChat: 7200 s). @default 7_200_000 */
  accessTokenTtlMs?: number;
  /**
   * user -> pure mainland China number ('13800138000') the phone APIs give for them.
   * @default a stable '138' + 8 digits derived from the user and the seed
   */
  phones?: Record<string, string>;
  /** Exchanges allowed per (appid, user) in any 60 s window. @default 100 */
  rateLimitPerMinute?: number;
  /** user -> the openid code2Session gives them (read at each exchange). @default derived from the user and the seed */
  openids?: Record<string, string>;
  /** Derives openid/unionid; the same seed gives the same ids across runs. @default random per emulator */
  seed?: string;
  /**
   * For WeChat DevTools against the emulator (`npm run dev`): a login or phone code the emulator
   * never issued is taken, once, as a fresh code of user `devtools`. Codes stay single use.
   * @default false
   */
  acceptForeignCodes?: boolean;
  /** Fastify logger option. @default false */
  logger?: boolean;
}

export interface Emulator {
  /** The fastify instance; call `listen` / `close` on it. */
  app: FastifyInstance;
  /**
   * session_key of the latest code issued to (appid, user), i.e. from their latest
   * `wx.login`, whether exchanged yet or not. undefined if they never logged in.
   * On WeChat this is the key that decrypts what the client sends next.
   */
  latestSessionKey(appid: string, user: string): string | undefined;
  /** The next `count` code2Session calls that pass the appid/secret checks answer `errcode`. */
  failNext(errcode: number, count?: number): void;
  /**
   * A login code of `user` in `appid`, as `POST /emulator/login` issues it (in-process, for a
   * client run in the same process). Throws for an appid the emulator does not know.
   */
  issueCode(appid: string, user: string): string;
}

interface IssuedCode {
  appid: string;
  user: string;
  session_key: string;
  issuedAt: number;
  used: boolean;
}

interface IssuedAccessToken {
  appid: string;
  expiresAt: number;
  /** When a newer token replaced it: it keeps working for TOKEN_OVERLAP_MS more. */
  supersededAt?: number;
}

export type OpenDataKind = 'getPhoneNumber' | 'getRealtimePhoneNumber' | 'getUserInfo';
const OPEN_DATA_KINDS: readonly OpenDataKind[] = ['getPhoneNumber', 'getRealtimePhoneNumber', 'getUserInfo'];

const WINDOW_MS = 60_000;
/** WeChat keeps the previous access token working this long after issuing a new one. */
const TOKEN_OVERLAP_MS = 300_000;
/** stable_token in normal mode hands out a new token once the current one has this little left. */
const STABLE_RENEW_MS = 300_000;
/** What WeChat now gives every getUserInfo caller: the anonymous user and its grey avatar. */
const ANONYMOUS_NICKNAME = '微信用户';
const DEFAULT_AVATAR_URL =
  'https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132';

/** WeChat's own wording for the errcodes the emulator can inject by name. */
const INJECTED_ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
  40226: 'high risk user',
};

export function buildEmulator(opts: EmulatorOptions): Emulator {
  const now = opts.now ?? Date.now;
  const codeTtlMs = opts.codeTtlMs ?? 300_000;
  const rateLimit = opts.rateLimitPerMinute ?? 100;
  const accessTokenTtlMs = opts.accessTokenTtlMs ?? 7_200_000;
  const seed = opts.seed ?? randomBytes(32).toString('hex');

  const codes = new Map<string, IssuedCode>();
  const phoneCodes = new Map<string, IssuedCode>();
  const latestKeys = new Map<string, string>();
  const accessTokens = new Map<string, IssuedAccessToken>();
  // getAccessToken and getStableAccessToken each have their own current token per appid:
  // WeChat documents the two as fully isolated ("完全隔离，互不影响").
  const currentTokens = { token: new Map<string, string>(), stable: new Map<string, string>() };
  // (appid, user) -> times of exchanges in the last minute, oldest first.
  const exchanges = new Map<string, number[]>();
  let failure: { errcode: number; remaining: number } | null = null;

  const userKey = (appid: string, user: string) => `${appid}\0${user}`;
  const derive = (input: string) => createHmac('sha256', seed).update(input).digest('base64url');
  // Real openids are 28 chars starting with 'o'; unionids 28 chars starting with 'o' too.
  const openidOf = (appid: string, user: string) => opts.openids?.[user] ?? ('o' + derive(`openid\0${appid}\0${user}`)).slice(0, 28);
  const unionidOf = (user: string) => ('ou' + derive(`unionid\0${user}`)).slice(0, 28);
  // A mobile number belongs to the person, so it depends on the user only, not the appid.
  const phoneOf = (user: string) => {
    const digits = parseInt(createHmac('sha256', seed).update(`phone\0${user}`).digest('hex').slice(0, 12), 16) % 1e8;
    return opts.phones?.[user] ?? '138' + String(digits).padStart(8, '0');
  };
  // WeChat appends a request id to every errmsg.
  const rid = () =>
    `${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
  const error = (errcode: number, errmsg: string) => ({ errcode, errmsg: `${errmsg}, rid: ${rid()}` });

  /**
   * Drops expired codes, idle rate-limit windows and long-dead access tokens, so memory
   * follows live logins only. A token is kept for one more lifetime after it expires so it
   * still answers 42001 rather than 40001.
   */
  function sweep(t: number): void {
    for (const store of [codes, phoneCodes]) {
      for (const [code, issued] of store) {
        if (t - issued.issuedAt >= codeTtlMs) store.delete(code);
      }
    }
    for (const [key, times] of exchanges) {
      if (times.length === 0 || t - times[times.length - 1] >= WINDOW_MS) exchanges.delete(key);
    }
    for (const [token, issued] of accessTokens) {
      if (t >= issued.expiresAt + accessTokenTtlMs) accessTokens.delete(token);
    }
  }

  /** The checks getAccessToken, getStableAccessToken and code2Session share, in WeChat's order. */
  function checkApp(appid: unknown, secret: unknown, grantType: unknown, expectedGrant: string) {
    if (typeof appid !== 'string' || !appid) return error(41002, 'appid missing');
    const known = opts.apps[appid];
    if (known === undefined) return error(40013, 'invalid appid');
    if (typeof secret !== 'string' || !secret) return error(41004, 'appsecret missing');
    if (secret !== known) return error(40125, 'invalid appsecret');
    if (grantType !== expectedGrant) return error(40002, 'invalid grant_type');
    return null;
  }

  /** A new current token for `appid` in `slot`; the one it replaces keeps working TOKEN_OVERLAP_MS. */
  function issueAccessToken(slot: keyof typeof currentTokens, appid: string, t: number) {
    sweep(t);
    const previous = accessTokens.get(currentTokens[slot].get(appid) ?? '');
    if (previous && previous.supersededAt === undefined) previous.supersededAt = t;
    // 96 random bytes -> 128 base64url chars; real tokens are about that long.
    const token = randomBytes(96).toString('base64url');
    accessTokens.set(token, { appid, expiresAt: t + accessTokenTtlMs });
    currentTokens[slot].set(appid, token);
    return { access_token: token, expires_in: Math.floor(accessTokenTtlMs / 1000) };
  }

  /** The appid a usable token belongs to, or WeChat's error for it. */
  function checkAccessToken(token: unknown, t: number): { appid: string } | { errcode: number; errmsg: string } {
    if (typeof token !== 'string' || !token) return error(41001, 'access_token missing');
    const issued = accessTokens.get(token);
    const invalid = () => error(40001, 'invalid credential, access_token is invalid or not latest');
    if (!issued) return invalid();
    if (t >= issued.expiresAt) return error(42001, 'access_token expired');
    if (issued.supersededAt !== undefined && t - issued.supersededAt >= TOKEN_OVERLAP_MS) return invalid();
    return { appid: issued.appid };
  }

  function failNext(errcode: number, count = 1): void {
    if (!Number.isInteger(count) || count < 0 || count > MAX_FAIL_NEXT) throw new RangeError(`failNext: count must be 0 to ${MAX_FAIL_NEXT}`);
    failure = count > 0 ? { errcode, remaining: count } : null;
  }

  const app = Fastify({ logger: opts.logger ?? false });

  // Answer emulator misuse as {error} JSON instead of fastify's default shape.
  app.setErrorHandler((err: { statusCode?: number; message?: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return reply.code(status).send({ error: status === 500 ? 'internal_error' : String(err.message) });
  });

  app.get('/sns/jscode2session', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const refused = checkApp(q.appid, q.secret, q.grant_type, 'authorization_code');
    if (refused) return refused;
    if (!q.js_code) return error(41008, 'missing code');

    if (failure) {
      const { errcode } = failure;
      failure.remaining -= 1;
      if (failure.remaining <= 0) failure = null;
      return error(errcode, INJECTED_ERRMSG[errcode] ?? 'injected');
    }

    const t = now();
    if (opts.acceptForeignCodes && !codes.has(q.js_code)) {
      codes.set(q.js_code, { appid: String(q.appid), user: 'devtools', session_key: randomBytes(16).toString('base64'), issuedAt: t, used: false });
    }
    const issued = codes.get(q.js_code);
    if (!issued || issued.appid !== q.appid || t - issued.issuedAt >= codeTtlMs) {
      return error(40029, 'invalid code');
    }
    if (issued.used) return error(40163, 'code been used');

    const key = userKey(issued.appid, issued.user);
    const times = (exchanges.get(key) ?? []).filter((at) => t - at < WINDOW_MS);
    exchanges.set(key, times);
    // A refused exchange does not use up the code: the client may retry it next minute.
    if (times.length >= rateLimit) return error(45011, INJECTED_ERRMSG[45011]);
    times.push(t);

    issued.used = true;
    return {
      openid: openidOf(issued.appid, issued.user),
      session_key: issued.session_key,
      unionid: unionidOf(issued.user),
    };
  });

  /** A login code of `user` in `appid`, as `wx.login` gets one. */
  function issueCode(appid: string, user: string): string {
    const t = now();
    sweep(t);
    // 24 random bytes -> 32 base64url chars, the length of a real wx.login code.
    const code = randomBytes(24).toString('base64url');
    // Like WeChat, every wx.login rotates the session_key, exchanged or not.
    const session_key = randomBytes(16).toString('base64');
    codes.set(code, { appid, user, session_key, issuedAt: t, used: false });
    latestKeys.set(userKey(appid, user), session_key);
    return code;
  }

  app.post('/emulator/login', async (req, reply) => {
    const body = req.body as { appid?: unknown; user?: unknown } | undefined;
    const appid = body?.appid;
    const user = body?.user;
    if (typeof appid !== 'string' || typeof user !== 'string' || user.length === 0 || user.length > 128) {
      return reply.code(400).send({ error: 'body must be {appid: string, user: string (1..128 chars)}' });
    }
    if (opts.apps[appid] === undefined) return reply.code(400).send({ error: 'unknown appid' });
    return { code: issueCode(appid, user) };
  });

  // Every call issues a new token; the previous one keeps working for 5 minutes.
  app.get('/cgi-bin/token', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const refused = checkApp(q.appid, q.secret, q.grant_type, 'client_credential');
    if (refused) return refused;
    return issueAccessToken('token', q.appid as string, now());
  });

  // Normal mode returns the current token while it has more than 5 minutes left ("普通模式下
  // 平台会提前5分钟更新access_token"), so any token it hands out lives at least 5 more minutes.
  // force_refresh always issues a new one. WeChat's limit of 20 forced refreshes a day is not emulated.
  app.post('/cgi-bin/stable_token', async (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const refused = checkApp(body.appid, body.secret, body.grant_type, 'client_credential');
    if (refused) return refused;
    const appid = body.appid as string;
    const t = now();
    const current = accessTokens.get(currentTokens.stable.get(appid) ?? '');
    if (body.force_refresh !== true && current && current.expiresAt - t > STABLE_RENEW_MS) {
      return { access_token: currentTokens.stable.get(appid), expires_in: Math.floor((current.expiresAt - t) / 1000) };
    }
    return issueAccessToken('stable', appid, t);
  });

  app.post('/wxa/business/getuserphonenumber', async (req) => {
    const t = now();
    const owner = checkAccessToken((req.query as Record<string, unknown>).access_token, t);
    if ('errcode' in owner) return owner;
    const { code, openid } = (req.body ?? {}) as { code?: unknown; openid?: unknown };
    if (typeof code !== 'string' || !code) return error(47001, 'data format error');
    if (openid !== undefined && typeof openid !== 'string') return error(47001, 'data format error');
    if (opts.acceptForeignCodes && !phoneCodes.has(code)) {
      phoneCodes.set(code, { appid: owner.appid, user: 'devtools', session_key: '', issuedAt: t, used: false });
    }
    const issued = phoneCodes.get(code);
    // A used code is not told apart from an unknown one: both answer 40029.
    if (!issued || issued.used || issued.appid !== owner.appid || t - issued.issuedAt >= codeTtlMs) {
      return error(40029, 'invalid code');
    }
    // "填入后会校验openid和code的绑定关系": WeChat documents the check, not its errcode; 40029 here.
    if (openid !== undefined && openid !== openidOf(issued.appid, issued.user)) return error(40029, 'invalid code (openid mismatch)');
    issued.used = true;
    const phone = phoneOf(issued.user);
    return {
      errcode: 0,
      errmsg: 'ok',
      phone_info: {
        phoneNumber: phone,
        purePhoneNumber: phone,
        countryCode: '86',
        watermark: { timestamp: Math.floor(t / 1000), appid: issued.appid },
      },
    };
  });

  app.post('/emulator/open-data', async (req, reply) => {
    const body = req.body as { appid?: unknown; user?: unknown; kind?: unknown } | undefined;
    const { appid, user, kind } = body ?? {};
    if (typeof appid !== 'string' || typeof user !== 'string' || !OPEN_DATA_KINDS.includes(kind as OpenDataKind)) {
      return reply.code(400).send({ error: `body must be {appid: string, user: string, kind: ${OPEN_DATA_KINDS.join(' | ')}}` });
    }
    // The button encrypts with the session_key of the user's latest wx.login: a wx.login
    // after the tap rotates it, and the server can no longer decrypt what the tap gave.
    const sessionKey = latestKeys.get(userKey(appid, user));
    if (sessionKey === undefined) return reply.code(400).send({ error: 'no session_key: call /emulator/login for this appid and user first' });

    const t = now();
    const watermark = { timestamp: Math.floor(t / 1000), appid };
    const issuePhoneCode = () => {
      sweep(t);
      const code = randomBytes(32).toString('hex');
      phoneCodes.set(code, { appid, user, session_key: sessionKey, issuedAt: t, used: false });
      return code;
    };

    if (kind === 'getRealtimePhoneNumber') return { errMsg: 'getRealtimePhoneNumber:ok', code: issuePhoneCode() };
    if (kind === 'getPhoneNumber') {
      const phone = phoneOf(user);
      const sealed = encryptData(sessionKey, { phoneNumber: phone, purePhoneNumber: phone, countryCode: '86', watermark });
      return { errMsg: 'getPhoneNumber:ok', code: issuePhoneCode(), ...sealed };
    }
    const userInfo = {
      nickName: ANONYMOUS_NICKNAME,
      gender: 0,
      language: '',
      city: '',
      province: '',
      country: '',
      avatarUrl: DEFAULT_AVATAR_URL,
    };
    const rawData = JSON.stringify(userInfo);
    const signature = createHash('sha1').update(rawData + sessionKey).digest('hex');
    const sealed = encryptData(sessionKey, {
      openId: openidOf(appid, user),
      ...userInfo,
      unionId: unionidOf(user),
      watermark,
    });
    return { errMsg: 'getUserInfo:ok', userInfo, rawData, signature, ...sealed };
  });

  app.post('/emulator/fail-next', async (req, reply) => {
    const body = req.body as { errcode?: unknown; count?: unknown } | undefined;
    const errcode = body?.errcode;
    const count = body?.count ?? 1;
    if (!Number.isInteger(errcode) || !Number.isInteger(count) || (count as number) < 0 || (count as number) > MAX_FAIL_NEXT) {
      return reply.code(400).send({ error: `body must be {errcode: integer, count?: integer from 0 to ${MAX_FAIL_NEXT}}` });
    }
    failNext(errcode as number, count as number);
    return { ok: true };
  });

  return {
    app,
    latestSessionKey: (appid, user) => latestKeys.get(userKey(appid, user)),
    issueCode: (appid, user) => {
      if (opts.apps[appid] === undefined) throw new Error(`unknown appid ${appid}`);
      return issueCode(appid, user);
    },
    failNext,
  };
}

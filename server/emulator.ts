/**
 * An emulator of the WeChat server API, for tests and the demo. Nothing here
 * reaches WeChat.
 *
 * - `GET /sns/jscode2session` behaves like auth.code2Session: always HTTP 200,
 *   success `{openid, session_key, unionid}` without errcode, errors `{errcode, errmsg}`.
 *   https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html
 * - `POST /emulator/login` `{appid, user}` -> `{code}` plays the client's `wx.login`.
 * - `POST /emulator/fail-next` `{errcode, count?}` makes the next code2Session calls fail.
 */
import { createHmac, randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';

export interface EmulatorOptions {
  /** appid -> secret of every app the emulator knows. */
  apps: Record<string, string>;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
  /** How long a code can be exchanged, ms (WeChat: 5 minutes). @default 300_000 */
  codeTtlMs?: number;
  /** Exchanges allowed per (appid, user) in any 60 s window. @default 100 */
  rateLimitPerMinute?: number;
  /** Derives openid/unionid; the same seed gives the same ids across runs. @default random per emulator */
  seed?: string;
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
}

interface IssuedCode {
  appid: string;
  user: string;
  session_key: string;
  issuedAt: number;
  used: boolean;
}

const WINDOW_MS = 60_000;

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
  const seed = opts.seed ?? randomBytes(32).toString('hex');

  const codes = new Map<string, IssuedCode>();
  const latestKeys = new Map<string, string>();
  // (appid, user) -> times of exchanges in the last minute, oldest first.
  const exchanges = new Map<string, number[]>();
  let failure: { errcode: number; remaining: number } | null = null;

  const userKey = (appid: string, user: string) => `${appid}\0${user}`;
  const derive = (input: string) => createHmac('sha256', seed).update(input).digest('base64url');
  // Real openids are 28 chars starting with 'o'; unionids 28 chars starting with 'o' too.
  const openidOf = (appid: string, user: string) => ('o' + derive(`openid\0${appid}\0${user}`)).slice(0, 28);
  const unionidOf = (user: string) => ('ou' + derive(`unionid\0${user}`)).slice(0, 28);
  // WeChat appends a request id to every errmsg.
  const rid = () =>
    `${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
  const error = (errcode: number, errmsg: string) => ({ errcode, errmsg: `${errmsg}, rid: ${rid()}` });

  /** Drops expired codes and idle rate-limit windows, so memory follows live logins only. */
  function sweep(t: number): void {
    for (const [code, issued] of codes) {
      if (t - issued.issuedAt >= codeTtlMs) codes.delete(code);
    }
    for (const [key, times] of exchanges) {
      if (times.length === 0 || t - times[times.length - 1] >= WINDOW_MS) exchanges.delete(key);
    }
  }

  function failNext(errcode: number, count = 1): void {
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
    if (!q.appid) return error(41002, 'appid missing');
    const secret = opts.apps[q.appid];
    if (secret === undefined) return error(40013, 'invalid appid');
    if (!q.secret) return error(41004, 'appsecret missing');
    if (q.secret !== secret) return error(40125, 'invalid appsecret');
    if (q.grant_type !== 'authorization_code') return error(40002, 'invalid grant_type');
    if (!q.js_code) return error(41008, 'missing code');

    if (failure) {
      const { errcode } = failure;
      failure.remaining -= 1;
      if (failure.remaining <= 0) failure = null;
      return error(errcode, INJECTED_ERRMSG[errcode] ?? 'injected');
    }

    const t = now();
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

  app.post('/emulator/login', async (req, reply) => {
    const body = req.body as { appid?: unknown; user?: unknown } | undefined;
    const appid = body?.appid;
    const user = body?.user;
    if (typeof appid !== 'string' || typeof user !== 'string' || user.length === 0 || user.length > 128) {
      return reply.code(400).send({ error: 'body must be {appid: string, user: string (1..128 chars)}' });
    }
    if (opts.apps[appid] === undefined) return reply.code(400).send({ error: 'unknown appid' });

    const t = now();
    sweep(t);
    // 24 random bytes -> 32 base64url chars, the length of a real wx.login code.
    const code = randomBytes(24).toString('base64url');
    // Like WeChat, every wx.login rotates the session_key, exchanged or not.
    const session_key = randomBytes(16).toString('base64');
    codes.set(code, { appid, user, session_key, issuedAt: t, used: false });
    latestKeys.set(userKey(appid, user), session_key);
    return { code };
  });

  app.post('/emulator/fail-next', async (req, reply) => {
    const body = req.body as { errcode?: unknown; count?: unknown } | undefined;
    const errcode = body?.errcode;
    const count = body?.count ?? 1;
    if (!Number.isInteger(errcode) || !Number.isInteger(count) || (count as number) < 0) {
      return reply.code(400).send({ error: 'body must be {errcode: integer, count?: integer >= 0}' });
    }
    failNext(errcode as number, count as number);
    return { ok: true };
  });

  return {
    app,
    latestSessionKey: (appid, user) => latestKeys.get(userKey(appid, user)),
    failNext,
  };
}

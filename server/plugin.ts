/**
 * The server half of wx-login-kit as a fastify plugin: `app.register(wxLogin, { appid, secret })`
 * for one WeChat app, or `app.register(wxLogin, { apps: [...] })` for several apps of WeChat,
 * Douyin, Alipay and QQ (./apps).
 *
 * Routes, under `prefix` (default '/auth'); every body is JSON, every error `{error, message}`.
 * Each login body may name its app with `platform` and `appid` (required only when the others do
 * not tell one app apart; an unknown app is 400 `unknown_app`):
 *   POST   /login        {code, anonymousCode?}                    -> {token, expiresIn}  (expiresIn in s)
 *   POST   /phone        {code, phoneCode | encryptedData + iv}    -> {token, expiresIn, phoneNumber, purePhoneNumber, countryCode}
 *                         Douyin {code, encryptedData, iv}; Alipay {code, response}; QQ: none (400)
 *                         Bearer + {phoneCode} (WeChat) or {response} (Alipay): bind to the token's user -> {phoneNumber, purePhoneNumber, countryCode}
 *   POST   /profile      {code, encryptedData, iv} (WeChat, QQ)    -> {token, expiresIn, userInfo}
 *   POST   /logout       Bearer                                    -> {ok: true}
 *   POST   /logout-all   Bearer: every session of this openid      -> {revoked}
 *   GET    /sessions     Bearer: this openid's live sessions       -> {sessions: [{id, createdAt, expiresAt, lastSeenAt, current}]}
 *   DELETE /sessions/:id Bearer: revoke one of them                -> {ok: true}
 * and the contract as OpenAPI 3 at `openapi` (default '/openapi.json').
 *
 * Answers that carry a token or a session list are `Cache-Control: no-store`; every answer is
 * `X-Content-Type-Options: nosniff`. When the store fails (Redis down or stalled), requests get
 * 503 `{error: 'store_unavailable'}` with `Retry-After`, and the log one warning per outage.
 *
 * In-band (README "The contract"): a request to an `app.requireAuth` route with no Bearer but an
 * `X-WX-Login-Code` logs in on the way and gets `X-WX-Token` (+ `X-WX-Token-Expires-In`, s) in
 * its answer; a token past `renewAfter` of its life gets its successor in the same headers of its
 * next 2xx answer, and keeps working for `renewGraceSeconds`.
 *
 * For the app's own routes: `app.requireAuth` (a preHandler) admits a live `Authorization: Bearer`
 * token and sets `request.auth = {openid, unionid?}` (with `apps`: `{platform, appid, openid,
 * unionid?}`); `app.wxLogin.sessionKey(request)` gives the session_key for decrypting more of the
 * user's data, server side only.
 *
 * The flow: https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/login.html
 * The openid always comes from code2Session, never from decrypted data: AES-CBC lets a client
 * rewrite the first plaintext block through the iv. Tokens are 256 bits from the CSPRNG and only
 * their sha256 is stored. No token, session_key or secret goes into an answer (but the token into
 * the login answer) or a log line.
 */
import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify';
import fp from 'fastify-plugin';
import { AlipayPhoneError } from './alipay';
import { createLoginApp, normalizeApps, PLATFORM_DEFAULTS, resolveApp, wechatFailure, type AppOptions, type Failure, type Identity, type LoginApp, type Platform } from './apps';
import { hashToken, newToken } from './crypto';
import { createMemoryStore, StoreUnavailableError, userKeyOf, type Session, type SessionInfo, type SessionStore } from './store';
import { guardStore } from './store-guard';
import { WechatApiError, type WechatClient } from './wechat';
import { decryptData, DecryptError } from './wechat-crypto';
import * as schemas from './schemas';

/** A rate limit: at most `max` requests per `timeWindowMs`. */
export interface RateLimit {
  max: number;
  /** ms */
  timeWindowMs: number;
}

export interface WxLoginOptions {
  /**
   * The single-app form: the WeChat mini program's AppID (mp.weixin.qq.com > 开发管理 > 开发设置).
   * Give `appid` + `secret`, or `apps`, not both.
   */
  appid?: string;
  /** Its AppSecret. Never logged, never in a URL the plugin logs, never in an answer. */
  secret?: string;
  /**
   * Several apps, of any platforms (./apps for each entry's fields):
   * `{platform: 'wechat', appid, secret, apiBase?}`, `{platform: 'douyin', appid, secret, apiBase?}`,
   * `{platform: 'alipay', appid, privateKey, alipayPublicKey, aesKey?, keyType?, gateway?}`,
   * `{platform: 'qq', appid, secret, apiBase?}`.
   * Each (platform, appid) once. A login names its app (`platform`, `appid` in the body, or the
   * `X-WX-Login-Platform` / `X-WX-Login-Appid` headers in-band) unless the rest tells it; sessions,
   * the session cap, the per-openid limit and revocation are per app; `request.auth` is
   * `{platform, appid, openid, unionid?}`. An Alipay app needs the optional peer `alipay-sdk` (4.x).
   */
  apps?: AppOptions[];
  /** WeChat's API, or the emulator's base URL in tests (every WeChat app without its own). @default 'https://api.weixin.qq.com' */
  apiBase?: string;
  /**
   * Where sessions and the access_token live: `createMemoryStore()` for one process,
   * `createRedisStore({ redis })` for several. @default createMemoryStore({ now })
   */
  store?: SessionStore;
  /** Path prefix of the routes. @default '/auth' */
  prefix?: string;
  /** Token lifetime (absolute), seconds. @default 7200 */
  tokenTtlSeconds?: number;
  /** Refuse a token unused for this many seconds; 0: no idle timeout. @default 0 */
  idleTimeoutSeconds?: number;
  /** Live sessions per openid; a new login revokes the oldest beyond it. @default 5 */
  maxSessionsPerOpenid?: number;
  /**
   * In-band renewal: once a token has lived this share of `tokenTtlSeconds`, the next
   * authenticated 2xx answer carries a new one in `X-WX-Token` (with `X-WX-Token-Expires-In`, s),
   * so an active user never waits for a login; 0 or 1 turns it off. @default 0.5
   */
  renewAfter?: number;
  /** After a renewal the old token keeps working this many seconds, for the calls already in flight. @default 60 */
  renewGraceSeconds?: number;
  /**
   * Limits on the routes above: per client IP (`request.ip`: set fastify's `trustProxy` behind a
   * proxy) on every route but revocation, with @fastify/rate-limit; and per openid on logins
   * (after code2Session). Both are counted in the store (`store.hit`: in Redis with the Redis
   * store). Revocation (logout, logout-all, DELETE /sessions/:id) is never limited: a stolen token
   * that spends the budget must not keep its user from logging it out. A request over a limit
   * gets 429 `{error: 'rate_limited', retryAfter}` with `Retry-After` (s). `false` turns both off;
   * `ip: false` needs no @fastify/rate-limit.
   * @default { ip: { max: 60, timeWindowMs: 60_000 }, openid: { max: 10, timeWindowMs: 60_000 } }
   */
  rateLimit?: false | { ip?: RateLimit | false; openid?: RateLimit | false };
  /** Where the contract is served as OpenAPI 3 JSON (@fastify/swagger); false: not served. @default '/openapi.json' */
  openapi?: string | false;
  /** Largest JSON body, bytes. @default 16384 */
  bodyLimit?: number;
  /** Give up on WeChat (Douyin, Alipay) after this many ms, per call. @default 5000 */
  timeoutMs?: number;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** The defaults of every optional `WxLoginOptions` field. */
export const DEFAULTS = {
  apiBase: PLATFORM_DEFAULTS.wechatApiBase,
  prefix: '/auth',
  tokenTtlSeconds: 7200,
  idleTimeoutSeconds: 0,
  maxSessionsPerOpenid: 5,
  renewAfter: 0.5,
  renewGraceSeconds: 60,
  rateLimit: { ip: { max: 60, timeWindowMs: 60_000 }, openid: { max: 10, timeWindowMs: 60_000 } },
  openapi: '/openapi.json',
  bodyLimit: 16384,
  timeoutMs: 5000,
} as const;

/**
 * What `requireAuth` puts on the request. No session_key: see `app.wxLogin.sessionKey`.
 * Single-app form: `{openid, unionid?}`. With `apps`: `{platform, appid, openid, unionid?}`, and
 * `anonymousOpenid` for a Douyin login that sent an anonymousCode.
 */
export interface RequestAuth {
  /** With `apps` only. */
  platform?: Platform;
  /** With `apps` only. */
  appid?: string;
  openid: string;
  unionid?: string;
  /** Douyin only, when the login sent an anonymousCode: the device's id before it logged in. */
  anonymousOpenid?: string;
}

/**
 * A user for `app.wxLogin.list/revoke/revokeAll`: an openid (enough with one app), or
 * `{platform, appid, openid}` (`request.auth` fits) to say in which app.
 */
export type WxLoginUser = string | { platform?: Platform; appid?: string; openid: string };

/** `app.wxLogin`: server-side access to sessions and WeChat. */
export interface WxLoginApi {
  /**
   * The session_key behind a request `requireAuth` admitted, to decrypt more of the user's data
   * (wx.getWeRunData, tt's encrypted data, ...). Keep it server side.
   * @throws Error when the request went through no `requireAuth`, or its session has no
   *   session_key (Alipay)
   */
  sessionKey(request: FastifyRequest): string;
  /**
   * The user's live sessions, oldest first (ASVS 7.5.2).
   * @throws Error for a bare openid when several apps are served, or an app not served
   */
  list(user: WxLoginUser): Promise<SessionInfo[]>;
  /** Revokes one session by `SessionInfo.id`; false if the user has no such session. */
  revoke(user: WxLoginUser, id: string): Promise<boolean>;
  /** Revokes every session of the user (ASVS 7.4.2); resolves to how many were live. */
  revokeAll(user: WxLoginUser): Promise<number>;
  /**
   * code2Session and getPhoneNumber, with the shared access_token, of the (first) WeChat app.
   * Without a WeChat app among `apps`, its calls reject saying so.
   */
  wechat: WechatClient;
  store: SessionStore;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * preHandler: 401 `{error: 'invalid_token'}` unless the request has a live Bearer token, 503
     * `{error: 'store_unavailable'}` with `Retry-After` when the store cannot answer; sets `request.auth`.
     */
    requireAuth: preHandlerAsyncHookHandler;
    wxLogin: WxLoginApi;
  }
  interface FastifyRequest {
    /** Set by `requireAuth`; null on routes that do not use it. */
    auth: RequestAuth | null;
  }
}

/** Answers `{error, message, ...extra}` with `status`. */
function sendError(reply: FastifyReply, status: number, error: string, message: string, extra: object = {}) {
  return reply.header('X-Content-Type-Options', 'nosniff').code(status).send({ error, message, ...extra });
}

/** Seconds a client should wait after a 503 store_unavailable. */
const STORE_RETRY_AFTER_S = 5;
/** The realm of the Bearer challenge (RFC 6750 §3). */
function storeUnavailable(reply: FastifyReply) {
  return sendError(
    reply.header('Retry-After', String(STORE_RETRY_AFTER_S)),
    503,
    'store_unavailable',
    `Sessions cannot be checked right now. Retry after ${STORE_RETRY_AFTER_S} seconds.`,
    { retryAfter: STORE_RETRY_AFTER_S },
  );
}

/**
 * 401 with RFC 6750 §3's challenge: a request that sent no credentials gets no error code
 * (§3.1), a token that is malformed, unknown, expired or revoked gets `invalid_token`.
 */
function invalidToken(reply: FastifyReply, message: string, sentCredentials: boolean) {
  const challenge = sentCredentials ? `Bearer realm="${REALM}", error="invalid_token"` : `Bearer realm="${REALM}"`;
  return sendError(
    reply.header('WWW-Authenticate', challenge),
    401,
    'invalid_token',
    `${message} Log in again (wx.login, then POST /auth/login) for a new token.`,
  );
}

const REALM = 'wx-login-kit';

/** For answers that carry a token or a session list: no cache may keep them (RFC 9111 §5.2.2.5). */
function noStore(reply: FastifyReply) {
  return reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
}

function rateLimited(reply: FastifyReply, retryAfterSeconds: number) {
  return sendError(
    reply.header('Retry-After', String(retryAfterSeconds)),
    429,
    'rate_limited',
    `Too many requests. Retry after ${retryAfterSeconds} seconds.`,
    { retryAfter: retryAfterSeconds },
  );
}

/**
 * Answers fastify's own errors as the contract's 4xx JSON: schema validation and unreadable JSON
 * 400, too large 413, wrong Content-Type 415, rate limit 429; a session store that cannot answer
 * ({@link StoreUnavailableError}) 503 `store_unavailable` with `Retry-After`. Anything else is
 * logged and answered 500 `{error: 'internal_error'}` with no detail. The plugin uses it for its routes; an app can
 * `setErrorHandler(wxLoginErrorHandler)` for its own.
 */
export function wxLoginErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  // Logged once per outage where it started (see ./store-guard), not once per request.
  if (err instanceof StoreUnavailableError) return storeUnavailable(reply);
  if (err.validation) {
    return sendError(reply, 400, 'invalid_request', `Invalid request: ${err.message}. See /openapi.json for the body each route takes.`);
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return sendError(reply, 400, 'invalid_json', 'The body is not valid JSON. Send JSON such as {"code": "<code from wx.login>"}.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return sendError(reply, 413, 'body_too_large', 'The body is larger than this server accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return sendError(reply, 415, 'unsupported_media_type', 'Send the body as Content-Type: application/json.');
  }
  if (err.statusCode === 429) return rateLimited(reply, Number(reply.getHeader('retry-after')) || 60);
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return sendError(reply, err.statusCode, 'invalid_request', 'The request could not be read. Check its headers and body.');
  }
  // Unexpected: log it for the operator, tell the client nothing about internals.
  request.log.error({ err }, 'unhandled error');
  return sendError(reply, 500, 'internal_error', 'The server failed unexpectedly. Retry later.');
}

/** Answers a platform failure (./apps `Failure`). */
function sendFailure(reply: FastifyReply, f: Failure) {
  for (const [name, value] of Object.entries(f.headers ?? {})) reply.header(name, value);
  return sendError(reply, f.status, f.error, f.message, f.extra);
}

/** Answers an error of a WeChat call as ./apps `wechatFailure` says; rethrows one that is not WeChat's. */
function wechatFailureReply(reply: FastifyReply, err: unknown) {
  const f = wechatFailure(err);
  if (!f) throw err;
  return sendFailure(reply, f);
}

// RFC 6750 §2.1: "Bearer" (any case), one or more spaces, a b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** The session `requireAuth` found for a request, kept off the request object. */
const admitted = new WeakMap<FastifyRequest, { tokenHash: string; session: Session; renew: boolean; app: LoginApp }>();

/** The wire contract's headers (README "The contract"; /openapi.json). Request headers in lower case, as Node gives them. */
export const HEADERS = {
  /** Request: a login code (wx.login, tt.login, my.getAuthCode, qq.login) instead of a Bearer token: log in on the way (in-band login). */
  loginCode: 'x-wx-login-code',
  /** Request, with loginCode: the app's platform ('wechat', 'douyin', 'alipay', 'qq'), when the server serves several apps. */
  loginPlatform: 'x-wx-login-platform',
  /** Request, with loginCode: the app's appid, when the server serves several apps. */
  loginAppid: 'x-wx-login-appid',
  /** Answer: a new token, after an in-band login or a renewal. */
  token: 'X-WX-Token',
  /** Answer: its lifetime, s. */
  expiresIn: 'X-WX-Token-Expires-In',
} as const;

/** `app.wxLogin.wechat` when no WeChat app is served. */
const noWechatClient: WechatClient = {
  code2Session: () => Promise.reject(new Error('[wx-login-kit] app.wxLogin.wechat: there is no WeChat app among apps.')),
  getUserPhoneNumber: () => Promise.reject(new Error('[wx-login-kit] app.wxLogin.wechat: there is no WeChat app among apps.')),
};

/** A login in progress: the app it is for and who the platform says the code stands for. */
interface Login {
  app: LoginApp;
  identity: Identity;
}

async function plugin(app: FastifyInstance, opts: WxLoginOptions): Promise<void> {
  // Throws, saying what to fix, before anything is set up.
  const { single, apps: appOptions } = normalizeApps(opts);
  const now = opts.now ?? Date.now;
  const given =
    opts.store ??
    createMemoryStore({
      now,
      onEvict: (count) => app.log.warn({ evicted: count }, '[wx-login-kit] memory store full: least recently used sessions dropped'),
    });
  const store = guardStore(given, app.log);
  if (store.ping) {
    // Unreachable at start-up: ready() and listen() fail, rather than every request stalling.
    app.addHook('onReady', async () => {
      await store.ping!();
    });
  }
  const tokenTtlSeconds = opts.tokenTtlSeconds ?? DEFAULTS.tokenTtlSeconds;
  const tokenTtlMs = tokenTtlSeconds * 1000;
  const idleMs = (opts.idleTimeoutSeconds ?? DEFAULTS.idleTimeoutSeconds) * 1000;
  const maxPerOpenid = opts.maxSessionsPerOpenid ?? DEFAULTS.maxSessionsPerOpenid;
  const apiBase = opts.apiBase ?? DEFAULTS.apiBase;
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  const limits = opts.rateLimit === false ? { ip: false as const, openid: false as const } : { ...DEFAULTS.rateLimit, ...opts.rateLimit };

  const loginApps = appOptions.map((entry) => createLoginApp(entry, { apiBase, timeoutMs, now, fetch: opts.fetch, store }));
  if (loginApps.some((a) => a.platform === 'alipay')) {
    // Checked now, so a server missing it fails at start-up rather than at its first Alipay login.
    try {
      await import('alipay-sdk');
    } catch (err) {
      if ((err as { code?: string }).code !== 'MODULE_NOT_FOUND' && (err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
      throw new Error('[wx-login-kit] alipay-sdk is not installed: npm i alipay-sdk@4 to log in the Alipay apps in apps.');
    }
  }
  const wechat = loginApps.find((a) => a.wechat)?.wechat ?? noWechatClient;

  /** The app a stored session belongs to; undefined for one of the other form or of an app no longer served (its token is refused). */
  function appOfSession(s: Session): LoginApp | undefined {
    if (single) return s.platform === undefined ? loginApps[0] : undefined;
    return loginApps.find((a) => a.platform === s.platform && a.appid === s.appid);
  }

  /** What a login's session is, before its createdAt: the single-app form keeps the layout it always had. */
  function sessionFields(login: Login): Omit<Session, 'createdAt'> {
    const { app: loginApp, identity } = login;
    const fields: Omit<Session, 'createdAt'> = single ? { openid: identity.openid } : { platform: loginApp.platform, appid: loginApp.appid, openid: identity.openid };
    if (identity.session_key !== undefined) fields.session_key = identity.session_key;
    if (identity.unionid !== undefined) fields.unionid = identity.unionid;
    if (identity.anonymousOpenid !== undefined) fields.anonymousOpenid = identity.anonymousOpenid;
    return fields;
  }

  /**
   * The app a request names (body fields or in-band headers); answers 400 unknown_app and returns
   * null when it names none served. The single-app form's one app, whatever is named.
   */
  function appNamed(reply: FastifyReply, platform: unknown, appid: unknown): LoginApp | null {
    // The single-app form takes a login as it always did: a kit's {platform, appid} is not checked
    // (DevTools' test appid, say, is not the one configured; code2Session tells a foreign code).
    if (single) return loginApps[0];
    const found = resolveApp(loginApps, platform, appid);
    if (typeof found !== 'string') return found;
    sendError(reply, 400, 'unknown_app', found);
    return null;
  }

  /**
   * The per-openid limit, counted in the store (so across instances on Redis), not by
   * @fastify/rate-limit: an app that registered that plugin first would hand us its own limiter
   * (its createRateLimit wins), with its allowList and its store. Per app with `apps` (the key is
   * userKeyOf's). True when it answered 429.
   */
  const openidLimit = limits.openid;
  async function openidLimited(_request: FastifyRequest, reply: FastifyReply, user: string): Promise<boolean> {
    if (!openidLimit) return false;
    const { count, resetMs } = await store.hit(`openid:${hashToken(user).slice(0, 32)}`, openidLimit.timeWindowMs);
    if (count <= openidLimit.max) return false;
    rateLimited(reply, Math.max(1, Math.ceil(resetMs / 1000)));
    return true;
  }

  /** The app's code exchange (code2Session, oauth.token); on failure answers the client and returns null. */
  async function exchange(request: FastifyRequest, reply: FastifyReply, loginApp: LoginApp, code: string, anonymousCode?: string): Promise<Login | null> {
    let identity: Identity;
    try {
      identity = await loginApp.exchange(code, anonymousCode);
    } catch (err) {
      const failure = loginApp.failure(err);
      if (!failure) throw err;
      // The platform's error code only: its messages may quote what it was sent.
      const what = loginApp.platform === 'alipay' ? 'alipay.system.oauth.token failed' : 'code2Session failed';
      request.log.warn(single ? loginApp.logFields(err) : { platform: loginApp.platform, appid: loginApp.appid, ...loginApp.logFields(err) }, what);
      sendFailure(reply, failure);
      return null;
    }
    const login = { app: loginApp, identity };
    return (await openidLimited(request, reply, userKeyOf(sessionFields(login)))) ? null : login;
  }

  /**
   * A new 256-bit token for this session; only sha256(token) is stored. A renewal may hold one
   * session more than the cap for the old token's grace, so it revokes no other device.
   */
  async function issueToken(request: FastifyRequest, fields: Omit<Session, 'createdAt'>, renewal = false) {
    const token = newToken();
    const tokenHash = hashToken(token);
    const session: Session = { ...fields, createdAt: now() };
    const revoked = await store.create(tokenHash, session, { ttlMs: tokenTtlMs, idleMs, maxPerOpenid: maxPerOpenid + (renewal ? 1 : 0) });
    if (revoked.length > 0) request.log.info({ revoked: revoked.length }, 'oldest sessions of this openid revoked (maxSessionsPerOpenid)');
    return { token, expiresIn: tokenTtlSeconds, tokenHash, session };
  }

  /** What a login route answers: the token and its lifetime (s), nothing of the session. */
  async function loginAnswer(request: FastifyRequest, login: Login) {
    const { token, expiresIn } = await issueToken(request, sessionFields(login));
    return { token, expiresIn };
  }

  /** The new token in the answer's headers (in-band login, renewal); no cache keeps it. */
  function tokenHeaders(reply: FastifyReply, token: string) {
    return noStore(reply).header(HEADERS.token, token).header(HEADERS.expiresIn, String(tokenTtlSeconds));
  }

  /** One hit on a client IP's counter: the /auth routes' limiter and an in-band login share it. */
  const ipHit = (ip: string, windowMs: number) => store.hit(`ip:${ip}`, windowMs);

  const renewAfter = opts.renewAfter ?? DEFAULTS.renewAfter;
  // Off at 0 or 1 (or beyond): a token is never old enough.
  const renewAtMs = renewAfter > 0 && renewAfter < 1 ? renewAfter * tokenTtlMs : Infinity;
  const renewGraceMs = (opts.renewGraceSeconds ?? DEFAULTS.renewGraceSeconds) * 1000;

  function admit(request: FastifyRequest, tokenHash: string, session: Session & { renewed?: boolean }, renew: boolean, loginApp: LoginApp) {
    admitted.set(request, { tokenHash, session, renew, app: loginApp });
    // Only the keys that have a value: the single-app form's shape is {openid, unionid?}.
    const auth: RequestAuth = single ? { openid: session.openid } : { platform: loginApp.platform, appid: loginApp.appid, openid: session.openid };
    if (session.unionid !== undefined) auth.unionid = session.unionid;
    if (session.anonymousOpenid !== undefined) auth.anonymousOpenid = session.anonymousOpenid;
    request.auth = auth;
  }

  /**
   * Admits a live Bearer token (answers 401 otherwise). With `inband`, a request with no
   * Authorization but an `X-WX-Login-Code` logs in on the way: code2Session, a new session under
   * the same caps, limits and errors as POST /login, the token in the answer's `X-WX-Token`. The
   * app is named by `X-WX-Login-Platform` / `X-WX-Login-Appid` as POST /login's body names it.
   */
  async function authenticate(request: FastifyRequest, reply: FastifyReply, inband: boolean) {
    const header = request.headers.authorization;
    const code = request.headers[HEADERS.loginCode];
    if (header === undefined && inband && code !== undefined) return inbandLogin(request, reply, code);
    if (header === undefined) return invalidToken(reply, 'Missing Authorization: Bearer <token> header.', false);
    const match = BEARER.exec(header);
    if (!match) return invalidToken(reply, 'Malformed Authorization header; expected "Bearer <token>".', true);
    const tokenHash = hashToken(match[1]);
    const session = await store.get(tokenHash);
    // The store checks the deadlines on its own clock; this checks the lifetime on the server's.
    const age = session ? now() - session.createdAt : Infinity;
    // A session of an app no longer served (or of the other configuration form) is no session.
    const loginApp = session ? appOfSession(session) : undefined;
    if (!session || !loginApp || age >= tokenTtlMs) return invalidToken(reply, 'Token unknown, expired or revoked.', true);
    admit(request, tokenHash, session, age >= renewAtMs && !session.renewed, loginApp);
  }

  /** One header's value: undefined when absent, null (after a 400) when repeated or empty. */
  function oneHeader(request: FastifyRequest, reply: FastifyReply, name: string, what: string): string | undefined | null {
    const value = request.headers[name];
    if (value === undefined) return undefined;
    if (typeof value === 'string' && value.length > 0 && value.length <= 64) return value;
    sendError(reply, 400, 'invalid_request', `${name} must be one ${what}.`);
    return null;
  }

  async function inbandLogin(request: FastifyRequest, reply: FastifyReply, code: string | string[]) {
    if (typeof code !== 'string' || code.length === 0 || code.length > schemas.code.maxLength) {
      return sendError(reply, 400, 'invalid_request', `${HEADERS.loginCode} must be one wx.login code.`);
    }
    const platform = oneHeader(request, reply, HEADERS.loginPlatform, "platform: 'wechat', 'douyin', 'alipay' or 'qq'");
    if (platform === null) return reply;
    const appid = oneHeader(request, reply, HEADERS.loginAppid, 'appid');
    if (appid === null) return reply;
    const loginApp = appNamed(reply, platform, appid);
    if (!loginApp) return reply;
    // The /auth routes' IP limit, in the same bucket: a code in a header is a login all the same.
    if (limits.ip) {
      const { count, resetMs } = await ipHit(request.ip, limits.ip.timeWindowMs);
      if (count > limits.ip.max) return rateLimited(reply, Math.max(1, Math.ceil(resetMs / 1000)));
    }
    const login = await exchange(request, reply, loginApp, code);
    if (!login) return reply;
    const { token, tokenHash, session } = await issueToken(request, sessionFields(login));
    tokenHeaders(reply, token);
    admit(request, tokenHash, session, false, loginApp);
  }

  /** `app.requireAuth` and the routes' own: a store failure is answered 503 here, whatever the route's error handler. */
  const guarded = (inband: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      await authenticate(request, reply, inband);
    } catch (err) {
      if (err instanceof StoreUnavailableError) return storeUnavailable(reply);
      throw err;
    }
  };
  // The app's routes take an in-band login; the plugin's revocation routes only a token.
  const requireAuth = guarded(true);
  const requireToken = guarded(false);

  // In-band renewal: the first 2xx answer to a token past renewAfter carries its successor; the
  // old token is marked renewed (so one renewal, whatever the concurrency) and dies after the grace.
  app.addHook('onSend', async (request, reply, payload) => {
    const found = admitted.get(request);
    if (!found?.renew || reply.statusCode < 200 || reply.statusCode >= 300) return payload;
    found.renew = false;
    try {
      if (!(await store.renew(found.tokenHash, renewGraceMs))) return payload;
      const { platform, appid, openid, unionid, session_key, anonymousOpenid } = found.session;
      const fields: Omit<Session, 'createdAt'> = { platform, appid, openid, unionid, session_key, anonymousOpenid };
      // The successor has the old session's fields, no more (no deadlines, no renewed mark), no undefined ones.
      for (const key of Object.keys(fields) as Array<keyof typeof fields>) if (fields[key] === undefined) delete fields[key];
      const { token } = await issueToken(request, fields, true);
      tokenHeaders(reply, token);
    } catch (err) {
      // The answer itself is good: send it; the client renews next time or logs in again.
      if (!(err instanceof StoreUnavailableError)) request.log.error({ err }, '[wx-login-kit] renewal failed');
    }
    return payload;
  });

  function sessionOf(request: FastifyRequest) {
    const found = admitted.get(request);
    if (!found) throw new Error('[wx-login-kit] this request went through no requireAuth; add { preHandler: app.requireAuth } to its route.');
    return found;
  }

  /** A user of `app.wxLogin`'s API as the store keys it (userKeyOf). */
  function userKey(user: WxLoginUser): string {
    const named = typeof user === 'string' ? { openid: user } : user;
    const found = resolveApp(loginApps, named.platform, named.appid);
    if (typeof found === 'string') {
      throw new Error(`[wx-login-kit] app.wxLogin: ${found} Pass { platform, appid, openid } (request.auth fits).`);
    }
    return single ? named.openid : userKeyOf({ platform: found.platform, appid: found.appid, openid: named.openid });
  }

  /** The user of the session `requireAuth` admitted, as the store keys it. */
  const userOf = (request: FastifyRequest) => userKeyOf(sessionOf(request).session);

  app.decorateRequest('auth', null);
  app.decorate('requireAuth', requireAuth);
  app.decorate('wxLogin', {
    sessionKey(request: FastifyRequest) {
      const key = sessionOf(request).session.session_key;
      if (key === undefined) throw new Error('[wx-login-kit] this session has no session_key: Alipay logins have none.');
      return key;
    },
    list: async (user: WxLoginUser) => store.list(userKey(user)),
    revoke: async (user: WxLoginUser, id: string) => store.revoke(userKey(user), id),
    revokeAll: async (user: WxLoginUser) => store.revokeAll(userKey(user)),
    wechat,
    store: given,
  } satisfies WxLoginApi);

  const openapiPath = opts.openapi ?? DEFAULTS.openapi;
  let contract: FastifyInstance | undefined;
  await app.register(
    async (routes) => {
      contract = routes;
      // Only here, not app-wide: the app's other routes keep its own error handler and parsers.
      routes.setErrorHandler(wxLoginErrorHandler);
      routes.removeContentTypeParser(['text/plain', 'application/json']);
      const parseJson = routes.getDefaultJsonParser('error', 'error');
      routes.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
        // An empty JSON body (what wx.request sends for a POST without data, e.g. logout) means
        // "no body", not a parse error.
        if (body === '') return done(null, undefined);
        parseJson(request, body as string, done);
      });
      await contractRoutes(routes);
    },
    { prefix: opts.prefix ?? DEFAULTS.prefix },
  );

  if (openapiPath) {
    app.get(openapiPath, { schema: { hide: true } }, async () => (contract as FastifyInstance & { swagger(): unknown }).swagger());
  }

  async function contractRoutes(routes: FastifyInstance) {
    if (openapiPath) {
      const swagger = (await optional(import('@fastify/swagger'), '@fastify/swagger', 'openapi: false')).default;
      await routes.register(swagger, { openapi: schemas.openapiInfo });
    }

    /** @fastify/rate-limit's store interface (`new Store(options)`, `incr`, `child`) over `store.hit`. */
    class IpCounter {
      incr(key: string, done: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindowMs: number) {
        ipHit(key, timeWindowMs).then(
          ({ count, resetMs }) => done(null, { current: count, ttl: resetMs }),
          (err: Error) => done(err),
        );
      }
      child() {
        return this;
      }
    }

    // Every answer of these routes: no MIME sniffing of the JSON.
    routes.addHook('onSend', async (_request, reply) => {
      reply.header('X-Content-Type-Options', 'nosniff');
    });

    if (limits.ip) {
      const rateLimit = (await optional(import('@fastify/rate-limit'), '@fastify/rate-limit', 'rateLimit: { ip: false }')).default;
      await routes.register(rateLimit, {
        max: limits.ip.max,
        timeWindow: limits.ip.timeWindowMs,
        // Counted in the session store (`hit`): in Redis with the Redis store, shared by every
        // instance, and bounded like every store call: an outage answers 503, never hangs.
        store: IpCounter as never,
        // The plugin's own error would be a bare 429; wxLoginErrorHandler answers it as JSON.
        errorResponseBuilder: (_request, context) => Object.assign(new Error('rate limited'), { statusCode: context.statusCode }),
      });
    }

    /**
     * Decrypts a button's encryptedData with this code's session_key (WeChat's and QQ's open data,
     * and Douyin's phone data, which is the same AES-128-CBC); on failure answers 400 and returns null.
     */
    function decrypt(reply: FastifyReply, login: Login, body: { encryptedData: string; iv: string }) {
      const { app: loginApp, identity } = login;
      const input = { sessionKey: identity.session_key!, encryptedData: body.encryptedData, iv: body.iv };
      try {
        return loginApp.douyin ? loginApp.douyin.decryptPhoneNumber(input) : decryptData({ ...input, appid: loginApp.appid });
      } catch (err) {
        if (!(err instanceof DecryptError)) throw err;
        sendError(reply, 400, err.code, `${err.message}. Keep a ${loginApp.loginCall} code from BEFORE the tap and send it with the data.`);
        return null;
      }
    }

    const bodyLimit = opts.bodyLimit ?? DEFAULTS.bodyLimit;
    // Revocation is never rate-limited: a stolen token spending the budget must not keep the
    // user from logging it out. The per-openid budget is the login bucket only.
    const revocation = { bodyLimit, preHandler: requireToken, config: { rateLimit: false as const } };

    routes.post('/login', { bodyLimit, schema: schemas.login }, async (request, reply) => {
      const body = request.body as { code: string; platform?: string; appid?: string; anonymousCode?: string };
      const loginApp = appNamed(reply, body.platform, body.appid);
      if (!loginApp) return reply;
      if (body.anonymousCode !== undefined && loginApp.platform !== 'douyin') {
        return sendError(reply, 400, 'invalid_request', "anonymousCode is Douyin's (tt.login's anonymousCode); send it only to a Douyin app.");
      }
      const login = await exchange(request, reply, loginApp, body.code, body.anonymousCode);
      return login ? noStore(reply).send(await loginAnswer(request, login)) : reply;
    });

    /** getuserphonenumber for a button's code, with `openid` to check it is that user's; on failure answers and returns null. */
    async function askPhone(request: FastifyRequest, reply: FastifyReply, client: WechatClient, phoneCode: string, openid?: string) {
      try {
        return await client.getUserPhoneNumber(phoneCode, openid);
      } catch (err) {
        request.log.warn({ errcode: err instanceof WechatApiError ? err.errcode : undefined, reason: (err as Error).name }, 'getuserphonenumber failed');
        if (err instanceof WechatApiError && err.errcode === 40029) {
          sendError(reply, 400, 'invalid_phone_code', "WeChat rejected the phone code (expired, already used, or another user's). Ask the user to tap the button again.");
          return null;
        }
        wechatFailureReply(reply, err);
        return null;
      }
    }

    /**
     * Opens what my.getPhoneNumber gave (`response`): Alipay's signature checked with the app's
     * alipayPublicKey, then AES with its aesKey. Alipay numbers are mainland ones: countryCode '86'.
     * On failure answers 4xx and returns null.
     * https://opendocs.alipay.com/mini/api/getphonenumber
     */
    function alipayPhone(request: FastifyRequest, reply: FastifyReply, loginApp: LoginApp, response: string) {
      const client = loginApp.alipay!;
      if (!client.aesKey) {
        sendError(reply, 400, 'invalid_request', `This server takes no phone numbers for Alipay app ${loginApp.appid}: it has no aesKey configured.`);
        return null;
      }
      try {
        const { mobile } = client.decryptPhone(response, client.aesKey);
        return { phoneNumber: mobile, purePhoneNumber: mobile, countryCode: '86' };
      } catch (err) {
        if (!(err instanceof AlipayPhoneError)) throw err;
        // bad_signature and decrypt_failed may be a wrong alipayPublicKey or aesKey: the operator sees the kind.
        request.log.warn({ platform: 'alipay', appid: loginApp.appid, reason: err.code }, 'my.getPhoneNumber response refused');
        if (err.code === 'refused') {
          sendError(reply, 403, 'phone_refused', 'Alipay gave no phone number for this response (is the phone number permission granted to the app?).');
        } else if (err.code === 'bad_response') {
          sendError(reply, 400, 'invalid_request', 'response is not what my.getPhoneNumber gives: send its res.response as it is.');
        } else {
          sendError(reply, 400, 'decrypt_failed', 'The phone response did not verify or decrypt with this app\'s keys. Ask the user to tap the button again.');
        }
        return null;
      }
    }

    type PhoneBody = { code?: string; platform?: string; appid?: string; phoneCode?: string; encryptedData?: string; iv?: string; response?: string };

    /** Which fields each platform's button gives; a body of another platform's shape is refused before any code is spent. */
    function phoneShapeError(loginApp: LoginApp, body: PhoneBody, withCode: boolean): string | undefined {
      if (loginApp.platform === 'qq') {
        return 'QQ has no phone-number button (no getPhoneNumber open-type): a QQ app logs in with POST /auth/login, and asks for a number in its own form if it needs one.';
      }
      if (loginApp.platform === 'alipay') {
        return body.response === undefined ? "An Alipay app's phone number comes as response (my.getPhoneNumber's res.response)." : undefined;
      }
      if (body.response !== undefined) return `response is Alipay's; a ${loginApp.platform === 'wechat' ? 'WeChat' : 'Douyin'} app sends ${loginApp.platform === 'wechat' ? 'phoneCode, or encryptedData and iv' : 'encryptedData and iv'}.`;
      if (loginApp.platform === 'douyin') {
        if (!withCode) return "Douyin's phone data needs the tt.login code from before the tap: send {code, encryptedData, iv}.";
        if (body.encryptedData === undefined || body.iv === undefined) return "A Douyin app sends the tap's encryptedData and iv (the code-based phone flow is not supported).";
      }
      return undefined;
    }

    routes.post('/phone', { bodyLimit, schema: schemas.phone }, async (request, reply) => {
      const body = request.body as PhoneBody;
      if (body.code === undefined) {
        // A logged-in user's tap: the number for the token's openid. No code2Session, no new
        // session, no wx.login spent (WeChat checks the phone code against the openid; Alipay's
        // response is signed by Alipay for this app).
        if (!body.phoneCode && body.response === undefined) {
          return sendError(reply, 400, 'invalid_request', 'Without a code, send phoneCode (the tap\'s detail.code) with your token; encryptedData needs a wx.login code from before the tap.');
        }
        await requireToken(request, reply);
        if (reply.sent) return reply;
        const loginApp = sessionOf(request).app;
        const shape = phoneShapeError(loginApp, body, false);
        if (shape) return sendError(reply, 400, 'invalid_request', shape);
        const bound = loginApp.alipay
          ? alipayPhone(request, reply, loginApp, body.response!)
          : await askPhone(request, reply, loginApp.wechat!, body.phoneCode!, request.auth!.openid);
        if (!bound) return reply;
        const { phoneNumber, purePhoneNumber, countryCode } = bound;
        return noStore(reply).send({ phoneNumber, purePhoneNumber, countryCode });
      }
      const loginApp = appNamed(reply, body.platform, body.appid);
      if (!loginApp) return reply;
      const shape = phoneShapeError(loginApp, body, true);
      if (shape) return sendError(reply, 400, 'invalid_request', shape);
      let phone: { phoneNumber?: unknown; purePhoneNumber?: unknown; countryCode?: unknown } | null = null;
      // Alipay's response needs no login to be checked: a bad one spends no authCode.
      if (loginApp.alipay) {
        phone = alipayPhone(request, reply, loginApp, body.response!);
        if (!phone) return reply;
      }
      const login = await exchange(request, reply, loginApp, body.code);
      if (!login) return reply;
      if (loginApp.wechat && body.phoneCode) {
        phone = await askPhone(request, reply, loginApp.wechat, body.phoneCode);
        if (!phone) return reply;
      } else if (!loginApp.alipay) {
        const data = decrypt(reply, login, body as { encryptedData: string; iv: string });
        if (!data) return reply;
        phone = data;
      }
      const { phoneNumber, purePhoneNumber, countryCode } = phone!;
      if (typeof phoneNumber !== 'string' || typeof purePhoneNumber !== 'string' || typeof countryCode !== 'string') {
        return sendError(reply, 400, 'decrypt_failed', 'The phone data has no phoneNumber, purePhoneNumber and countryCode.');
      }
      return noStore(reply).send({ ...(await loginAnswer(request, login)), phoneNumber, purePhoneNumber, countryCode });
    });

    routes.post('/profile', { bodyLimit, schema: schemas.profile }, async (request, reply) => {
      const body = request.body as { code: string; encryptedData: string; iv: string; platform?: string; appid?: string };
      const loginApp = appNamed(reply, body.platform, body.appid);
      if (!loginApp) return reply;
      // QQ's getUserInfo encryptedData is WeChat's: AES-128-CBC with the session_key, watermark.appid.
      if (loginApp.platform !== 'wechat' && loginApp.platform !== 'qq') {
        return sendError(reply, 400, 'invalid_request', "POST /auth/profile is WeChat's and QQ's getUserInfo flow; log this app's users in with POST /auth/login.");
      }
      const login = await exchange(request, reply, loginApp, body.code);
      if (!login) return reply;
      const data = decrypt(reply, login, body);
      if (!data) return reply;
      // Only display fields: openId/unionId in the data are not trusted (see the top of this file).
      const { nickName, avatarUrl, gender, language, city, province, country } = data as Record<string, unknown>;
      return noStore(reply).send({ ...(await loginAnswer(request, login)), userInfo: { nickName, avatarUrl, gender, language, city, province, country } });
    });

    routes.post('/logout', { ...revocation, schema: schemas.logout }, async (request) => {
      await store.delete(sessionOf(request).tokenHash);
      return { ok: true };
    });

    routes.post('/logout-all', { ...revocation, schema: schemas.logoutAll }, async (request) => ({
      revoked: await store.revokeAll(userOf(request)),
    }));

    routes.get('/sessions', { preHandler: requireToken, schema: schemas.sessions }, async (request, reply) => {
      const current = sessionOf(request).tokenHash;
      const sessions = await store.list(userOf(request));
      return noStore(reply).send({ sessions: sessions.map((s) => ({ ...s, current: s.id === current })) });
    });

    routes.delete('/sessions/:id', { ...revocation, schema: schemas.revoke }, async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!(await store.revoke(userOf(request), id))) return sendError(reply, 404, 'not_found', 'No live session of yours has that id. GET /auth/sessions lists them.');
      return { ok: true };
    });
  }
}

/** An optional peer dependency, or an error that says how to install it or turn its feature off. */
async function optional<T>(load: Promise<T>, name: string, off: string): Promise<T> {
  try {
    return await load;
  } catch (err) {
    if ((err as { code?: string }).code !== 'MODULE_NOT_FOUND' && (err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new Error(`[wx-login-kit] ${name} is not installed: npm i ${name}, or pass ${off} to wxLogin.`);
  }
}

/**
 * The plugin. Not encapsulated (like fastify-plugin's plugins), so `app.requireAuth`,
 * `app.wxLogin` and `request.auth` reach the app's own routes.
 */
export const wxLogin: FastifyPluginAsync<WxLoginOptions> = fp(plugin, { fastify: '5.x', name: 'wx-login-kit' });

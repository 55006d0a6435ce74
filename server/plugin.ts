/**
 * The server half of wx-login-kit as a fastify plugin: `app.register(wxLogin, { appid, secret })`.
 *
 * Routes, under `prefix` (default '/auth'); every body is JSON, every error `{error, message}`:
 *   POST   /login        {code}                                    -> {token, expiresIn}  (expiresIn in s)
 *   POST   /phone        {code, phoneCode | encryptedData + iv}    -> {token, expiresIn, phoneNumber, purePhoneNumber, countryCode}
 *                         Bearer + {phoneCode}: bind to the token's user -> {phoneNumber, purePhoneNumber, countryCode}
 *   POST   /profile      {code, encryptedData, iv}                 -> {token, expiresIn, userInfo}
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
 * token and sets `request.auth = {openid, unionid?}`; `app.wxLogin.sessionKey(request)` gives the
 * session_key for decrypting more of the user's data, server side only.
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
import { hashToken, newToken } from './crypto';
import { createAccessTokenClient } from './access-token';
import { createMemoryStore, StoreUnavailableError, type Session, type SessionInfo, type SessionStore } from './store';
import { guardStore } from './store-guard';
import { createWechatClient, WechatApiError, WechatUnreachableError, type Code2SessionResult, type WechatClient } from './wechat';
import { decryptData, DecryptError } from './wechat-crypto';
import * as schemas from './schemas';

/** A rate limit: at most `max` requests per `timeWindowMs`. */
export interface RateLimit {
  max: number;
  /** ms */
  timeWindowMs: number;
}

export interface WxLoginOptions {
  /** The mini program's AppID (mp.weixin.qq.com > 开发管理 > 开发设置). */
  appid: string;
  /** Its AppSecret. Never logged, never in a URL the plugin logs, never in an answer. */
  secret: string;
  /** WeChat's API, or the emulator's base URL in tests. @default 'https://api.weixin.qq.com' */
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
  /** Give up on WeChat after this many ms, per call. @default 5000 */
  timeoutMs?: number;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** The defaults of every optional `WxLoginOptions` field. */
export const DEFAULTS = {
  apiBase: 'https://api.weixin.qq.com',
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

/** What `requireAuth` puts on the request. No session_key: see `app.wxLogin.sessionKey`. */
export interface RequestAuth {
  openid: string;
  unionid?: string;
}

/** `app.wxLogin`: server-side access to sessions and WeChat. */
export interface WxLoginApi {
  /**
   * The session_key behind a request `requireAuth` admitted, to decrypt more of the user's data
   * (wx.getWeRunData, ...). Keep it server side.
   * @throws Error when the request went through no `requireAuth`
   */
  sessionKey(request: FastifyRequest): string;
  /** The openid's live sessions, oldest first (ASVS 7.5.2). */
  list(openid: string): Promise<SessionInfo[]>;
  /** Revokes one session by `SessionInfo.id`; false if the openid has no such session. */
  revoke(openid: string, id: string): Promise<boolean>;
  /** Revokes every session of the openid (ASVS 7.4.2); resolves to how many were live. */
  revokeAll(openid: string): Promise<number>;
  /** code2Session and getPhoneNumber, with the shared access_token. */
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

/** How each code2Session failure is answered to the mini program. */
function wechatFailure(reply: FastifyReply, err: unknown) {
  if (err instanceof WechatUnreachableError) {
    return sendError(reply, 502, 'wechat_unreachable', 'Could not reach WeChat to check the login code. Retry shortly.');
  }
  if (!(err instanceof WechatApiError)) throw err;
  switch (err.errcode) {
    case 40029:
    case 40163:
      return sendError(
        reply,
        401,
        'invalid_code',
        'WeChat rejected the login code (expired, already used, or issued to another app). Call wx.login again for a fresh code.',
      );
    case 45011:
      return sendError(
        reply.header('Retry-After', '60'),
        429,
        'rate_limited',
        err.api === 'code2Session'
          ? 'Too many logins for this user in the last minute. Retry after 60 seconds with a fresh wx.login code.'
          : `WeChat's per-minute quota of ${err.api} is spent. Retry after 60 seconds.`,
        { retryAfter: 60 },
      );
    case -1:
      return sendError(reply.header('Retry-After', '1'), 503, 'wechat_busy', 'WeChat is busy. Retry in a second.');
    case 40226:
      return sendError(reply, 403, 'user_blocked', 'WeChat flagged this user as high risk; login is refused.');
    default:
      return sendError(
        reply,
        502,
        'wechat_error',
        `WeChat refused ${err.api} with errcode ${err.errcode}; check the server's appid and secret.`,
        { errcode: err.errcode },
      );
  }
}

// RFC 6750 §2.1: "Bearer" (any case), one or more spaces, a b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** The session `requireAuth` found for a request, kept off the request object. */
const admitted = new WeakMap<FastifyRequest, { tokenHash: string; session: Session; renew: boolean }>();

/** The wire contract's headers (README "The contract"; /openapi.json). */
export const HEADERS = {
  /** Request: a wx.login code instead of a Bearer token: log in on the way (in-band login). */
  loginCode: 'x-wx-login-code',
  /** Answer: a new token, after an in-band login or a renewal. */
  token: 'X-WX-Token',
  /** Answer: its lifetime, s. */
  expiresIn: 'X-WX-Token-Expires-In',
} as const;

async function plugin(app: FastifyInstance, opts: WxLoginOptions): Promise<void> {
  if (!opts.appid || !opts.secret) {
    throw new Error('[wx-login-kit] wxLogin needs appid and secret (mp.weixin.qq.com > 开发管理 > 开发设置).');
  }
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
  try {
    new URL(apiBase);
  } catch {
    // A malformed base would put the secret-bearing code2Session URL into fetch's error.
    throw new Error('[wx-login-kit] wxLogin: apiBase must be an absolute URL such as https://api.weixin.qq.com.');
  }
  const limits = opts.rateLimit === false ? { ip: false as const, openid: false as const } : { ...DEFAULTS.rateLimit, ...opts.rateLimit };

  const accessTokens = createAccessTokenClient({
    apiBase,
    appid: opts.appid,
    secret: opts.secret,
    now,
    timeoutMs,
    fetch: opts.fetch,
    cache: store.accessTokenCache(opts.appid),
  });
  const wechat = createWechatClient({ apiBase, appid: opts.appid, secret: opts.secret, timeoutMs, fetch: opts.fetch, accessTokens });

  /**
   * The per-openid limit, counted in the store (so across instances on Redis), not by
   * @fastify/rate-limit: an app that registered that plugin first would hand us its own limiter
   * (its createRateLimit wins), with its allowList and its store. True when it answered 429.
   */
  const openidLimit = limits.openid;
  async function openidLimited(_request: FastifyRequest, reply: FastifyReply, openid: string): Promise<boolean> {
    if (!openidLimit) return false;
    const { count, resetMs } = await store.hit(`openid:${hashToken(openid).slice(0, 32)}`, openidLimit.timeWindowMs);
    if (count <= openidLimit.max) return false;
    rateLimited(reply, Math.max(1, Math.ceil(resetMs / 1000)));
    return true;
  }

  /** code2Session for `code`; on failure answers the client and returns null. */
  async function exchange(request: FastifyRequest, reply: FastifyReply, code: string): Promise<Code2SessionResult | null> {
    let result: Code2SessionResult;
    try {
      result = await wechat.code2Session(code);
    } catch (err) {
      request.log.warn({ errcode: err instanceof WechatApiError ? err.errcode : undefined, reason: (err as Error).name }, 'code2Session failed');
      wechatFailure(reply, err);
      return null;
    }
    return (await openidLimited(request, reply, result.openid)) ? null : result;
  }

  /**
   * A new 256-bit token for this session; only sha256(token) is stored. A renewal may hold one
   * session more than the cap for the old token's grace, so it revokes no other device.
   */
  async function issueToken(request: FastifyRequest, result: Code2SessionResult, renewal = false) {
    const token = newToken();
    const tokenHash = hashToken(token);
    const session: Session = { openid: result.openid, session_key: result.session_key, createdAt: now() };
    if (result.unionid !== undefined) session.unionid = result.unionid;
    const revoked = await store.create(tokenHash, session, { ttlMs: tokenTtlMs, idleMs, maxPerOpenid: maxPerOpenid + (renewal ? 1 : 0) });
    if (revoked.length > 0) request.log.info({ revoked: revoked.length }, 'oldest sessions of this openid revoked (maxSessionsPerOpenid)');
    return { token, expiresIn: tokenTtlSeconds, tokenHash, session };
  }

  /** What a login route answers: the token and its lifetime (s), nothing of the session. */
  async function loginAnswer(request: FastifyRequest, result: Code2SessionResult) {
    const { token, expiresIn } = await issueToken(request, result);
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

  function admit(request: FastifyRequest, tokenHash: string, session: Session & { renewed?: boolean }, renew: boolean) {
    admitted.set(request, { tokenHash, session, renew });
    request.auth = session.unionid === undefined ? { openid: session.openid } : { openid: session.openid, unionid: session.unionid };
  }

  /**
   * Admits a live Bearer token (answers 401 otherwise). With `inband`, a request with no
   * Authorization but an `X-WX-Login-Code` logs in on the way: code2Session, a new session under
   * the same caps, limits and errors as POST /login, the token in the answer's `X-WX-Token`.
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
    if (!session || age >= tokenTtlMs) return invalidToken(reply, 'Token unknown, expired or revoked.', true);
    admit(request, tokenHash, session, age >= renewAtMs && !session.renewed);
  }

  async function inbandLogin(request: FastifyRequest, reply: FastifyReply, code: string | string[]) {
    if (typeof code !== 'string' || code.length === 0 || code.length > schemas.code.maxLength) {
      return sendError(reply, 400, 'invalid_request', `${HEADERS.loginCode} must be one wx.login code.`);
    }
    // The /auth routes' IP limit, in the same bucket: a code in a header is a login all the same.
    if (limits.ip) {
      const { count, resetMs } = await ipHit(request.ip, limits.ip.timeWindowMs);
      if (count > limits.ip.max) return rateLimited(reply, Math.max(1, Math.ceil(resetMs / 1000)));
    }
    const result = await exchange(request, reply, code);
    if (!result) return reply;
    const { token, tokenHash, session } = await issueToken(request, result);
    tokenHeaders(reply, token);
    admit(request, tokenHash, session, false);
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
      const { token } = await issueToken(request, found.session, true);
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

  app.decorateRequest('auth', null);
  app.decorate('requireAuth', requireAuth);
  app.decorate('wxLogin', {
    sessionKey: (request: FastifyRequest) => sessionOf(request).session.session_key,
    list: (openid: string) => store.list(openid),
    revoke: (openid: string, id: string) => store.revoke(openid, id),
    revokeAll: (openid: string) => store.revokeAll(openid),
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

    /** Decrypts a button's encryptedData with this code's session_key; on failure answers 400 and returns null. */
    function decrypt(reply: FastifyReply, result: Code2SessionResult, body: { encryptedData: string; iv: string }) {
      try {
        return decryptData({ sessionKey: result.session_key, encryptedData: body.encryptedData, iv: body.iv, appid: opts.appid });
      } catch (err) {
        if (!(err instanceof DecryptError)) throw err;
        sendError(reply, 400, err.code, `${err.message}. Keep a wx.login code from BEFORE the tap and send it with the data.`);
        return null;
      }
    }

    const bodyLimit = opts.bodyLimit ?? DEFAULTS.bodyLimit;
    // Revocation is never rate-limited: a stolen token spending the budget must not keep the
    // user from logging it out. The per-openid budget is the login bucket only.
    const revocation = { bodyLimit, preHandler: requireToken, config: { rateLimit: false as const } };

    routes.post('/login', { bodyLimit, schema: schemas.login }, async (request, reply) => {
      const result = await exchange(request, reply, (request.body as { code: string }).code);
      return result ? noStore(reply).send(await loginAnswer(request, result)) : reply;
    });

    /** getuserphonenumber for a button's code, with `openid` to check it is that user's; on failure answers and returns null. */
    async function askPhone(request: FastifyRequest, reply: FastifyReply, phoneCode: string, openid?: string) {
      try {
        return await wechat.getUserPhoneNumber(phoneCode, openid);
      } catch (err) {
        request.log.warn({ errcode: err instanceof WechatApiError ? err.errcode : undefined, reason: (err as Error).name }, 'getuserphonenumber failed');
        if (err instanceof WechatApiError && err.errcode === 40029) {
          sendError(reply, 400, 'invalid_phone_code', "WeChat rejected the phone code (expired, already used, or another user's). Ask the user to tap the button again.");
          return null;
        }
        wechatFailure(reply, err);
        return null;
      }
    }

    routes.post('/phone', { bodyLimit, schema: schemas.phone }, async (request, reply) => {
      const body = request.body as { code?: string; phoneCode?: string; encryptedData?: string; iv?: string };
      if (body.code === undefined) {
        // A logged-in user's tap: the number for the token's openid. No code2Session, no new
        // session, no wx.login spent (WeChat checks the phone code against the openid).
        if (!body.phoneCode) {
          return sendError(reply, 400, 'invalid_request', 'Without a code, send phoneCode (the tap\'s detail.code) with your token; encryptedData needs a wx.login code from before the tap.');
        }
        await requireToken(request, reply);
        if (reply.sent) return reply;
        const bound = await askPhone(request, reply, body.phoneCode, request.auth!.openid);
        if (!bound) return reply;
        const { phoneNumber, purePhoneNumber, countryCode } = bound;
        return noStore(reply).send({ phoneNumber, purePhoneNumber, countryCode });
      }
      const result = await exchange(request, reply, body.code);
      if (!result) return reply;
      let phone: { phoneNumber?: unknown; purePhoneNumber?: unknown; countryCode?: unknown } | null;
      if (body.phoneCode) {
        phone = await askPhone(request, reply, body.phoneCode);
        if (!phone) return reply;
      } else {
        const data = decrypt(reply, result, body as { encryptedData: string; iv: string });
        if (!data) return reply;
        phone = data;
      }
      const { phoneNumber, purePhoneNumber, countryCode } = phone;
      if (typeof phoneNumber !== 'string' || typeof purePhoneNumber !== 'string' || typeof countryCode !== 'string') {
        return sendError(reply, 400, 'decrypt_failed', 'The phone data has no phoneNumber, purePhoneNumber and countryCode.');
      }
      return noStore(reply).send({ ...(await loginAnswer(request, result)), phoneNumber, purePhoneNumber, countryCode });
    });

    routes.post('/profile', { bodyLimit, schema: schemas.profile }, async (request, reply) => {
      const body = request.body as { code: string; encryptedData: string; iv: string };
      const result = await exchange(request, reply, body.code);
      if (!result) return reply;
      const data = decrypt(reply, result, body);
      if (!data) return reply;
      // Only display fields: openId/unionId in the data are not trusted (see the top of this file).
      const { nickName, avatarUrl, gender, language, city, province, country } = data;
      return noStore(reply).send({ ...(await loginAnswer(request, result)), userInfo: { nickName, avatarUrl, gender, language, city, province, country } });
    });

    routes.post('/logout', { ...revocation, schema: schemas.logout }, async (request) => {
      await store.delete(sessionOf(request).tokenHash);
      return { ok: true };
    });

    routes.post('/logout-all', { ...revocation, schema: schemas.logoutAll }, async (request) => ({
      revoked: await store.revokeAll(request.auth!.openid),
    }));

    routes.get('/sessions', { preHandler: requireToken, schema: schemas.sessions }, async (request, reply) => {
      const current = sessionOf(request).tokenHash;
      const sessions = await store.list(request.auth!.openid);
      return noStore(reply).send({ sessions: sessions.map((s) => ({ ...s, current: s.id === current })) });
    });

    routes.delete('/sessions/:id', { ...revocation, schema: schemas.revoke }, async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!(await store.revoke(request.auth!.openid, id))) return sendError(reply, 404, 'not_found', 'No live session of yours has that id. GET /auth/sessions lists them.');
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

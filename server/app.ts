/**
 * Reference developer server: exchanges a `wx.login` code for a bearer token and
 * guards API routes with it.
 *
 *   POST /auth/login   {code}                            -> 200 {token, expiresIn}   (expiresIn in seconds)
 *   POST /auth/phone   {code, phoneCode? | encryptedData, iv} -> 200 {token, expiresIn, phoneNumber, purePhoneNumber, countryCode}
 *   POST /auth/profile {code, encryptedData, iv}          -> 200 {token, expiresIn, userInfo}
 *   GET  /api/me       Bearer                            -> 200 {openid}
 *   POST /api/avatar   Bearer, multipart "avatar" image   -> 200 {id, url, mimeType, size}   (server/files.ts)
 *   GET  /api/files/:id Bearer, the owner only            -> 200 the bytes
 *   POST /auth/logout  Bearer                            -> 200 {ok: true}
 *
 * The openid always comes from code2Session, never from decrypted data: AES-CBC lets a client
 * rewrite the first plaintext block through the iv.
 *
 * Every error answer is JSON `{error, message, ...}`: `error` is a stable code for
 * programs, `message` says what failed and what to do. Never a stack, never a 500
 * for bad input. The token, session_key and app secret never appear in answers
 * (except the token in the login answer) nor in log lines.
 */
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { hashToken, newToken } from './crypto';
import { fileRoutes } from './files';
import { createMemoryStore, type Session, type SessionStore } from './store';
import { createWechatClient, WechatApiError, WechatUnreachableError, type Code2SessionResult } from './wechat';
import { decryptData, DecryptError } from './wechat-crypto';

export interface ServerOptions {
  /** Where and as which app to call code2Session. */
  wechat: { apiBase: string; appid: string; secret: string; timeoutMs?: number };
  /** @default createMemoryStore({ now }) */
  store?: SessionStore;
  /** Token lifetime in seconds. @default 7200 */
  tokenTtlSeconds?: number;
  /** Clock in ms since the epoch, used for token issue and expiry. @default Date.now */
  now?: () => number;
  /** false, true, or pino options (`redact` is extended, not replaced). @default false */
  logger?: boolean | Record<string, unknown>;
  /** Largest JSON request body, bytes. @default 16384 */
  bodyLimit?: number;
  /** Largest avatar upload (POST /api/avatar), bytes. @default 1048576 */
  maxAvatarBytes?: number;
}

/** What `requireAuth` puts on the request. */
export interface RequestAuth {
  /** sha256 hex of the bearer token: the store key. */
  tokenHash: string;
  session: Session;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireAuth`; null on routes that do not use it. */
    auth: RequestAuth | null;
  }
}

// Paths pino must blank out if a serializer ever logs them. The default request
// serializer logs no headers or bodies; this is the second belt.
const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'req.body', 'res.headers["set-cookie"]'];

// RFC 6750 §2.1: "Bearer" (any case), one or more spaces, a b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

function sendError(reply: FastifyReply, status: number, error: string, message: string, extra: object = {}) {
  return reply.code(status).send({ error, message, ...extra });
}

function invalidToken(reply: FastifyReply, message: string) {
  return sendError(
    reply.header('WWW-Authenticate', 'Bearer error="invalid_token"'),
    401,
    'invalid_token',
    `${message} Log in again (wx.login, then POST /auth/login) for a new token.`,
  );
}

/**
 * A preHandler that admits only requests with a live `Authorization: Bearer <token>`
 * and sets `request.auth`. Otherwise 401 `{error: 'invalid_token'}` with
 * `WWW-Authenticate: Bearer error="invalid_token"`.
 * A session older than `tokenTtlMs` by `now` is refused even if the store still
 * has it, so expiry follows the server clock whatever the store.
 */
export function createRequireAuth(store: SessionStore, tokenTtlMs: number, now: () => number) {
  return async function requireAuth(request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers.authorization;
    if (header === undefined) return invalidToken(reply, 'Missing Authorization: Bearer <token> header.');
    const match = BEARER.exec(header);
    if (!match) return invalidToken(reply, 'Malformed Authorization header; expected "Bearer <token>".');

    const tokenHash = hashToken(match[1]);
    const session = await store.get(tokenHash);
    if (!session) return invalidToken(reply, 'Token unknown, expired or revoked.');
    if (now() - session.createdAt >= tokenTtlMs) {
      await store.delete(tokenHash);
      return invalidToken(reply, 'Token unknown, expired or revoked.');
    }
    request.auth = { tokenHash, session };
  };
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
        'Too many logins for this user in the last minute. Retry after 60 seconds with a fresh wx.login code.',
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
        `WeChat refused code2Session with errcode ${err.errcode}; check the server's appid and secret.`,
        { errcode: err.errcode },
      );
  }
}

/** Maps fastify's own errors to 4xx JSON answers; anything else is a bare 500. */
function handleError(this: FastifyInstance, err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (err.validation) {
    return sendError(reply, 400, 'invalid_request', `Invalid request: ${err.message}. Send JSON {"code": "<code from wx.login>"}.`);
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return sendError(reply, 400, 'invalid_json', 'The body is not valid JSON. Send JSON {"code": "<code from wx.login>"}.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return sendError(reply, 413, 'body_too_large', 'The body is larger than this server accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return sendError(reply, 415, 'unsupported_media_type', 'Send the body as Content-Type: application/json.');
  }
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return sendError(reply, err.statusCode, 'invalid_request', 'The request could not be read. Check its headers and body.');
  }
  // Unexpected: log it for the operator, tell the client nothing about internals.
  request.log.error({ err }, 'unhandled error');
  return sendError(reply, 500, 'internal_error', 'The server failed unexpectedly. Retry later.');
}

function loggerOption(logger: ServerOptions['logger']): FastifyServerOptions['logger'] {
  if (!logger) return false;
  const given = logger === true ? {} : logger;
  const redact = given.redact;
  const paths = Array.isArray(redact) ? redact : (redact as { paths?: string[] } | undefined)?.paths ?? [];
  return { ...given, redact: [...paths, ...REDACT] };
}

export function buildServer(opts: ServerOptions): FastifyInstance {
  const now = opts.now ?? Date.now;
  const store = opts.store ?? createMemoryStore({ now });
  const tokenTtlSeconds = opts.tokenTtlSeconds ?? 7200;
  const tokenTtlMs = tokenTtlSeconds * 1000;
  const wechat = createWechatClient(opts.wechat);
  const requireAuth = createRequireAuth(store, tokenTtlMs, now);

  const app = Fastify({
    logger: loggerOption(opts.logger),
    bodyLimit: opts.bodyLimit ?? 16384,
    // fastify's default ajv coerces types, which would turn {"code": 123} into "123".
    ajv: { customOptions: { coerceTypes: false } },
  });

  app.decorateRequest('auth', null);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}.`),
  );

  // Only JSON is accepted: text/plain bodies must get 415, not reach validation as strings.
  app.removeContentTypeParser(['text/plain', 'application/json']);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // An empty JSON body (what some clients send for a POST without data, e.g. logout)
    // means "no body", not a parse error; validation still rejects it where a body is needed.
    if (body === '') return done(null, undefined);
    parseJson(request, body as string, done);
  });

  /** code2Session for `code`; on failure answers the client and returns null. */
  async function exchange(request: FastifyRequest, reply: FastifyReply, code: string): Promise<Code2SessionResult | null> {
    try {
      return await wechat.code2Session(code);
    } catch (err) {
      request.log.warn(
        { errcode: err instanceof WechatApiError ? err.errcode : undefined, reason: (err as Error).name },
        'code2Session failed',
      );
      wechatFailure(reply, err);
      return null;
    }
  }

  /** A new 256-bit token for this session; only sha256(token) is stored. */
  async function issueToken(result: Code2SessionResult) {
    const token = newToken();
    const session: Session = { openid: result.openid, session_key: result.session_key, createdAt: now() };
    if (result.unionid !== undefined) session.unionid = result.unionid;
    await store.set(hashToken(token), session, tokenTtlMs);
    return { token, expiresIn: tokenTtlSeconds };
  }

  /** Decrypts a button's encryptedData with this code's session_key; on failure answers 400 and returns null. */
  function decrypt(reply: FastifyReply, result: Code2SessionResult, body: { encryptedData: string; iv: string }) {
    try {
      return decryptData({ sessionKey: result.session_key, encryptedData: body.encryptedData, iv: body.iv, appid: opts.wechat.appid });
    } catch (err) {
      if (!(err instanceof DecryptError)) throw err;
      sendError(reply, 400, err.code, `${err.message}. Keep a wx.login code from BEFORE the tap and send it with the data.`);
      return null;
    }
  }

  const code = { type: 'string', minLength: 1, maxLength: 128 } as const;
  const encrypted = {
    encryptedData: { type: 'string', minLength: 1, maxLength: 8192 },
    iv: { type: 'string', minLength: 1, maxLength: 64 },
  } as const;

  app.post(
    '/auth/login',
    { schema: { body: { type: 'object', required: ['code'], properties: { code } } } },
    async (request, reply) => {
      const result = await exchange(request, reply, (request.body as { code: string }).code);
      return result && issueToken(result);
    },
  );

  app.post(
    '/auth/phone',
    {
      schema: {
        body: {
          type: 'object',
          required: ['code'],
          properties: { code, phoneCode: { type: 'string', minLength: 1, maxLength: 256 }, ...encrypted },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { code: string; phoneCode?: string; encryptedData?: string; iv?: string };
      if (!body.phoneCode && !(body.encryptedData && body.iv)) {
        return sendError(reply, 400, 'invalid_request', 'Send phoneCode (detail.code of getPhoneNumber), or encryptedData and iv, with the login code.');
      }
      const result = await exchange(request, reply, body.code);
      if (!result) return reply;
      let phone: { phoneNumber?: unknown; purePhoneNumber?: unknown; countryCode?: unknown };
      if (body.phoneCode) {
        try {
          phone = await wechat.getUserPhoneNumber(body.phoneCode);
        } catch (err) {
          request.log.warn({ errcode: err instanceof WechatApiError ? err.errcode : undefined, reason: (err as Error).name }, 'getuserphonenumber failed');
          if (err instanceof WechatApiError && err.errcode === 40029) {
            return sendError(reply, 400, 'invalid_phone_code', 'WeChat rejected the phone code (expired or already used). Ask the user to tap the button again.');
          }
          return wechatFailure(reply, err);
        }
      } else {
        const data = decrypt(reply, result, body as { encryptedData: string; iv: string });
        if (!data) return reply;
        phone = data;
      }
      const { phoneNumber, purePhoneNumber, countryCode } = phone;
      if (typeof phoneNumber !== 'string' || typeof purePhoneNumber !== 'string' || typeof countryCode !== 'string') {
        return sendError(reply, 400, 'decrypt_failed', 'The phone data has no phoneNumber, purePhoneNumber and countryCode.');
      }
      return { ...(await issueToken(result)), phoneNumber, purePhoneNumber, countryCode };
    },
  );

  app.post(
    '/auth/profile',
    { schema: { body: { type: 'object', required: ['code', 'encryptedData', 'iv'], properties: { code, ...encrypted } } } },
    async (request, reply) => {
      const body = request.body as { code: string; encryptedData: string; iv: string };
      const result = await exchange(request, reply, body.code);
      if (!result) return reply;
      const data = decrypt(reply, result, body);
      if (!data) return reply;
      // Only display fields: openId/unionId in the data are not trusted (see the top of this file).
      const { nickName, avatarUrl, gender, language, city, province, country } = data;
      return { ...(await issueToken(result)), userInfo: { nickName, avatarUrl, gender, language, city, province, country } };
    },
  );

  app.get('/api/me', { preHandler: requireAuth }, async (request) => ({ openid: request.auth!.session.openid }));
  void app.register(fileRoutes, { requireAuth, sendError, maxAvatarBytes: opts.maxAvatarBytes });

  app.post('/auth/logout', { preHandler: requireAuth }, async (request) => {
    await store.delete(request.auth!.tokenHash);
    return { ok: true };
  });

  return app;
}

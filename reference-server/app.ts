/**
 * The reference developer server: the wxLogin plugin (wx-login-kit/server) plus the demo's own
 * routes, as a user's server would be. `npm run dev` runs it (./main.ts), the demo and tests build it.
 *
 *   /auth/*             the plugin's contract (see server/plugin.ts), /openapi.json
 *   GET  /api/me        Bearer                             -> 200 {openid}
 *   POST /api/avatar    Bearer, multipart "avatar" image   -> 200 {id, url, mimeType, size}   (./files.ts)
 *   GET  /api/files/:id Bearer, the owner only             -> 200 the bytes
 *   POST /api/profile   Bearer, {nickname, avatarId?}      -> 200 {openid, nickname, avatarUrl}
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { wxLogin, wxLoginErrorHandler, type WxLoginOptions } from '../server';
import { fileRoutes } from './files';

export interface ServerOptions extends Omit<WxLoginOptions, 'appid' | 'secret' | 'apiBase' | 'timeoutMs'> {
  /** Where and as which app to call code2Session. */
  wechat: { apiBase: string; appid: string; secret: string; timeoutMs?: number };
  /** false, true, or pino options (`redact` is extended, not replaced). @default false */
  logger?: boolean | Record<string, unknown>;
  /** Largest avatar upload (POST /api/avatar), bytes. @default 1048576 */
  maxAvatarBytes?: number;
}

// Paths pino must blank out. The default request serializer logs no headers or bodies; but
// @fastify/multipart logs the headers it hands busboy (trace), and fastify logs the raw bytes of a
// request node could not parse (`err.rawPacket`, trace), the Authorization header among them.
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body',
  'res.headers["set-cookie"]',
  'busboyOptions.headers.authorization',
  'busboyOptions.headers.cookie',
  'err.rawPacket',
  // ioredis errors carry the failed command's arguments; the Redis store strips them already.
  'err.command.args',
];

function loggerOption(logger: ServerOptions['logger']): FastifyServerOptions['logger'] {
  if (!logger) return false;
  const given = logger === true ? {} : logger;
  const redact = given.redact;
  const paths = Array.isArray(redact) ? redact : (redact as { paths?: string[] } | undefined)?.paths ?? [];
  return { ...given, redact: [...paths, ...REDACT] };
}

export function buildServer(opts: ServerOptions): FastifyInstance {
  const { wechat, logger, maxAvatarBytes, ...plugin } = opts;
  const app = Fastify({
    logger: loggerOption(logger),
    // fastify's default ajv coerces types, which would turn {"code": 123} into "123".
    ajv: { customOptions: { coerceTypes: false } },
    // A URL fastify cannot route (bad %-encoding, a param over maxParamLength) gets the same JSON errors.
    frameworkErrors: wxLoginErrorHandler,
  });
  // The plugin's JSON errors for the app's own routes too.
  app.setErrorHandler(wxLoginErrorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `No route ${request.method} ${request.url.split('?')[0]}.` }),
  );

  void app.register(wxLogin, { ...plugin, appid: wechat.appid, secret: wechat.secret, apiBase: wechat.apiBase, timeoutMs: wechat.timeoutMs });
  void app.after(() => {
    app.get('/api/me', { preHandler: app.requireAuth }, async (request) => ({ openid: request.auth!.openid }));
  });
  void app.register(fileRoutes, { maxAvatarBytes });
  return app;
}

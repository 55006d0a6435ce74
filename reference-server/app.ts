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
import type { Server } from 'node:http';
import Fastify, { type FastifyHttpOptions, type FastifyInstance } from 'fastify';
import { serverOptions, wxLogin, wxLoginErrorHandler, type WxLoginOptions } from '../server';
import { fileRoutes } from './files';

export interface ServerOptions extends Omit<WxLoginOptions, 'appid' | 'secret' | 'apiBase' | 'timeoutMs'> {
  /** Where and as which app to call code2Session. Or, instead, `apps` (several apps, of any platform: see WxLoginOptions). */
  wechat?: { apiBase: string; appid: string; secret: string; timeoutMs?: number };
  /** false, true, or pino options (serverOptions adds its redactions to `redact`). @default false */
  logger?: boolean | Record<string, unknown>;
  /** Largest avatar upload (POST /api/avatar), bytes. @default 1048576 */
  maxAvatarBytes?: number;
  /** More Fastify constructor options (e.g. `requestTimeout`), through serverOptions. */
  fastify?: Omit<FastifyHttpOptions<Server>, 'logger'>;
}

export function buildServer(opts: ServerOptions): FastifyInstance {
  const { wechat, logger, maxAvatarBytes, fastify, ...plugin } = opts;
  // Timeouts, log redactions, JSON errors for unroutable URLs, no type coercion: see serverOptions.
  const app = Fastify(serverOptions({ ...fastify, logger: logger ?? false }));
  // The plugin's JSON errors for the app's own routes too.
  app.setErrorHandler(wxLoginErrorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `No route ${request.method} ${request.url.split('?')[0]}.` }),
  );

  void app.register(wxLogin, wechat ? { ...plugin, appid: wechat.appid, secret: wechat.secret, apiBase: wechat.apiBase, timeoutMs: wechat.timeoutMs } : plugin);
  void app.after(() => {
    app.get('/api/me', { preHandler: app.requireAuth }, async (request) => ({ openid: request.auth!.openid }));
  });
  void app.register(fileRoutes, { maxAvatarBytes });
  return app;
}

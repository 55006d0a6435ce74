/**
 * `serverOptions()`: the Fastify constructor options a login server needs, filled into the app's
 * own. The plugin cannot set them: they belong to `Fastify({...})`, before any plugin runs.
 *
 *   const app = Fastify(serverOptions({ logger: true, trustProxy: true }));
 *
 * What it fills in (an option the app sets itself wins, 0 included, but for the log redactions,
 * which add up):
 * - timeouts: fastify's defaults are 0, so a client sending its body a byte at a time holds a
 *   connection for ever (slowloris). Node checks `requestTimeout` (and `headersTimeout`, no longer
 *   than it) every `http.connectionsCheckingInterval` ms, so a slow client is cut within the sum
 *   of the two and answered 408.
 * - `frameworkErrors: wxLoginErrorHandler`: a URL fastify cannot route gets the contract's JSON.
 * - ajv without type coercion: `{"code": 123}` is a 400, not the code "123".
 * - logging: the Authorization and Cookie headers, X-WX-Login-Code, the raw bytes of unparsable
 *   requests (`err.rawPacket`, trace), the headers @fastify/multipart logs (trace) and ioredis's
 *   command arguments are redacted; tokens in a query string (`?access_token=…`) are cut from
 *   `req.url` and from any message string (fastify's default 404 logs the URL).
 */
import type { Server } from 'node:http';
import type { FastifyHttpOptions, FastifyServerOptions } from 'fastify';
import { wxLoginErrorHandler } from './plugin';

/** What `serverOptions` fills in where the app set nothing. Times in ms. */
export const SERVER_DEFAULTS = {
  /** Whole request, headers and body (uploads included), ms. */
  requestTimeout: 30_000,
  /** How often Node looks for requests past `requestTimeout`, ms. */
  connectionsCheckingInterval: 2_000,
  /** A socket with no bytes either way for this long is closed (a client that stops reading), ms. */
  connectionTimeout: 60_000,
  /** An idle keep-alive socket is closed after this long; above the 60 s of common load balancers, ms. */
  keepAliveTimeout: 72_000,
} as const;

/** Paths pino blanks out in every log line. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-wx-login-code"]',
  'req.body',
  'res.headers["set-cookie"]',
  'res.headers["x-wx-token"]',
  'busboyOptions.headers.authorization',
  'busboyOptions.headers.cookie',
  'busboyOptions.headers["x-wx-login-code"]',
  'err.rawPacket',
  'err.command.args',
];

// Query parameters that carry a credential: cut wherever a URL shows up in a log line.
const SECRET_PARAMS = /([?&;](?:access_token|token|id_token|refresh_token|code|js_code|secret|session_key|signature)=)[^&#\s"']*/gi;

/** `url` with the values of credential-bearing query parameters replaced by `[Redacted]`. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[Redacted]');
}

type LoggerOptions = Exclude<FastifyServerOptions['logger'], boolean | undefined> & {
  redact?: string[] | { paths: string[]; censor?: unknown; remove?: boolean };
  serializers?: Record<string, (value: never) => unknown>;
  hooks?: { logMethod?: (this: unknown, args: unknown[], method: (...args: unknown[]) => void, level: number) => void };
};

function loggerOptions(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === undefined || logger === false) return logger;
  const given = (logger === true ? {} : logger) as LoggerOptions;
  const redact = given.redact;
  const paths = [...(Array.isArray(redact) ? redact : (redact?.paths ?? [])), ...REDACT];
  const serializers = given.serializers ?? {};
  const ownReq = serializers.req as ((req: never) => Record<string, unknown>) | undefined;
  const ownLogMethod = given.hooks?.logMethod;
  return {
    ...given,
    redact: Array.isArray(redact) || redact === undefined ? paths : { ...redact, paths },
    serializers: {
      ...serializers,
      req(req: { method: string; url: string; host?: string; ip?: string; headers?: Record<string, unknown>; socket?: { remotePort?: number } }) {
        const out = ownReq
          ? ownReq(req as never)
          : { method: req.method, url: req.url, version: req.headers?.['accept-version'], host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
        return typeof out?.url === 'string' ? { ...out, url: redactUrl(out.url) } : out;
      },
    },
    hooks: {
      ...given.hooks,
      logMethod(args, method, level) {
        const clean = args.map((arg) => (typeof arg === 'string' ? redactUrl(arg) : arg));
        return ownLogMethod ? ownLogMethod.call(this, clean, method, level) : method.apply(this, clean as never);
      },
    },
  } as FastifyServerOptions['logger'];
}

/**
 * The app's Fastify options with what a login server needs filled in (see the top of this file
 * and `SERVER_DEFAULTS`). `logger` keeps everything the app set (level, stream, transport,
 * serializers, hooks); the redactions above are added to its own. A `loggerInstance` (a pino
 * logger the app made) is passed through as it is: give it the same redactions yourself.
 * Fastify docs: https://fastify.dev/docs/latest/Reference/Server/
 */
export function serverOptions(options: FastifyHttpOptions<Server> = {}): FastifyHttpOptions<Server> {
  const given = options;
  const ajv = given.ajv ?? {};
  const requestTimeout = given.requestTimeout ?? SERVER_DEFAULTS.requestTimeout;
  return {
    ...options,
    requestTimeout,
    connectionTimeout: given.connectionTimeout ?? SERVER_DEFAULTS.connectionTimeout,
    keepAliveTimeout: given.keepAliveTimeout ?? SERVER_DEFAULTS.keepAliveTimeout,
    // Node checks requestTimeout only where headersTimeout (default 60 s) is not longer than it,
    // and fastify sets it after the server exists: hand both to the constructor as well.
    http: {
      requestTimeout,
      connectionsCheckingInterval: SERVER_DEFAULTS.connectionsCheckingInterval,
      ...given.http,
      headersTimeout: Math.min(requestTimeout, given.http?.headersTimeout ?? requestTimeout),
    },
    frameworkErrors: given.frameworkErrors ?? wxLoginErrorHandler,
    ajv: { ...ajv, customOptions: { coerceTypes: false, ...ajv.customOptions } } as FastifyServerOptions['ajv'],
    logger: loggerOptions(given.logger),
  };
}

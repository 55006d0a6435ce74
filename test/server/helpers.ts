import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildServer, type ServerOptions } from '../../reference-server/app';
import { buildEmulator, type Emulator, type EmulatorOptions } from '../../emulator';

export const APPID = 'wxtest0000000001';
export const SECRET = 'test-secret-0123456789abcdef';
export const OTHER_APPID = 'wxtest0000000002';
export const OTHER_SECRET = 'other-secret-fedcba9876543210';

/** A clock tests move by hand: no sleeps, no fake timers. */
export function manualClock(start = Date.UTC(2025, 0, 1)) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

export type Clock = ReturnType<typeof manualClock>;

export async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' });
}

/**
 * Starts an emulator knowing APPID and OTHER_APPID, on its own manual clock. `requests` lists
 * every request it received as 'METHOD /path' (no query string), oldest first.
 */
export async function startEmulator(opts: Partial<EmulatorOptions> = {}) {
  const clock = manualClock();
  const emulator = buildEmulator({ apps: { [APPID]: SECRET, [OTHER_APPID]: OTHER_SECRET }, now: clock.now, ...opts });
  const requests: string[] = [];
  emulator.app.addHook('onRequest', async (req) => {
    requests.push(`${req.method} ${req.url.split('?')[0]}`);
  });
  const url = await listen(emulator.app);
  return { emulator, url, clock, requests, close: () => emulator.app.close() };
}

/** Plays wx.login against the emulator. */
export async function wxLogin(emulatorUrl: string, user = 'alice', appid = APPID): Promise<string> {
  const res = await fetch(`${emulatorUrl}/emulator/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ appid, user }),
  });
  if (res.status !== 200) throw new Error(`emulator login answered ${res.status}`);
  return ((await res.json()) as { code: string }).code;
}

export interface Harness {
  emulator: Emulator;
  /** Every request the emulator received, 'METHOD /path', oldest first. */
  emulatorRequests: string[];
  emulatorUrl: string;
  emulatorClock: Clock;
  server: FastifyInstance;
  serverUrl: string;
  serverClock: Clock;
  /** wx.login as `user` then POST /auth/login; resolves to the raw response. */
  login(user?: string): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Emulator + reference server wired together, each on an ephemeral port with its own clock.
 * `serverOpts` may be a function of the server's clock (e.g. for a store on the same clock).
 */
export async function startStack(serverOpts: Partial<ServerOptions> | ((serverClock: Clock) => Partial<ServerOptions>) = {}): Promise<Harness> {
  const emu = await startEmulator();
  const serverClock = manualClock();
  const server = buildServer({
    wechat: { apiBase: emu.url, appid: APPID, secret: SECRET },
    now: serverClock.now,
    ...(typeof serverOpts === 'function' ? serverOpts(serverClock) : serverOpts),
  });
  const serverUrl = await listen(server);
  return {
    emulator: emu.emulator,
    emulatorRequests: emu.requests,
    emulatorUrl: emu.url,
    emulatorClock: emu.clock,
    server,
    serverUrl,
    serverClock,
    async login(user = 'alice') {
      const code = await wxLogin(emu.url, user);
      return postJson(`${serverUrl}/auth/login`, { code });
    },
    async close() {
      await server.close();
      await emu.close();
    },
  };
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** Every log line a server writes (its logger's `stream`), as text. */
export function logLines(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

/** POST /auth/login of the server at `url` with `code`, naming the app; resolves to the token, throws on any answer but 200. */
export async function loginWith(url: string, code: string, platform: string, appid: string): Promise<string> {
  const res = await postJson(`${url}/auth/login`, { code, platform, appid });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`login answered ${res.status} ${JSON.stringify(body)}`);
  return body.token as string;
}

/** The `Authorization` header of a token. */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** An answer's status, headers and JSON body. */
async function answer(res: Response) {
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** GET /api/me of the server at `s.url` with these headers. */
export async function me(s: { url: string }, headers: Record<string, string>) {
  return answer(await fetch(`${s.url}/api/me`, { headers }));
}

/** POST `body` as JSON to `path` of the server at `s.url`. */
export async function post(s: { url: string }, path: string, body: unknown, headers: Record<string, string> = {}) {
  return answer(await postJson(`${s.url}${path}`, body, headers));
}

/** The error a promise rejects with; fails the test when it resolves. */
export async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

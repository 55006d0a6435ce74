/**
 * The server under faults and abuse, over real sockets: a real redis-server killed, stalled
 * (SIGSTOP) and restarted under a client with ioredis's defaults; clients sending a body a byte at
 * a time; tokens in query strings; a WeChat answering megabytes; the memory store at its cap.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { buildServer } from '../../reference-server/app';
import { createMemoryStore, createRedisStore, serverOptions, StoreUnavailableError, wxLogin } from '../../server';
import { startRedis, type TestRedis } from '../support/redis';
import { APPID, SECRET, bearer, listen, postJson, startEmulator, wxLogin as emulatorLogin } from './helpers';

type Body = Record<string, unknown>;

/** Log lines a server writes, parsed. */
function logSink() {
  const lines: Body[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Body);
      done();
    },
  });
  return { lines, stream };
}

async function timed<T>(send: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await send();
  return { value, ms: performance.now() - start };
}

async function expectStoreUnavailable(res: Response) {
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('5');
  const body = (await res.json()) as Body;
  expect(body).toEqual({ error: 'store_unavailable', message: expect.stringContaining('Retry after'), retryAfter: 5 });
  // Never the client library's own words.
  expect(JSON.stringify(body)).not.toMatch(/ioredis|ECONNREFUSED|Connection|timed out|Redis/i);
}

/** Resolves on the client's next `event`. */
const next = (client: Redis, event: string) => new Promise<void>((resolve) => client.once(event, () => resolve()));

describe('Redis faults, with a client on ioredis defaults', () => {
  let redis: TestRedis;
  let client: Redis;
  let emu: Awaited<ReturnType<typeof startEmulator>>;
  let app: FastifyInstance;
  let url: string;
  let log: ReturnType<typeof logSink>;

  beforeEach(async () => {
    redis = await startRedis();
    client = redis.client(); // ioredis defaults: offline queue, 20 retries per request
    emu = await startEmulator();
    log = logSink();
    app = buildServer({
      wechat: { apiBase: emu.url, appid: APPID, secret: SECRET },
      store: createRedisStore({ redis: client }),
      logger: { level: 'info', stream: log.stream },
    });
    // The app's own route with its own error handler: requireAuth still answers 503 itself.
    app.register(async (own) => {
      own.setErrorHandler((_err, _request, reply) => reply.code(500).send({ own: true }));
      own.get('/own/me', { preHandler: app.requireAuth }, async (request) => request.auth);
    });
    url = await listen(app);
  });

  afterEach(async () => {
    await app.close();
    await emu.close();
    await redis.stop();
  });

  async function login(user = 'alice'): Promise<Response> {
    return postJson(`${url}/auth/login`, { code: await emulatorLogin(emu.url, user) });
  }

  const warnings = () => log.lines.filter((l) => (l.level as number) >= 40);

  it('killed: 503 store_unavailable within 2 s on requireAuth (the app’s routes too) and /auth/*, one warning, then back without a restart', async () => {
    const token = ((await (await login()).json()) as { token: string }).token;
    expect((await fetch(`${url}/api/me`, { headers: bearer(token) })).status).toBe(200);

    await redis.kill();
    const first = await timed(() => fetch(`${url}/api/me`, { headers: bearer(token) }));
    await expectStoreUnavailable(first.value);
    expect(first.ms).toBeLessThan(2000);
    for (let i = 0; i < 5; i++) {
      await expectStoreUnavailable(await fetch(`${url}/api/me`, { headers: bearer(token) }));
      await expectStoreUnavailable(await fetch(`${url}/own/me`, { headers: bearer(token) }));
      await expectStoreUnavailable(await login());
      await expectStoreUnavailable(await postJson(`${url}/auth/logout`, {}, bearer(token)));
    }
    // 21 requests answered 503, one line said so, none with a stack.
    expect(warnings().map((l) => l.msg)).toEqual(['[wx-login-kit] session store unavailable: answering 503 store_unavailable until it is back']);
    expect(log.lines.some((l) => JSON.stringify(l).includes('"stack"'))).toBe(false);

    const ready = next(client, 'ready');
    await redis.restart();
    await ready;
    // An empty Redis (no persistence): the old token is gone, a login works again.
    expect((await fetch(`${url}/api/me`, { headers: bearer(token) })).status).toBe(401);
    const again = await login();
    expect(again.status).toBe(200);
    expect(warnings().map((l) => l.msg)).toEqual([
      '[wx-login-kit] session store unavailable: answering 503 store_unavailable until it is back',
      '[wx-login-kit] session store available again',
    ]);
    expect(warnings()[1]).toMatchObject({ failed: expect.any(Number), outageMs: expect.any(Number) });
  });

  it('stalled (SIGSTOP): 503 within 2 s, not a hang; answers again on SIGCONT with the data intact', async () => {
    const token = ((await (await login()).json()) as { token: string }).token;
    redis.pause();
    try {
      const stalled = await timed(() => fetch(`${url}/api/me`, { headers: bearer(token) }));
      await expectStoreUnavailable(stalled.value);
      // The command timeout (1 s), not the 10 s of the stall or ioredis's own retries.
      expect(stalled.ms).toBeGreaterThanOrEqual(900);
      expect(stalled.ms).toBeLessThan(2000);
      await expectStoreUnavailable(await login());
    } finally {
      redis.resume();
    }
    expect((await fetch(`${url}/api/me`, { headers: bearer(token) })).status).toBe(200);
    expect(warnings().map((l) => l.msg)).toEqual([
      '[wx-login-kit] session store unavailable: answering 503 store_unavailable until it is back',
      '[wx-login-kit] session store available again',
    ]);
  });
});

describe('Redis unreachable at start-up', () => {
  it('fails ready() (and so listen()) within the connect timeout, saying so', async () => {
    const redis = await startRedis();
    await redis.kill();
    const client = redis.client();
    const app = Fastify();
    await app.register(wxLogin, { appid: APPID, secret: SECRET, store: createRedisStore({ redis: client, connectTimeoutMs: 300 }), rateLimit: false, openapi: false });
    try {
      const err = await app.ready().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect(String(err)).toMatch(/could not connect to Redis within 300 ms/);
    } finally {
      client.disconnect();
      await app.close().catch(() => undefined);
      await redis.stop();
    }
  });
});

describe('slow clients', () => {
  it('a body sent a byte at a time is cut at requestTimeout, while other requests are answered', async () => {
    const emu = await startEmulator();
    const app = Fastify(serverOptions({ requestTimeout: 1000, http: { connectionsCheckingInterval: 100 } }));
    await app.register(wxLogin, { appid: APPID, secret: SECRET, apiBase: emu.url, rateLimit: false, openapi: false });
    const url = new URL(await listen(app));
    const SLOW = 20;
    const sockets: net.Socket[] = [];
    const drips: NodeJS.Timeout[] = [];
    try {
      const started = performance.now();
      const closed = Array.from({ length: SLOW }, () => {
        const socket = net.connect(Number(url.port), url.hostname);
        sockets.push(socket);
        let answer = '';
        socket.on('data', (chunk) => (answer += chunk));
        socket.write(`POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
        // The client's own pace, not a wait in the test: one byte every 50 ms, for ever.
        drips.push(setInterval(() => socket.writable && socket.write(' '), 50));
        return new Promise<{ answer: string; ms: number }>((resolve) => socket.on('close', () => resolve({ answer, ms: performance.now() - started })));
      });
      // Meanwhile a real login is answered.
      const res = await postJson(`${url.origin}/auth/login`, { code: await emulatorLogin(emu.url) });
      expect(res.status).toBe(200);

      const results = await Promise.all(closed);
      for (const { answer, ms } of results) {
        expect(answer).toMatch(/^HTTP\/1\.1 408/);
        expect(ms).toBeGreaterThanOrEqual(1000);
      }
      expect(sockets.filter((s) => !s.destroyed)).toHaveLength(0);
    } finally {
      drips.forEach(clearInterval);
      sockets.forEach((s) => s.destroy());
      await app.close();
      await emu.close();
    }
  });

  it('serverOptions keeps the app’s own options and fills the timeouts a login server needs', () => {
    const opts = serverOptions({ trustProxy: true, requestTimeout: 10_000, logger: { level: 'debug', redact: ['req.headers["x-api-key"]'] } });
    expect(opts).toMatchObject({ trustProxy: true, requestTimeout: 10_000, connectionTimeout: 60_000, keepAliveTimeout: 72_000 });
    expect(opts.http).toEqual({ requestTimeout: 10_000, headersTimeout: 10_000, connectionsCheckingInterval: 2_000 });
    const logger = opts.logger as { level: string; redact: string[] };
    expect(logger.level).toBe('debug');
    expect(logger.redact).toEqual(expect.arrayContaining(['req.headers["x-api-key"]', 'req.headers.authorization', 'err.rawPacket']));
    expect(serverOptions()).toMatchObject({ requestTimeout: 30_000, logger: undefined });
    // 0 is the app's own choice (no timeout), not a gap to fill.
    expect(serverOptions({ requestTimeout: 0, keepAliveTimeout: 0 })).toMatchObject({ requestTimeout: 0, keepAliveTimeout: 0, connectionTimeout: 60_000 });
  });
});

describe('what the logs and the headers say', () => {
  it('cuts tokens in a query string from every log line, fastify’s own 404 message included', async () => {
    const log = logSink();
    const emu = await startEmulator();
    const app = buildServer({ wechat: { apiBase: emu.url, appid: APPID, secret: SECRET }, logger: { level: 'trace', stream: log.stream } });
    const url = await listen(app);
    try {
      const token = ((await (await postJson(`${url}/auth/login`, { code: await emulatorLogin(emu.url) })).json()) as { token: string }).token;
      expect((await fetch(`${url}/api/me?access_token=${token}&x=1`)).status).toBe(401);
      expect((await fetch(`${url}/api/me?token=${token}`, { headers: bearer(token) })).status).toBe(200);
      // A plain fastify app logs "Route GET:<url> not found" for an unknown route.
      const plain = logSink();
      const bare = Fastify(serverOptions({ logger: { level: 'info', stream: plain.stream } }));
      const bareUrl = await listen(bare);
      expect((await fetch(`${bareUrl}/nowhere?access_token=${token}`)).status).toBe(404);
      await bare.close();
      const all = JSON.stringify([...log.lines, ...plain.lines]);
      expect(all).not.toContain(token);
      expect(all).toContain('access_token=[Redacted]');
      expect(plain.lines.some((l) => String(l.msg).includes('not found'))).toBe(true);
    } finally {
      await app.close();
      await emu.close();
    }
  });

  it('no-store on answers with a token or a session list, nosniff on every answer of the plugin', async () => {
    const emu = await startEmulator();
    const app = buildServer({ wechat: { apiBase: emu.url, appid: APPID, secret: SECRET } });
    const url = await listen(app);
    try {
      const login = await postJson(`${url}/auth/login`, { code: await emulatorLogin(emu.url) });
      const token = ((await login.json()) as { token: string }).token;
      const sessions = await fetch(`${url}/auth/sessions`, { headers: bearer(token) });
      for (const res of [login, sessions]) {
        expect(res.status).toBe(200);
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(res.headers.get('pragma')).toBe('no-cache');
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      }
      const refused = await postJson(`${url}/auth/login`, { code: 'used-or-unknown' });
      const noAuth = await fetch(`${url}/api/me`);
      for (const res of [refused, noAuth, await postJson(`${url}/auth/logout`, {}, bearer(token))]) {
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      }
      expect(refused.status).toBe(401);
      expect(noAuth.status).toBe(401);
    } finally {
      await app.close();
      await emu.close();
    }
  });
});

describe('a WeChat answer out of bounds', () => {
  it.each([
    ['an 8 MB session_key', { openid: 'o'.repeat(28), session_key: 'A'.repeat(8 << 20) }],
    ['a session_key of the wrong size', { openid: 'o'.repeat(28), session_key: Buffer.alloc(32).toString('base64') }],
    ['an openid of 200 characters', { openid: 'o'.repeat(200), session_key: Buffer.alloc(16).toString('base64') }],
  ])('%s: 502, nothing stored', async (_name, answer) => {
    const wechat = Fastify();
    wechat.get('/sns/jscode2session', async () => answer);
    const store = createMemoryStore();
    const app = buildServer({ wechat: { apiBase: await listen(wechat), appid: APPID, secret: SECRET }, store });
    const url = await listen(app);
    try {
      const res = await postJson(`${url}/auth/login`, { code: 'any' });
      expect(res.status).toBe(502);
      expect(['wechat_error', 'wechat_unreachable']).toContain(((await res.json()) as Body).error);
      expect(store.size()).toBe(0);
    } finally {
      await app.close();
      await wechat.close();
    }
  });
});

describe('memory store at its cap', () => {
  const session = (openid: string) => ({ openid, session_key: 'k', createdAt: 0 });
  const opts = { ttlMs: 3_600_000, maxPerOpenid: 5 };

  it('evicts the least recently used first, so an active user keeps his session; one onEvict per sweep, with a count', async () => {
    const evictions: number[] = [];
    const store = createMemoryStore({ maxEntries: 1000, onEvict: (n) => evictions.push(n) });
    for (let i = 0; i < 1000; i++) await store.create(`t${i}`, session(`u${i}`), opts);
    expect(await store.get('t0')).not.toBeNull(); // t0 is now the most recently used
    for (let i = 1000; i < 1010; i++) await store.create(`t${i}`, session(`u${i}`), opts);
    // Past 1000: down to 990 in one sweep (1% at a time), the least recently used first.
    expect(evictions).toEqual([11]);
    expect(store.size()).toBe(999);
    expect(await store.get('t0')).not.toBeNull();
    for (let i = 1; i <= 11; i++) expect(await store.get(`t${i}`)).toBeNull();
    expect(await store.get('t12')).not.toBeNull();
    expect(await store.get('t1009')).not.toBeNull();
  });

  it('drops dead sessions before live ones, and says nothing when only the dead went', async () => {
    let t = 0;
    const evictions: number[] = [];
    const store = createMemoryStore({ maxEntries: 100, now: () => t, onEvict: (n) => evictions.push(n) });
    for (let i = 0; i < 100; i++) await store.create(`old${i}`, session(`o${i}`), { ...opts, ttlMs: 1000 });
    t = 1000;
    for (let i = 0; i < 100; i++) await store.create(`new${i}`, session(`n${i}`), opts);
    expect(evictions).toEqual([]);
    expect(store.size()).toBe(100);
    expect(await store.get('new0')).not.toBeNull();
  });

  it('the plugin logs an eviction sweep of its default store once, with the count', async () => {
    // The default store's cap is 100,000: what matters here is that the plugin wires onEvict.
    const log = logSink();
    const emu = await startEmulator();
    const app = Fastify(serverOptions({ logger: { level: 'warn', stream: log.stream } }));
    await app.register(wxLogin, { appid: APPID, secret: SECRET, apiBase: emu.url, rateLimit: false, openapi: false });
    await app.ready();
    try {
      const store = app.wxLogin.store;
      for (let i = 0; i < 100_001; i++) await store.create(`t${i}`, session(`u${i}`), opts);
      expect(log.lines.map((l) => [l.msg, l.evicted])).toEqual([['[wx-login-kit] memory store full: least recently used sessions dropped', 1001]]);
    } finally {
      await app.close();
      await emu.close();
    }
  });
});

describe('npm run dev and the emulator', () => {
  function runDev(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number | null; output: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'reference-server/main.ts', ...args], {
      env: { ...process.env, TSX_TSCONFIG_PATH: 'tsconfig.run.json', PORT: '0', EMULATOR_PORT: '0', NO_COLOR: '1', WECHAT_API_BASE: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
  }

  it('refuses the emulator under NODE_ENV=production', async () => {
    const { code, output } = await runDev({ NODE_ENV: 'production' }, ['--emulator']);
    expect(code).toBe(1);
    expect(output).toMatch(/NODE_ENV is production: the emulator/);
  });

  it('starts no emulator unless asked', async () => {
    const { code, output } = await runDev({}, []);
    expect(code).toBe(1);
    expect(output).toMatch(/WECHAT_API_BASE=https:\/\/api\.weixin\.qq\.com .* or --emulator/);
  });

  it('bounds fail-next', async () => {
    const emu = await startEmulator();
    try {
      expect((await postJson(`${emu.url}/emulator/fail-next`, { errcode: -1, count: 101 })).status).toBe(400);
      expect((await postJson(`${emu.url}/emulator/fail-next`, { errcode: -1, count: 100 })).status).toBe(200);
    } finally {
      await emu.close();
    }
  });
});

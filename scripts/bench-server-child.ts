/**
 * The process under test for `npm run bench:server` (scripts/bench-server.ts forks it; not run by hand).
 *
 * Builds the reference server with the store named by BENCH_STORE ('memory' | 'redis'; Redis at the
 * unix socket BENCH_REDIS_PATH, with ioredis `enableAutoPipelining` when BENCH_AUTOPIPELINE=1),
 * rate limits off and `requestTimeout` BENCH_REQUEST_TIMEOUT ms (serverOptions' default if unset), adds the bare route GET /bench/bare to the same fastify instance, runs the WeChat
 * emulator in this same process (code2Session is a loopback HTTP call from the server to it), and
 * listens on 127.0.0.1 at a free port. IPC with the parent:
 *   -> {type: 'ready', url}                          once listening
 *   <- {type: 'mint', id, count, users, prefix}      wx.login codes, code i for user `${prefix}${i % users}`
 *   -> {type: 'codes', id, codes}
 *   <- {type: 'cpu', id}                             this process's CPU time so far
 *   -> {type: 'cpu', id, micros}
 *   <- {type: 'fill', id, count}                     `count` sessions put straight into the store
 *   -> {type: 'filled', id, size}                    (the memory store's size after it)
 *   <- {type: 'stop'}                                closes everything and exits
 * Exits as well when the parent goes away (IPC disconnect).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { buildServer } from '../reference-server/app';
import { buildEmulator } from '../emulator';
import { createMemoryStore, createRedisStore, type SessionStore } from '../server';

const BENCH_APPID = 'wxbench000000000';
/** As long as a real openid, so /bench/bare answers as many bytes as /api/me. */
const BARE_BODY = { openid: 'o' + 'x'.repeat(27) };

export type ToChild =
  | { type: 'mint'; id: number; count: number; users: number; prefix: string }
  | { type: 'cpu'; id: number }
  | { type: 'fill'; id: number; count: number }
  | { type: 'stop' };
export type FromChild =
  | { type: 'ready'; url: string }
  | { type: 'codes'; id: number; codes: string[] }
  | { type: 'cpu'; id: number; micros: number }
  | { type: 'filled'; id: number; size: number }
  | { type: 'error'; message: string };

function send(message: FromChild): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('bench-server-child runs under scripts/bench-server.ts (needs an IPC channel).');
  const secret = randomBytes(16).toString('hex');
  const emulator = buildEmulator({ apps: { [BENCH_APPID]: secret } });
  const emulatorUrl = await emulator.app.listen({ host: '127.0.0.1', port: 0 });

  let redis: Redis | undefined;
  let store: SessionStore & { size?(): number };
  if (process.env.BENCH_STORE === 'redis') {
    const path = process.env.BENCH_REDIS_PATH;
    if (!path) throw new Error('BENCH_STORE=redis needs BENCH_REDIS_PATH');
    redis = new Redis(path, { enableAutoPipelining: process.env.BENCH_AUTOPIPELINE === '1', maxRetriesPerRequest: 1 });
    await redis.flushall(); // a throwaway server: start every run from an empty keyspace
    store = createRedisStore({ redis });
  } else {
    store = createMemoryStore();
  }

  const requestTimeout = Number(process.env.BENCH_REQUEST_TIMEOUT) || undefined;
  const app = buildServer({ wechat: { apiBase: emulatorUrl, appid: BENCH_APPID, secret }, store, rateLimit: false, fastify: { requestTimeout } });
  // Same instance, root context, like /api/me (which buildServer adds in app.after at the root).
  app.get('/bench/bare', async () => BARE_BODY);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await app.close().catch(() => undefined);
    await emulator.app.close().catch(() => undefined);
    if (redis) await redis.quit().catch(() => redis!.disconnect());
    process.exit(0);
  };

  process.on('disconnect', () => void stop());
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop()); // the parent stops us; a terminal ^C reaches both
  process.on('message', (raw) => {
    const message = raw as ToChild;
    if (message.type === 'stop') {
      void stop();
    } else if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ type: 'cpu', id: message.id, micros: user + system });
    } else if (message.type === 'fill') {
      void fill(message.count).then(
        () => send({ type: 'filled', id: message.id, size: store.size?.() ?? -1 }),
        (err: Error) => send({ type: 'error', message: `fill: ${err.message}` }),
      );
    } else if (message.type === 'mint') {
      void mint(message).then(
        (codes) => send({ type: 'codes', id: message.id, codes }),
        (err: Error) => send({ type: 'error', message: `mint: ${err.message}` }),
      );
    }
  });

  /** Sessions of users nobody will log in as, created as a login would (one user each). */
  async function fill(count: number): Promise<void> {
    const opts = { ttlMs: 7_200_000, maxPerOpenid: 5 };
    const session_key = randomBytes(16).toString('base64');
    for (let i = 0; i < count; i++) {
      await store.create(randomBytes(32).toString('hex'), { openid: `ofill${i}`, session_key, createdAt: Date.now() }, opts);
    }
  }

  /** wx.login codes from the emulator, through its own route (in-process inject, not the network). */
  async function mint({ count, users, prefix }: { count: number; users: number; prefix: string }): Promise<string[]> {
    const codes: string[] = new Array(count);
    const BATCH = 200;
    for (let start = 0; start < count; start += BATCH) {
      await Promise.all(
        Array.from({ length: Math.min(BATCH, count - start) }, async (_, k) => {
          const i = start + k;
          const res = await emulator.app.inject({
            method: 'POST',
            url: '/emulator/login',
            payload: { appid: BENCH_APPID, user: `${prefix}${i % users}` },
          });
          if (res.statusCode !== 200) throw new Error(`emulator/login answered ${res.statusCode}: ${res.body}`);
          codes[i] = (res.json() as { code: string }).code;
        }),
      );
    }
    return codes;
  }

  send({ type: 'ready', url });
}

main().catch((err: Error) => {
  send({ type: 'error', message: err.stack ?? err.message });
  process.exit(1);
});

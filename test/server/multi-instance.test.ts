/**
 * Two real server processes (`reference-server/main.ts`, what `npm run dev` runs) on one real
 * redis-server, against the WeChat API emulator; the kit, with the demo's Node `wx`, talks to both.
 */
import { createServer } from 'node:net';
import path from 'node:path';
import { createAuth, NetworkError } from '../../src';
import { createNodeWx } from '../../scripts/node-wx';
import { startProcess, type StartedProcess } from '../support/process';
import { startRedis, type TestRedis } from '../support/redis';
import { APPID, SECRET, startEmulator } from './helpers';

const ROOT = path.resolve(__dirname, '../..');

// The test starts four server processes (tsx compiles each) one after another. Measured on a
// 2-core machine (2026-12-01): 2.7–3.3 s idle (load average < 1.5), 5.2–7.4 s at load 5–6 (a mutation
// run and other test runs beside it). The timeout is ten times the slowest idle run: it only
// fires on a hang, never on a slow machine.
const IDLE_MS = 3_300;
const TIMEOUT_MS = 10 * IDLE_MS;

/** A TCP port free right now, so a restarted instance comes back where it was. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.once('error', reject);
  });
}

interface Instance extends StartedProcess {
  url: string;
}

let redis: TestRedis;
let emu: Awaited<ReturnType<typeof startEmulator>>;
/** Every instance started, stopped ones too. */
const started: Instance[] = [];

/** Starts `npm run dev`'s server on `port` with REDIS_URL; resolves once it listens. */
async function start(port: number): Promise<Instance> {
  // node itself with tsx's loader, not the tsx CLI: the CLI runs the server in a child of its own,
  // which would outlive a SIGKILL sent to the CLI.
  const server = await startProcess(process.execPath, ['--import', 'tsx', 'reference-server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, TSX_TSCONFIG_PATH: 'tsconfig.run.json', PORT: String(port), HOST: '127.0.0.1', WECHAT_API_BASE: emu.url, WX_APPID: APPID, WX_SECRET: SECRET, REDIS_URL: redis.path, NO_COLOR: '1' },
    ready: /Server listening at/,
    name: `reference-server/main.ts on port ${port}`,
  });
  const instance = { ...server, url: `http://127.0.0.1:${port}` };
  started.push(instance);
  return instance;
}

beforeAll(async () => {
  redis = await startRedis();
  emu = await startEmulator({ now: Date.now });
});

afterAll(async () => {
  await Promise.all(started.map((i) => i.stop('SIGKILL')));
  await emu?.close();
  await redis?.stop();
});

it('two instances on one Redis: sessions, logout and restarts are shared; losing one loses nothing', async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  let [a, b] = await Promise.all([start(portA), start(portB)]);

  const client = createNodeWx({ emulatorBase: emu.url, appid: APPID, user: 'alice' });
  const auth = createAuth({ name: 'multi', baseURL: a.url, trustedOrigins: [b.url], wx: client.wx as never });
  const me = (instance: Instance) => auth.request<{ openid: string }>({ url: `${instance.url}/api/me` });
  const logins = () => ({ wxLogin: client.counts.login, posts: emu.requests.filter((r) => r === 'GET /sns/jscode2session').length });

  // Log in through A, then alternate A/B: one login, and B knows the token A issued.
  const token = await auth.login();
  const openids = new Set<string>();
  for (let i = 0; i < 10; i++) openids.add((await me(i % 2 ? b : a)).data.openid);
  expect(openids.size).toBe(1);
  expect(logins()).toEqual({ wxLogin: 1, posts: 1 });

  // B is killed mid-run: requests to it fail at the network; they continue on A with no re-login.
  const inFlight = Promise.all(Array.from({ length: 6 }, (_, i) => me(i % 2 ? b : a).then(() => 'ok', (err: Error) => err.name)));
  await b.stop('SIGKILL');
  const outcomes = await inFlight;
  expect(outcomes.filter((o) => o !== 'ok' && o !== 'NetworkError')).toEqual([]);
  for (let i = 0; i < 5; i++) expect((await me(a)).data.openid).toEqual([...openids][0]);
  await expect(me(b)).rejects.toBeInstanceOf(NetworkError);
  expect(auth.token).toBe(token);
  expect(logins()).toEqual({ wxLogin: 1, posts: 1 });

  // Both restart (A stopped cleanly, B was dead): the session lives in Redis, not in them.
  await a.stop('SIGTERM');
  [a, b] = await Promise.all([start(portA), start(portB)]);
  expect((await me(b)).data.openid).toEqual([...openids][0]);
  expect((await me(a)).data.openid).toEqual([...openids][0]);
  expect(logins()).toEqual({ wxLogin: 1, posts: 1 });

  // A token logged out through B is refused by A at once (the kit's 401 recovery logs in again).
  const res = await fetch(`${b.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  const refused = await fetch(`${a.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  expect(refused.status).toBe(401);
  expect((await refused.json()).error).toBe('invalid_token');
  expect((await me(a)).statusCode).toBe(200);
  expect(auth.token).not.toBe(token);
  expect(logins()).toEqual({ wxLogin: 2, posts: 2 });

  // Listed through B: only the session the 401 recovery made through A; the logged-out one is gone.
  const sessions = await auth.request<{ sessions: Array<{ current: boolean }> }>({ url: `${b.url}/auth/sessions` });
  expect(sessions.data.sessions).toEqual([expect.objectContaining({ current: true })]);

  // Nothing secret in what either process printed.
  const log = started.map((i) => i.output()).join('\n');
  expect(log).toContain('Session store    Redis');
  for (const secret of [token, auth.token!, SECRET, emu.emulator.latestSessionKey(APPID, 'alice')!]) expect(log).not.toContain(secret);
}, TIMEOUT_MS);

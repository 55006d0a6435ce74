/**
 * `npm run bench:server`: throughput of the reference server, loopback only. A benchmark, not a
 * test: it prints numbers and exits 0 whatever they are (1 only if something crashed).
 *
 * For each store (memory; Redis; on request Redis with ioredis `enableAutoPipelining`), a fresh server process
 * (./bench-server-child.ts: the reference server, rate limits off, plus a bare route and the WeChat
 * emulator) is forked, and autocannon, in this process, measures:
 *   - GET /bench/bare: a route with no auth, in the same fastify instance, answering as many bytes;
 *   - GET /api/me with `Authorization: Bearer <token>` (requireAuth: sha256 of the token + store.get);
 *     after a warm-up of both, BENCH_ROUNDS rounds of bare, me, me, bare, BENCH_DURATION s each run;
 *     req/s and p99 are the medians over a route's runs (the table shows the req/s range too, as
 *     a loaded 2-core machine is noisy); auth/bare = median me req/s / median bare req/s;
 *   - POST /auth/login {code}: every request takes the next pre-minted wx.login code (8 per user, so
 *     the per-openid cap of 5 revokes sessions along the way); bounded by the number of codes.
 * and, under load and faults:
 *   - memory: POST /auth/login again once the store holds its cap (100,000 sessions): cap/empty;
 *   - memory: GET /api/me while 200 clients each send a login body a byte every 100 ms: its req/s
 *     over the quiet median, and how many of the 200 are still open once requestTimeout
 *     (BENCH_REQUEST_TIMEOUT, 5000 ms here) and Node's 2 s check have passed;
 *   - redis: GET /api/me while redis-server is stopped (SIGSTOP): every answer a 503 after the
 *     store's command timeout (1 s), so p99 is that bound, not the stall.
 * CPU columns: the share of one core the server process, redis-server, autocannon (this process)
 * and everything else on the machine used during the run; 100% for the server means it was the
 * bottleneck, a large "other" means something else competed for the cores and the numbers are off.
 *
 * Env: BENCH_DURATION (s per run, 3), BENCH_ROUNDS (2), BENCH_WARMUP (s per route, 1), BENCH_CONNECTIONS (10),
 *      BENCH_LOGINS (logins measured per store, 5000), BENCH_STORES (comma list of memory, redis,
 *      redis-autopipe; memory,redis).
 */
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pc from 'picocolors';
import type { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../test/support/redis';
import type { FromChild, ToChild } from './bench-server-child';

const ROOT = path.resolve(__dirname, '..');
const CHILD = path.join(__dirname, 'bench-server-child.ts');

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}, got "${raw}"`);
  return n;
}

const DURATION = Math.floor(intEnv('BENCH_DURATION', 3, 1));
const ROUNDS = Math.floor(intEnv('BENCH_ROUNDS', 2, 1));
const WARMUP = intEnv('BENCH_WARMUP', 1, 0);
const CONNECTIONS = Math.floor(intEnv('BENCH_CONNECTIONS', 10, 1));
const LOGINS = Math.floor(intEnv('BENCH_LOGINS', 5000, CONNECTIONS));
const LOGIN_WARMUP = 300;
const REQUEST_TIMEOUT = Math.floor(intEnv('BENCH_REQUEST_TIMEOUT', 5000, 100));
const MEMORY_CAP = 100_000;
const SLOW_CLIENTS = 200;
const CODES_PER_USER = 8;

interface StoreConfig {
  name: string;
  env: Record<string, string>;
  redis: boolean;
}
const ALL_STORES: StoreConfig[] = [
  { name: 'memory', env: { BENCH_STORE: 'memory' }, redis: false },
  { name: 'redis', env: { BENCH_STORE: 'redis' }, redis: true },
  { name: 'redis-autopipe', env: { BENCH_STORE: 'redis', BENCH_AUTOPIPELINE: '1' }, redis: true },
];
const wanted = process.env.BENCH_STORES?.split(',').map((s) => s.trim()).filter(Boolean);
// redis-autopipe (ioredis enableAutoPipelining) only when named: the store already batches its reads.
const STORES = wanted ? ALL_STORES.filter((s) => wanted.includes(s.name)) : ALL_STORES.filter((s) => s.name !== 'redis-autopipe');
if (STORES.length === 0) throw new Error(`BENCH_STORES names none of ${ALL_STORES.map((s) => s.name).join(', ')}`);

/** Omit<T, 'id'> for each member of a union. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** The forked server process and its IPC. */
class ServerChild {
  private nextId = 1;
  private pending = new Map<number, { resolve: (m: FromChild) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;
  url = '';

  private constructor(private proc: ChildProcess) {
    proc.on('message', (raw) => {
      const m = raw as FromChild;
      if (m.type === 'error') return this.fail(new Error(`server process: ${m.message}`));
      if ('id' in m) {
        const waiter = this.pending.get(m.id);
        this.pending.delete(m.id);
        waiter?.resolve(m);
      }
    });
    proc.once('exit', (code, signal) => this.fail(new Error(`server process exited (${signal ?? code})`)));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }

  static async start(env: Record<string, string>): Promise<ServerChild> {
    const proc = fork(CHILD, [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...env, TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.run.json') },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const child = new ServerChild(proc);
    child.url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server process not ready after 30 s')), 30_000);
      proc.on('message', (m: FromChild) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve(m.url);
        } else if (m.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`server process: ${m.message}`));
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server process exited with ${code} before it was ready`));
      });
    });
    return child;
  }

  private request<T extends FromChild>(message: WithoutId<Extract<ToChild, { id: number }>>): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (m: FromChild) => void, reject });
      this.proc.send({ ...message, id } as ToChild);
    });
  }

  async mint(count: number, users: number, prefix: string): Promise<string[]> {
    return (await this.request<Extract<FromChild, { type: 'codes' }>>({ type: 'mint', count, users, prefix })).codes;
  }

  /** CPU time (user + system) the server process has used, µs. */
  async cpuMicros(): Promise<number> {
    return (await this.request<Extract<FromChild, { type: 'cpu' }>>({ type: 'cpu' })).micros;
  }

  /** Puts `count` sessions straight into the store; resolves to the memory store's size. */
  async fill(count: number): Promise<number> {
    return (await this.request<Extract<FromChild, { type: 'filled' }>>({ type: 'fill', count })).size;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (proc.connected) proc.send({ type: 'stop' } satisfies ToChild);
    else proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** CPU time all cores spent busy so far, µs (from os.cpus(), ms resolution). */
function machineBusyMicros(): number {
  return os.cpus().reduce((sum, { times: t }) => sum + t.user + t.nice + t.sys + t.irq, 0) * 1000;
}

/** redis-server's own CPU time (INFO cpu), µs. */
async function redisCpuMicros(redis: Redis | undefined): Promise<number> {
  if (!redis) return 0;
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return Math.round((field('used_cpu_user') + field('used_cpu_sys')) * 1e6);
}

interface Run {
  result: autocannon.Result;
  /** From the start to the last response. */
  seconds: number;
  /** Share of one core, %. */
  cpu: { server: number; redis: number; bench: number; other: number };
}

/** One autocannon run, with the CPU each process used during it. */
async function run(child: ServerChild, redis: Redis | undefined, opts: autocannon.Options): Promise<Run> {
  const [server0, redis0] = await Promise.all([child.cpuMicros(), redisCpuMicros(redis)]);
  const machine0 = machineBusyMicros();
  const bench0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let last = t0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    // sampleInt 100 ms: autocannon checks for the end on its sampling tick, so runs end on time.
    const options = { connections: CONNECTIONS, pipelining: 1, timeout: 10, sampleInt: 100, ...opts };
    const instance = autocannon(options, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on('response', () => {
      last = process.hrtime.bigint();
    });
  });
  // Time is taken up to the last response (autocannon ends a run on a sampling tick after it).
  const bench = process.cpuUsage(bench0);
  const machine = machineBusyMicros() - machine0;
  const [server1, redis1] = await Promise.all([child.cpuMicros(), redisCpuMicros(redis)]);
  const elapsedMicros = Number(last - t0) / 1000;
  const pct = (micros: number) => (100 * micros) / elapsedMicros;
  const cpu = { server: pct(server1 - server0), redis: redis ? pct(redis1 - redis0) : NaN, bench: pct(bench.user + bench.system) };
  // Whatever else ran on the machine meanwhile (other processes skew a benchmark on 2 cores).
  const other = Math.max(0, pct(machine) - cpu.server - (redis ? cpu.redis : 0) - cpu.bench);
  return { result, seconds: elapsedMicros / 1e6, cpu: { ...cpu, other } };
}

interface Row {
  store: string;
  route: string;
  rps: number;
  /** min and max req/s of the runs */
  range?: [number, number];
  p99: number;
  ratio?: number;
  /** What `ratio` is, e.g. 'auth/bare'. */
  ratioOf?: string;
  note?: string;
  non2xx: number;
  errors: number;
  cpu: Run['cpu'];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
/** Completed requests per second, up to the last response. */
const rpsOf = (r: Run) => (r.result['2xx'] + r.result.non2xx) / r.seconds;

function routeRow(store: string, route: string, runs: Run[]): Row {
  const rps = runs.map(rpsOf);
  return {
    store,
    route,
    rps: median(rps),
    range: [Math.min(...rps), Math.max(...rps)],
    p99: median(runs.map((r) => r.result.latency.p99)),
    non2xx: runs.reduce((n, r) => n + r.result.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.result.errors, 0),
    cpu: {
      server: mean(runs.map((r) => r.cpu.server)),
      redis: mean(runs.map((r) => r.cpu.redis)),
      bench: mean(runs.map((r) => r.cpu.bench)),
      other: mean(runs.map((r) => r.cpu.other)),
    },
  };
}

function progress(store: string, label: string, r: Run): void {
  const res = r.result;
  console.log(
    pc.dim(
      `  ${store.padEnd(15)} ${label.padEnd(22)} ${rpsOf(r).toFixed(0).padStart(7)} req/s  p99 ${res.latency.p99} ms` +
        `  ${res['2xx']} 2xx, ${res.non2xx} non-2xx, ${res.errors} errors`,
    ),
  );
}

async function benchStore(config: StoreConfig, redis: TestRedis | undefined, monitor: Redis | undefined): Promise<Row[]> {
  const env = { ...config.env, BENCH_REQUEST_TIMEOUT: String(REQUEST_TIMEOUT), ...(redis ? { BENCH_REDIS_PATH: redis.path } : {}) };
  const child = await ServerChild.start(env);
  try {
    const { url } = child;
    const redisForCpu = config.redis ? monitor : undefined;

    // Every code is minted up front (in the server process, before anything is measured).
    const margin = 4 * CONNECTIONS + 50; // autocannon builds a request or two beyond `amount` per connection
    // Memory logs in twice: on an empty store and on a full one.
    const total = (config.redis ? 1 : 2) * (LOGIN_WARMUP + LOGINS + margin);
    const [[meCode], codes] = await Promise.all([child.mint(1, 1, 'me-'), child.mint(total, Math.ceil(total / CODES_PER_USER), 'user-')]);

    const login = await fetch(`${url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: meCode }),
    });
    const { token } = (await login.json()) as { token?: string };
    if (login.status !== 200 || !token) throw new Error(`POST /auth/login answered ${login.status}`);
    const auth = { authorization: `Bearer ${token}` };
    for (const [route, headers] of [['/bench/bare', {}], ['/api/me', auth]] as const) {
      const res = await fetch(url + route, { headers });
      if (res.status !== 200) throw new Error(`GET ${route} answered ${res.status}: ${await res.text()}`);
    }

    const bare: autocannon.Options = { url: `${url}/bench/bare` };
    const me: autocannon.Options = { url: `${url}/api/me`, headers: auth };
    if (WARMUP > 0) {
      await run(child, redisForCpu, { ...bare, duration: WARMUP });
      await run(child, redisForCpu, { ...me, duration: WARMUP });
    }
    const runs: Record<'bare' | 'me', Run[]> = { bare: [], me: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const which of ['bare', 'me', 'me', 'bare'] as const) {
        const r = await run(child, redisForCpu, { ...(which === 'bare' ? bare : me), duration: DURATION });
        runs[which].push(r);
        progress(config.name, `${which === 'bare' ? 'GET /bench/bare' : 'GET /api/me'} #${runs[which].length}`, r);
      }
    }

    // Login: each request takes the next code; `amount` bounds the run by the codes there are.
    let next = 0;
    const loginOpts = (amount: number): autocannon.Options => ({
      url: `${url}/auth/login`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      amount,
      requests: [
        {
          method: 'POST',
          // Out of codes (should not happen): an unknown code, which shows up as a non-2xx.
          setupRequest: (req) => ({ ...req, body: JSON.stringify({ code: codes[next++] ?? 'exhausted' }) }),
        },
      ],
    });
    await run(child, redisForCpu, loginOpts(LOGIN_WARMUP));
    const loginRun = await run(child, redisForCpu, loginOpts(LOGINS));
    progress(config.name, 'POST /auth/login', loginRun);

    const bareRow = routeRow(config.name, 'GET /bench/bare', runs.bare);
    const meRow = routeRow(config.name, 'GET /api/me', runs.me);
    meRow.ratio = meRow.rps / bareRow.rps;
    meRow.ratioOf = 'auth/bare';
    const loginRow = singleRow(config.name, `POST /auth/login (${LOGINS})`, loginRun);
    const rows = [bareRow, meRow, loginRow];

    if (!config.redis) {
      // Slow clients first: filling the store to its cap below evicts the session of `me`.
      const slow = await slowClients(child.url);
      try {
        const slowRun = await run(child, undefined, { ...me, duration: DURATION });
        progress(config.name, `GET /api/me + ${SLOW_CLIENTS} slow`, slowRun);
        const slowRow = singleRow(config.name, `GET /api/me, ${SLOW_CLIENTS} slow bodies`, slowRun);
        slowRow.ratio = slowRow.rps / meRow.rps;
        slowRow.ratioOf = 'slow/quiet';
        const { open, cutAfterMs } = await slow.afterTimeout();
        slowRow.note = `${open} of ${SLOW_CLIENTS} slow connections open after ${REQUEST_TIMEOUT} + 2000 ms; cut after ${cutAfterMs.map((ms) => (ms / 1000).toFixed(1)).join('-')} s`;
        rows.push(slowRow);
      } finally {
        slow.destroy();
      }

      // The cap: fill the store to it, then log in as many again (each login past it evicts).
      const size = await child.fill(MEMORY_CAP);
      await run(child, undefined, loginOpts(LOGIN_WARMUP));
      const capRun = await run(child, undefined, loginOpts(LOGINS));
      progress(config.name, 'POST /auth/login at cap', capRun);
      const capRow = singleRow(config.name, `POST /auth/login at cap (${LOGINS})`, capRun);
      capRow.ratio = capRow.rps / loginRow.rps;
      capRow.ratioOf = 'cap/empty';
      capRow.note = `${size} sessions held before (cap ${MEMORY_CAP})`;
      rows.push(capRow);
    } else if (redis) {
      // A stall: every command waits; the store gives up after its timeout.
      redis.pause();
      let stallRun: Run;
      try {
        stallRun = await run(child, undefined, { ...me, duration: DURATION });
      } finally {
        redis.resume();
      }
      progress(config.name, 'GET /api/me, Redis stalled', stallRun);
      const stallRow = singleRow(config.name, 'GET /api/me, Redis stopped (SIGSTOP)', stallRun);
      stallRow.note = `${stallRun.result.non2xx} answers, all 503 store_unavailable; p99 bounded by the 1 s command timeout`;
      rows.push(stallRow);
    }
    return rows;
  } finally {
    await child.stop();
  }
}

/** A row of one run. */
function singleRow(store: string, route: string, r: Run): Row {
  const res = r.result;
  return { store, route, rps: rpsOf(r), p99: res.latency.p99, non2xx: res.non2xx, errors: res.errors, cpu: r.cpu };
}

/**
 * `SLOW_CLIENTS` raw connections, each sending a POST /auth/login body (1000 bytes, under bodyLimit) a byte every 100 ms (a
 * slowloris). `afterTimeout()` waits until the server's requestTimeout and Node's check interval
 * have passed since they started (the server cuts them), then counts those still open.
 */
async function slowClients(url: string) {
  const { hostname, port } = new URL(url);
  const started = performance.now();
  const cutAfterMs: number[] = [];
  const sockets = await Promise.all(
    Array.from(
      { length: SLOW_CLIENTS },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(Number(port), hostname, () => {
            socket.write('POST /auth/login HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
            resolve(socket);
          });
          socket.once('error', reject);
          socket.once('close', () => cutAfterMs.push(performance.now() - started));
        }),
    ),
  );
  const drip = setInterval(() => sockets.forEach((s) => s.writable && s.write(' ')), 100);
  return {
    async afterTimeout() {
      const deadline = REQUEST_TIMEOUT + 2000 + 500;
      const left = deadline - (performance.now() - started);
      if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
      const sorted = [...cutAfterMs].sort((a, b) => a - b);
      return { open: sockets.filter((s) => !s.destroyed).length, cutAfterMs: sorted.length ? [sorted[0], sorted[sorted.length - 1]] : [] };
    },
    destroy() {
      clearInterval(drip);
      sockets.forEach((s) => s.destroy());
    },
  };
}

function printTable(rows: Row[]): void {
  const pct = (n: number) => (Number.isNaN(n) ? '-' : `${n.toFixed(0)}%`);
  const header = ['store', 'route', 'req/s', '(range)', 'p99 ms', 'ratio', 'non-2xx', 'err', 'CPU server', 'redis', 'bench', 'other', 'note'];
  const cells = rows.map((r) => [
    r.store,
    r.route,
    r.rps.toFixed(0),
    r.range ? `${r.range[0].toFixed(0)}-${r.range[1].toFixed(0)}` : '',
    String(r.p99),
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)} ${r.ratioOf}`,
    String(r.non2xx),
    String(r.errors),
    pct(r.cpu.server),
    pct(r.cpu.redis),
    pct(r.cpu.bench),
    pct(r.cpu.other),
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const left = new Set([0, 1, 12]);
  const line = (c: string[]) => c.map((s, i) => (left.has(i) ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join(' | ');
  console.log(pc.bold(line(header)));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  rows.forEach((r, k) => {
    const text = line(cells[k]);
    const target = r.ratioOf === 'cap/empty' ? 0.5 : 0.8;
    if (r.ratio === undefined || r.ratio >= target) return console.log(text);
    console.log(text.replace(` ${cells[k][5]} `, ` ${pc.yellow(cells[k][5])} `));
  });
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  const started = Date.now();
  console.log(
    pc.bold('bench:server') +
      pc.dim(
        `  ${STORES.map((s) => s.name).join(', ')}; ${CONNECTIONS} connections; ${2 * ROUNDS} runs of ${DURATION} s per route` +
          ` after ${WARMUP} s warm-up; ${LOGINS} logins per store; loopback only; load average ${os.loadavg()[0].toFixed(2)}`,
      ),
  );

  let redis: TestRedis | undefined;
  let monitor: Redis | undefined;
  let stopping = false;
  const cleanup = async () => {
    if (stopping) return;
    stopping = true;
    await redis?.stop();
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rows: Row[] = [];
  try {
    if (STORES.some((s) => s.redis)) {
      redis = await startRedis();
      monitor = redis.client();
    }
    for (const config of STORES) rows.push(...(await benchStore(config, redis, monitor)));
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  console.log();
  printTable(rows);
  console.log();
  const ratios = rows.filter((r) => r.ratioOf === 'auth/bare').map((r) => `${r.store} ${r.ratio!.toFixed(2)}`);
  console.log(`auth/bare (req/s of GET /api/me over GET /bench/bare, same process; target >= 0.8): ${ratios.join(', ')}`);
  const cap = rows.find((r) => r.ratioOf === 'cap/empty');
  if (cap) console.log(`cap/empty (login req/s with the memory store at its ${MEMORY_CAP} cap over an empty one; target >= 0.5): ${cap.ratio!.toFixed(2)}`);
  console.log(
    pc.dim(
      `Node ${process.version}, ${cpus.length} CPU${cpus.length === 1 ? '' : 's'} (${cpus[0]?.model.trim() ?? '?'}), ${os.platform()} ${os.arch()}; ` +
        `${2 * ROUNDS} runs x ${DURATION} s per route, ${CONNECTIONS} connections, pipelining 1; whole run ${((Date.now() - started) / 1000).toFixed(0)} s.`,
    ),
  );
  console.log(
    pc.dim(
      'Server in its own process (rateLimit: false, so no 429s; logger off); autocannon in this one; redis-server on a unix socket. ' +
        'The WeChat emulator runs inside the server process, so login req/s pays for both ends of code2Session (a lower bound). ' +
        'req/s (completed/elapsed) and p99: median of the runs. CPU: share of one core during the run (mean over runs); ' +
          'other: the rest of the machine.',
    ),
  );
}

main().catch((err: Error) => {
  console.error(pc.red(`bench:server crashed: ${err.stack ?? err.message}`));
  process.exitCode = 1;
});

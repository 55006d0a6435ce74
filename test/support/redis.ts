/**
 * A throwaway redis-server for tests: its own unix socket in a temp dir, no TCP port, no
 * persistence. `npm test` installs redis-server first where it is missing (scripts/need-redis.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { startProcess } from './process';

export interface TestRedis {
  /** The socket path: `new Redis(path)`, or REDIS_URL for a child process. */
  path: string;
  /** A new client (ioredis defaults unless `options` say otherwise); closed by stop(). */
  client(options?: RedisOptions): Redis;
  /** Faults: SIGKILL (an outage; the socket file stays, nothing listens), SIGSTOP / SIGCONT (a stall). */
  kill(): Promise<void>;
  pause(): void;
  resume(): void;
  /** Starts redis-server again on the same socket, empty (no persistence). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'wxlk-redis-'));
  const path = join(dir, 'redis.sock');
  const start = () =>
    startProcess(
      'redis-server',
      ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'notice'],
      // "Ready to accept connections" with a TCP port, "ready to accept connections at <path>" without.
      { ready: /ready to accept connections/i, name: 'redis-server (npm test installs it; else apt-get install redis-server)' },
    );
  let server = await start();
  const clients: Redis[] = [];
  return {
    path,
    client(options: RedisOptions = {}) {
      const c = new Redis(path, { lazyConnect: false, ...options });
      clients.push(c);
      return c;
    },
    kill: () => server.stop('SIGKILL'),
    pause: () => void server.proc.kill('SIGSTOP'),
    resume: () => void server.proc.kill('SIGCONT'),
    async restart() {
      server = await start();
    },
    async stop() {
      server.proc.kill('SIGCONT');
      // quit() would wait for a reconnect that a killed server never gives.
      await Promise.all(clients.map((c) => (c.status === 'ready' ? c.quit().catch(() => c.disconnect()) : c.disconnect())));
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

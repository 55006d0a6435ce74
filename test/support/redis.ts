/**
 * A throwaway redis-server for tests: its own unix socket in a temp dir, no TCP port, no
 * persistence. `npm test` installs redis-server first where it is missing (scripts/need-redis.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startProcess } from './process';

export interface TestRedis {
  /** The socket path: `new Redis(path)`, or REDIS_URL for a child process. */
  path: string;
  /** A new client; closed by stop(). */
  client(): Redis;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'wxlk-redis-'));
  const path = join(dir, 'redis.sock');
  const server = await startProcess(
    'redis-server',
    ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'notice'],
    // "Ready to accept connections" with a TCP port, "ready to accept connections at <path>" without.
    { ready: /ready to accept connections/i, name: 'redis-server (npm test installs it; else apt-get install redis-server)' },
  );
  const clients: Redis[] = [];
  return {
    path,
    client() {
      const c = new Redis(path, { lazyConnect: false });
      clients.push(c);
      return c;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

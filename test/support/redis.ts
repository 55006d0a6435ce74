/**
 * A throwaway redis-server for tests: its own unix socket in a temp dir, no TCP port, no
 * persistence. `npm test` installs redis-server first where it is missing (scripts/need-redis.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

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
  const proc: ChildProcess = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'notice'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.once('error', (err) =>
      reject(new Error(`redis-server could not start (${err.message}); run npm test, which installs it, or apt-get install redis-server`)),
    );
    proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.slice(-500)}`)));
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      // "Ready to accept connections" with a TCP port, "ready to accept connections at <path>" without.
      if (/ready to accept connections/i.test(out)) resolve();
    });
  });
  proc.removeAllListeners('exit');
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
      if (proc.exitCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Run by `npm test` before jest: the store and multi-instance tests start their own redis-server.
 * Where it is missing, installs Debian's package (these machines run as root), or fails with one
 * line saying how.
 */
import { spawnSync } from 'node:child_process';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

if (!has('redis-server')) {
  const root = process.getuid?.() === 0;
  if (!root || !has('apt-get')) {
    console.error('[wx-login-kit] the tests need redis-server: install it (apt-get install redis-server, brew install redis) and run npm test again.');
    process.exit(1);
  }
  console.log('[wx-login-kit] redis-server is missing; installing Debian\'s redis-server package for the tests...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', 'redis-server']]) {
    const run = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (run.status !== 0) {
      console.error(`[wx-login-kit] apt-get ${args.join(' ')} failed; install redis-server by hand and run npm test again.`);
      process.exit(1);
    }
  }
}

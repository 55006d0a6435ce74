/**
 * The main job, end to end: runs `npm start`'s script in its own process (real emulator, real
 * server, real HTTP on loopback, the demo app in miniprogram-simulate) and reads its trace.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '../..');

it('npm start runs the whole login journey and exits 0 with the expected counts', async () => {
  const tsx = (require as unknown as NodeJS.Require).resolve('tsx/cli');
  const { stdout } = await promisify(execFile)(process.execPath, [tsx, '--tsconfig', 'tsconfig.run.json', 'scripts/demo.ts'], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  const lines = stdout.split('\n');
  const steps = lines.filter((l) => /^\d\. /.test(l));
  expect(steps.map((l) => l.replace(/ .*/, ''))).toEqual(['1.', '2.', '3.', '4.']);
  // The server-expiry step shows 401 -> one re-login -> retry 200, in that order.
  const third = lines.slice(lines.indexOf(steps[2]) + 1, lines.indexOf(steps[3]));
  expect(third.filter((l) => !l.includes('✔')).map((l) => l.trim().replace(/ \(.*\)/, ''))).toEqual([
    'GET /api/me [Bearer token] -> 401',
    'wx.login -> a code',
    'POST /auth/login -> 200',
    'GET /api/me [Bearer token] -> 200',
  ]);
  const fourth = lines.slice(lines.indexOf(steps[3]) + 1);
  expect(fourth.some((l) => l.trim().startsWith('wx.login ->'))).toBe(false);
  expect(stdout).toContain('counts wx.login 2, login POSTs 2, wx.request 6');
  expect(stdout).toContain('✔ all 4 steps behaved');
  expect(stdout).not.toMatch(/[A-Za-z0-9_-]{43}/); // no token printed
}, 60_000);

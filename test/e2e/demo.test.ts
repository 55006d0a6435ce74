/**
 * The main job, end to end: runs `npm start`'s script in its own process (real emulator, real
 * server, real HTTP on loopback, the demo app in miniprogram-simulate) and reads its trace.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '../..');

// Each test runs the demo in its own process, which first packs (builds) the kit. Measured on a
// 2-core machine (2026-12-01): 10–17 s per test idle (load average < 1.5), 20–34 s at load 4–6 (a
// mutation run and other test runs beside it); a busy machine has been seen taking 99–120 s.
// The timeout is ten times the slowest idle run: it only fires on a hang, never on a slow machine.
const IDLE_MS = 17_000;
const TIMEOUT_MS = 10 * IDLE_MS;

const runDemo = (env: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, [(require as unknown as NodeJS.Require).resolve('tsx/cli'), '--tsconfig', 'tsconfig.run.json', 'scripts/demo.ts'], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
  });

it('exits 1 naming the step when something misbehaves: a server that rejects every token it issued fails step 2', async () => {
  const err = (await runDemo({ DEMO_TOKEN_TTL_S: '0' }).then(
    () => null,
    (e: unknown) => e,
  )) as { code: number; stdout: string; stderr: string } | null;
  expect(err).not.toBeNull();
  expect(err!.code).toBe(1);
  expect(err!.stderr).toContain('✖ step failed: 2. page: the "GET /api/me" button');
  // Each call then logs in again on the way (401, wx.login, the retry with a code): the step that
  // expects its call to go straight out with the token says what it saw instead.
  expect(err!.stderr).toContain('expected one request, no login, got {"login":1,"loginPosts":0,"request":2,"upload":0,"download":0}');
  expect(err!.stdout).not.toContain('steps behaved');
}, TIMEOUT_MS);

it('npm start runs the whole login journey, uploads and downloads and the button journey included, and exits 0 with the expected counts', async () => {
  const { stdout } = await runDemo();
  const lines = stdout.split('\n');
  const steps = lines.filter((l) => /^\d+\. /.test(l));
  expect(steps.map((l) => l.replace(/ .*/, ''))).toEqual(Array.from({ length: 17 }, (_, i) => `${i + 1}.`));
  const traceOf = (i: number) =>
    lines
      .slice(lines.indexOf(steps[i]) + 1, i + 1 < steps.length ? lines.indexOf(steps[i + 1]) : undefined)
      .filter((l) => / -> /.test(l))
      .map((l) => l.trim().replace(/ \(.*\)/, ''));
  // In-band login: the cold start, the recovery after a 401 and the launch after expiry each reach
  // the first answer in 2 hops (wx.login, the call carrying the code), with no login POST.
  expect(traceOf(0)).toEqual(['wx.login -> a code', 'GET /api/me [login code] -> 200']);
  expect(traceOf(2)).toEqual(['GET /api/me [Bearer token] -> 401', 'wx.login -> a code', 'GET /api/me [login code] -> 200']);
  expect(traceOf(3)).toEqual(['GET /api/me [Bearer token] -> 200']); // relaunch: no wx.login
  expect(traceOf(4)).toEqual(['wx.login -> a code', 'GET /api/me [login code] -> 200']); // relaunch after expiry
  expect(stdout).toMatch(/cold start +2 serial hops +wx\.login 1, login POSTs 0, code2Session 1/);
  expect(stdout).toMatch(/after a 401 +2 serial hops +wx\.login 1, login POSTs 0, code2Session 1/);
  expect(stdout).toMatch(/after expiry +2 serial hops +wx\.login 1, login POSTs 0, code2Session 1/);
  // Files: upload, download, upload after expiry (401 -> one re-login by POST: an upload's answer
  // has no headers, so it never carries a code -> sent again), abort.
  expect(traceOf(5)).toEqual(['POST /api/avatar [Bearer token] -> 200']);
  expect(traceOf(6).map((l) => l.replace(/files\/[A-Za-z0-9_-]{22}/, 'files/<id>'))).toEqual(['GET /api/files/<id> [Bearer token] -> 200']);
  expect(traceOf(7)).toEqual([
    'POST /api/avatar [Bearer token] -> 401',
    'wx.login -> a code',
    'POST /auth/login -> 200',
    'POST /api/avatar [Bearer token] -> 200',
  ]);
  expect(traceOf(8)).toEqual(['POST /api/avatar [Bearer token] -> uploadFile:fail abort']);
  // The button: prefetch (privacy not agreed: the combined open-type), refresh after 4 simulated
  // minutes, deny and quota send nothing, one tap agrees and allows.
  expect(traceOf(9)).toEqual(['wx.login -> a code']);
  expect(stdout).toContain('✔ privacy guide not agreed: open-type="getPhoneNumber|agreePrivacyAuthorization"');
  expect(traceOf(10)).toEqual(['wx.login -> a code']);
  expect(traceOf(11)).toEqual([]);
  expect(traceOf(12)).toEqual([]);
  expect(stdout).toContain('✔ fail {reason: quota} shown as a clear message');
  // The user is logged in: the phone code is bound with the token, and no kept code is spent.
  expect(traceOf(13)).toEqual(['POST /auth/phone [Bearer token] -> 200']);
  expect(stdout).toContain('✔ POST /auth/phone carried {phoneCode} and the token: the number is bound to the logged-in user');
  expect(stdout).toContain('✔ the page saw agreeprivacy; the button is back to open-type="getPhoneNumber"');
  // The profile: the avatar uploaded with the token, then the nickname saved.
  expect(traceOf(15)).toEqual(['POST /api/avatar [Bearer token] -> 200', 'POST /api/profile [Bearer token] -> 200']);
  // Logout: the token leaves the kit at once, the server ends the session, the old token gets 401.
  expect(traceOf(16)).toEqual(['POST /auth/logout [Bearer token] -> 200', 'GET /api/me [Bearer token] -> 401']);
  expect(stdout).toContain('✔ token gone from the kit, globalData and storage at once');
  expect(stdout).toMatch(/page shows the phone number \(1\d{10}\)/);
  expect(stdout).toContain('wx.login with a button on screen: 15 calls in 60 min = 0.25 per minute');
  expect(stdout).toContain('counts wx.login 21, login POSTs 1, wx.request 11, wx.uploadFile 5, wx.downloadFile 1');
  expect(stdout).toContain('✔ all 17 steps behaved');
  expect(stdout).not.toMatch(/[A-Za-z0-9_-]{43}/); // no token printed
}, TIMEOUT_MS);

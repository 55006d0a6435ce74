/**
 * The demo journey, shared by `npm start` (scripts/demo.ts) and its end-to-end test: each step
 * acts, then checks what the user and the server would see, and throws naming the step.
 * Needs DOM globals (global-jsdom) before miniprogram-simulate loads.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pc from 'picocolors';
import { buildServer } from '../server/app';
import { buildEmulator } from '../server/emulator';
import { buildDemo } from './build-demo';
import { createNodeWx, type WxTrace } from './node-wx';

const APPID = 'wxdemo0000000000';
const TOKEN_TTL_S = 7200;
const STORAGE_KEY = 'wx-login-kit:token';

interface PageComponent {
  data: { status: string; openid: string; error: string };
  instance: { loadMe(): Promise<void> };
  attach(parent: Element): void;
  detach(): void;
  querySelector(selector: string): { dom: Element } | undefined;
}

export interface JourneyResult {
  steps: number;
  counts: { login: number; loginPosts: number; request: number };
}

export async function runJourney({ log }: { log: (line: string) => void }): Promise<JourneyResult> {
  const appDir = await buildDemo();
  const secret = randomBytes(16).toString('hex');
  let serverClockOffset = 0;
  const emulator = buildEmulator({ apps: { [APPID]: secret } });
  const emulatorBase = await emulator.app.listen({ port: 0, host: '127.0.0.1' });
  const server = buildServer({
    wechat: { apiBase: emulatorBase, appid: APPID, secret },
    tokenTtlSeconds: TOKEN_TTL_S,
    now: () => Date.now() + serverClockOffset,
  });
  const baseURL = await server.listen({ port: 0, host: '127.0.0.1' });
  let loginPosts = 0;
  const trace = (e: WxTrace) => {
    if (e.kind === 'wx.login') log(`    ${pc.magenta('wx.login')} -> ${e.code ? `a code (${e.code.length} chars, not shown: it is a credential for 5 minutes)` : e.errMsg}`);
    else {
      const p = e.url.replace(baseURL, '');
      if (p === '/auth/login') loginPosts++;
      const status = e.statusCode ?? e.errMsg;
      const color = e.statusCode && e.statusCode < 300 ? pc.green : pc.red;
      log(`    ${pc.blue(`${e.method} ${p}`)}${e.authorized ? pc.dim(' [Bearer token]') : ''} -> ${color(String(status))}`);
    }
  };
  const client = createNodeWx({ emulatorBase, appid: APPID, user: 'alice', extConfig: { baseURL }, onTrace: trace });
  const g = globalThis as Record<string, unknown>;
  // miniprogram-simulate installs its own wx stubs when required: ours go on top.
  const simulate = require('miniprogram-simulate') as {
    load(p: string, opts?: object): string;
    render(id: string): PageComponent;
  };
  g.wx = Object.assign((g.wx as object) ?? {}, client.wx);

  let stepCount = 0;
  let snapshot = { ...client.counts, loginPosts };
  async function step(name: string, act: () => Promise<void> | void) {
    stepCount++;
    log(pc.bold(`${stepCount}. ${name}`));
    snapshot = { ...client.counts, loginPosts };
    try {
      await act();
    } catch (err) {
      throw Object.assign(err as Error, { step: `${stepCount}. ${name}` });
    }
  }
  const since = () => ({
    login: client.counts.login - snapshot.login,
    loginPosts: loginPosts - snapshot.loginPosts,
    request: client.counts.request - snapshot.request,
  });
  function expect(what: string, ok: boolean, detail = '') {
    if (!ok) throw new Error(`expected ${what}${detail ? `, got ${detail}` : ''}`);
    log(`    ${pc.green('✔')} ${what}`);
  }

  /** A cold start: fresh JS (modules re-evaluated), same storage, like WeChat relaunching the app. */
  function launchApp() {
    const cache = (require as unknown as NodeJS.Require).cache;
    for (const key of Object.keys(cache)) if (key.startsWith(appDir)) delete cache[key];
    let app: { globalData: Record<string, unknown>; onLaunch(this: unknown): void } | undefined;
    g.App = (options: typeof app) => (app = options);
    g.getApp = () => app;
    require(path.join(appDir, 'app'));
    if (!app) throw new Error('miniprogram/app.ts did not call App()');
    app.onLaunch.call(app);
    // The same module instance app.ts used: the kit's default auth instance.
    const kit = require(path.join(appDir, 'node_modules/wx-login-kit')) as typeof import('../src/index');
    const page = simulate.render(simulate.load(path.join(appDir, 'pages/index/index'), { compiler: 'simulate' }));
    page.attach(document.createElement('parent-wrapper'));
    return { app, auth: kit.getDefaultAuth(), page };
  }
  const stored = () => (client.storage.getStorageSync(STORAGE_KEY) as { token?: string } | '') || null;

  try {
    let run!: ReturnType<typeof launchApp>;
    let firstToken = '';
    let openid = '';

    await step('launch: App.onLaunch -> auth.launch(this) with nothing stored', async () => {
      run = launchApp();
      const token = await run.auth.ensureLogin(); // shares the login launch started
      firstToken = token;
      const d = since();
      expect('one wx.login', d.login === 1, String(d.login));
      expect('one POST /auth/login', d.loginPosts === 1, String(d.loginPosts));
      expect('token in getApp().globalData.token', run.app.globalData.token === token);
      expect(`token in storage under "${STORAGE_KEY}"`, stored()?.token === token);
      expect('a 256-bit base64url token (43 chars)', /^[A-Za-z0-9_-]{43}$/.test(token), `${token.length} chars`);
    });

    await step('page: the "GET /api/me" button (its bindtap, loadMe)', async () => {
      await run.page.instance.loadMe();
      const d = since();
      openid = run.page.data.openid;
      expect('page shows "logged in"', run.page.data.status === 'logged in', `${run.page.data.status} ${run.page.data.error}`);
      expect(`page shows the openid (${openid})`, /^o[A-Za-z0-9_-]{27}$/.test(openid), openid);
      expect('one request, no login', d.request === 1 && d.login === 0, JSON.stringify(d));
    });

    await step(`server expires the token (its clock moves ${TOKEN_TTL_S} s on)`, async () => {
      serverClockOffset += (TOKEN_TTL_S + 1) * 1000;
      await run.page.instance.loadMe();
      const d = since();
      expect('401, then one wx.login and one POST /auth/login, then the retry', d.login === 1 && d.loginPosts === 1 && d.request === 3, JSON.stringify(d));
      expect('page shows "logged in" with the same openid', run.page.data.status === 'logged in' && run.page.data.openid === openid, run.page.data.openid);
      const token = run.auth.token;
      expect('a new token, stored and in globalData', !!token && token !== firstToken && stored()?.token === token && run.app.globalData.token === token);
    });

    await step('relaunch: the app starts cold with the token in storage', async () => {
      run.page.detach();
      const token = stored()?.token;
      run = launchApp();
      await run.auth.ensureLogin();
      expect('token restored into globalData with no wx.login and no request', run.app.globalData.token === token && since().login === 0 && since().request === 0, JSON.stringify(since()));
      await run.page.instance.loadMe();
      const d = since();
      expect('GET /api/me 200 with the restored token', run.page.data.status === 'logged in' && run.page.data.openid === openid, run.page.data.status);
      expect('still no wx.login, one request', d.login === 0 && d.request === 1, JSON.stringify(d));
    });
    run.page.detach();

    return { steps: stepCount, counts: { login: client.counts.login, loginPosts, request: client.counts.request } };
  } finally {
    await server.close();
    await emulator.app.close();
  }
}

/**
 * The demo journey, shared by `npm start` (scripts/demo.ts) and its end-to-end test: each step
 * acts, then checks what the user and the server would see, and throws naming the step.
 * Needs DOM globals (global-jsdom) before miniprogram-simulate loads.
 */
import FakeTimers from '@sinonjs/fake-timers';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pc from 'picocolors';
import { buildServer } from '../reference-server/app';
import { buildEmulator } from '../emulator';
import { buildDemo } from './build-demo';
import { createNodeWx, type WxTrace } from './node-wx';

const APPID = 'wxdemo0000000000';
/** How long the server's tokens live, s. DEMO_TOKEN_TTL_S=0 makes it reject every token: a way to see a step fail. */
const TOKEN_TTL_S = Number(process.env.DEMO_TOKEN_TTL_S ?? 7200);
const STORAGE_KEY = 'wx-login-kit:token';

interface PageComponent {
  data: { status: string; openid: string; phone: string; error: string; agreed: boolean; nickname: string; avatarUrl: string; privacy: boolean };
  instance: { loadMe(): Promise<void> };
  attach(parent: Element): void;
  detach(): void;
  querySelector(selector: string): PageComponent | undefined;
  dispatchEvent(event: string, options: { detail: unknown }): void;
}

/** Lets pending promise callbacks run (a real macrotask; setImmediate is not on the simulated clock). */
const flush = () => new Promise((resolve) => setImmediate(resolve));

/** What one phase of the journey cost before the user's first authorized answer. */
export interface JourneyPhase {
  name: string;
  /** Serial hops (wx.login, wx.request) until the first 2xx answer to a call with a token or a login code; after a 401, counted from the 401. */
  hops: number;
  login: number;
  loginPosts: number;
  code2Session: number;
}

export interface JourneyResult {
  steps: number;
  counts: { login: number; loginPosts: number; request: number; uploadFile: number; downloadFile: number };
  phases: JourneyPhase[];
}

export async function runJourney({ log }: { log: (line: string) => void }): Promise<JourneyResult> {
  const appDir = await buildDemo();
  const secret = randomBytes(16).toString('hex');
  let serverClockOffset = 0;
  const emulator = buildEmulator({ apps: { [APPID]: secret } });
  let code2Sessions = 0;
  emulator.app.addHook('onRequest', async (req) => {
    if (req.url.startsWith('/sns/jscode2session')) code2Sessions++;
  });
  const emulatorBase = await emulator.app.listen({ port: 0, host: '127.0.0.1' });
  const server = buildServer({
    wechat: { apiBase: emulatorBase, appid: APPID, secret },
    tokenTtlSeconds: TOKEN_TTL_S,
    now: () => Date.now() + serverClockOffset,
  });
  const baseURL = await server.listen({ port: 0, host: '127.0.0.1' });
  let loginPosts = 0;
  /** The body of the latest POST /auth/phone (never printed), and whether it carried the token. */
  let phoneBody: { code?: string; phoneCode?: string } = {};
  let phoneAuthorized = false;
  /** Every wx.login and wx.request answered, in order: the hops. */
  const completed: WxTrace[] = [];
  const waiters: Array<{ match: (e: WxTrace) => boolean; resolve: () => void }> = [];
  /** Resolves at the next trace event that matches. */
  const next = (match: (e: WxTrace) => boolean) => new Promise<void>((resolve) => waiters.push({ match, resolve }));
  const trace = (e: WxTrace) => {
    for (const w of waiters.splice(0)) (w.match(e) ? w.resolve() : waiters.push(w));
    if (e.kind === 'sent') return;
    completed.push(e);
    if (e.kind === 'wx.login') {
      log(`    ${pc.magenta('wx.login')} -> ${e.code ? `a code (${e.code.length} chars, not shown: it is a credential for 5 minutes)` : e.errMsg}`);
    } else {
      const p = e.url.replace(baseURL, '');
      if (p === '/auth/phone') [phoneBody, phoneAuthorized] = [e.data as typeof phoneBody, e.authorized];
      if (p === '/auth/login') loginPosts++;
      const status = e.statusCode ?? e.errMsg;
      const color = e.statusCode && e.statusCode < 300 ? pc.green : pc.red;
      const api = e.api === 'request' ? '' : pc.dim(` (wx.${e.api})`);
      const credential = e.authorized ? ' [Bearer token]' : e.loginCode ? ' [login code]' : '';
      log(`    ${pc.blue(`${e.method} ${p}`)}${api}${pc.dim(credential)} -> ${color(String(status))}`);
    }
  };
  const client = createNodeWx({ emulatorBase, appid: APPID, user: 'alice', extConfig: { baseURL }, onTrace: trace });
  const g = globalThis as Record<string, unknown>;
  // Node 20 has its own CustomEvent, which global-jsdom leaves in place; jsdom's DOM needs its own.
  g.CustomEvent = window.CustomEvent;
  g.Event = window.Event;
  // miniprogram-simulate installs its own wx stubs when required: ours go on top.
  const simulate = require('miniprogram-simulate') as {
    load(p: string, opts?: object): string;
    render(id: string): PageComponent;
  };
  const npmComponent = (name: string) => path.join(appDir, 'miniprogram_npm/wx-login-kit/components', name, 'index');
  /** Loads and attaches a page; npm component paths are resolved the way WeChat resolves miniprogram_npm. */
  function openPage(name: string): PageComponent {
    const dir = path.join(appDir, 'pages', name);
    const used = (JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { usingComponents?: Record<string, string> }).usingComponents ?? {};
    const usingComponents = Object.fromEntries(Object.keys(used).map((tag) => [tag, path.relative(dir, npmComponent(tag))]));
    const page = simulate.render(simulate.load(path.join(dir, 'index'), { compiler: 'simulate', usingComponents }));
    page.attach(document.createElement('parent-wrapper'));
    return page;
  }
  g.wx = Object.assign((g.wx as object) ?? {}, client.wx);

  let stepCount = 0;
  let snapshot = { ...client.counts, loginPosts };
  const phases: JourneyPhase[] = [];
  /**
   * Records a phase: the hops from `completed[from]` to the first 2xx answer to a call that
   * carried a token or a login code (they run one after another here), and what the step cost.
   */
  function phase(name: string, from: number, counts: { login: number; loginPosts: number }, c2s: number): JourneyPhase {
    const at = completed.findIndex((e, i) => i >= from && e.kind === 'wx.request' && (e.authorized || e.loginCode) && !!e.statusCode && e.statusCode < 300);
    const p = { name, hops: at < 0 ? NaN : at - from + 1, login: counts.login, loginPosts: counts.loginPosts, code2Session: code2Sessions - c2s };
    phases.push(p);
    return p;
  }
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
    upload: client.counts.uploadFile - snapshot.uploadFile,
    download: client.counts.downloadFile - snapshot.downloadFile,
  });
  function expect(what: string, ok: boolean, detail = '') {
    if (!ok) throw new Error(`expected ${what}${detail ? `, got ${detail}` : ''}`);
    log(`    ${pc.green('✔')} ${what}`);
  }

  /** A cold start: fresh JS (modules re-evaluated, a new global object), same storage, like WeChat relaunching the app. */
  function launchApp() {
    const cache = (require as unknown as NodeJS.Require).cache;
    for (const key of Object.keys(cache)) if (key.startsWith(appDir)) delete cache[key];
    // The kit's instance registry lives on the global object, which a cold start makes anew.
    delete (g as Record<symbol, unknown>)[Symbol.for('wx-login-kit')];
    let app: { globalData: Record<string, unknown>; onLaunch(this: unknown): void } | undefined;
    g.App = (options: typeof app) => (app = options);
    g.getApp = () => app;
    require(path.join(appDir, 'app'));
    if (!app) throw new Error('miniprogram/app.ts did not call App()');
    app.onLaunch.call(app);
    // The same module instance app.ts used: the kit's default auth instance.
    const kit = require(path.join(appDir, 'node_modules/wx-login-kit')) as typeof import('../src/index');
    return { app, auth: kit.getDefaultAuth(), page: openPage('index') };
  }
  const stored = () => (client.storage.getStorageSync(STORAGE_KEY) as { token?: string } | '') || null;

  let clock: ReturnType<ReturnType<typeof FakeTimers.withGlobal>['install']> | undefined;
  try {
    let run!: ReturnType<typeof launchApp>;
    let firstToken = '';
    let openid = '';

    await step('launch: App.onLaunch -> auth.launch(this) with nothing stored; the page\'s first GET /api/me (its onLoad) carries the login', async () => {
      const from = completed.length;
      const c2s = code2Sessions;
      run = launchApp();
      await run.page.instance.loadMe(); // what its onLoad does, while launch's wx.login runs
      const token = await run.auth.ensureLogin(); // the login that GET carried
      firstToken = token;
      const d = since();
      openid = run.page.data.openid;
      expect('one wx.login', d.login === 1, String(d.login));
      expect('no POST /auth/login: the GET carried the code (X-WX-Login-Code), its answer brought the token (X-WX-Token)', d.loginPosts === 0 && d.request === 1, JSON.stringify(d));
      expect(`page shows "logged in" with the openid (${openid})`, run.page.data.status === 'logged in' && /^o[A-Za-z0-9_-]{27}$/.test(openid), `${run.page.data.status} ${run.page.data.error}`);
      expect('token in getApp().globalData.token', run.app.globalData.token === token);
      expect(`token in storage under "${STORAGE_KEY}"`, stored()?.token === token);
      expect('a 256-bit base64url token (43 chars)', /^[A-Za-z0-9_-]{43}$/.test(token), `${token.length} chars`);
      const p = phase('cold start', from, d, c2s);
      expect('2 serial hops to the first answer (wx.login, the GET), one code2Session', p.hops === 2 && p.code2Session === 1, JSON.stringify(p));
    });

    await step('page: the "GET /api/me" button (its bindtap, loadMe)', async () => {
      await run.page.instance.loadMe();
      const d = since();
      expect('page shows "logged in" with the same openid', run.page.data.status === 'logged in' && run.page.data.openid === openid, `${run.page.data.status} ${run.page.data.error}`);
      expect('one request, no login', d.request === 1 && d.login === 0, JSON.stringify(d));
    });

    await step(`server expires the token (its clock moves ${TOKEN_TTL_S} s on)`, async () => {
      serverClockOffset += (TOKEN_TTL_S + 1) * 1000;
      const from = completed.length;
      const c2s = code2Sessions;
      await run.page.instance.loadMe();
      const d = since();
      expect('401, then one wx.login, then the retry carrying its code; no POST /auth/login', d.login === 1 && d.loginPosts === 0 && d.request === 2, JSON.stringify(d));
      const p = phase('after a 401', from + 1, d, c2s);
      expect('2 serial hops after the 401 (wx.login, the retry), one code2Session', p.hops === 2 && p.code2Session === 1, JSON.stringify(p));
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

    await step('relaunch after the stored token\'s expiry (a launch 2 hours later): the first GET carries the login', async () => {
      run.page.detach();
      const kept = stored() as { token: string; expiresAt: number };
      client.storage.setStorageSync(STORAGE_KEY, { ...kept, expiresAt: Date.now() - 1 });
      const from = completed.length;
      const c2s = code2Sessions;
      run = launchApp();
      await run.page.instance.loadMe();
      const d = since();
      expect('the expired token is not sent: one wx.login, the GET with the code; no POST /auth/login', d.login === 1 && d.loginPosts === 0 && d.request === 1, JSON.stringify(d));
      expect('page shows "logged in" with the same openid, a new token stored', run.page.data.openid === openid && !!run.auth.token && run.auth.token !== kept.token && stored()?.token === run.auth.token);
      const p = phase('after expiry', from, d, c2s);
      expect('2 serial hops to the first answer, one code2Session', p.hops === 2 && p.code2Session === 1, JSON.stringify(p));
    });

    // An avatar as wx.chooseMedia/chooseAvatar would hand it over: a temporary local file.
    const avatarPath = path.join(appDir, '..', 'avatar.png');
    const avatar = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(2048)]);
    fs.writeFileSync(avatarPath, avatar);
    let avatarUrl = '';
    await step('upload an avatar: auth.uploadFile (wx.uploadFile, multipart) to POST /api/avatar', async () => {
      const progress: number[] = [];
      const res = await run.auth.uploadFile<{ id: string; url: string; size: number }>({ url: '/api/avatar', filePath: avatarPath, name: 'avatar', onProgressUpdate: (p) => progress.push(p.progress) });
      const d = since();
      avatarUrl = res.json?.url ?? '';
      expect('200 with the file id, the size as sent', res.statusCode === 200 && res.json?.size === avatar.length && /^\/api\/files\//.test(avatarUrl), res.data);
      expect('one upload with the token, no login', d.upload === 1 && d.login === 0 && d.loginPosts === 0, JSON.stringify(d));
      expect('upload progress reached the caller', progress.at(-1) === 100, JSON.stringify(progress));
    });

    await step('download it: auth.downloadFile (wx.downloadFile) from GET /api/files/:id', async () => {
      const res = await run.auth.downloadFile({ url: avatarUrl });
      const d = since();
      expect('200, a temporary file with the very bytes uploaded', res.statusCode === 200 && fs.readFileSync(res.tempFilePath).equals(avatar), res.tempFilePath);
      expect('one download with the token, no login', d.download === 1 && d.login === 0, JSON.stringify(d));
    });

    await step(`server expires the token again: the upload gets 401, one re-login, the file is sent again`, async () => {
      serverClockOffset += (TOKEN_TTL_S + 1) * 1000;
      const res = await run.auth.uploadFile<{ size: number }>({ url: '/api/avatar', filePath: avatarPath, name: 'avatar' });
      const d = since();
      expect('200 after the retry', res.statusCode === 200 && res.json?.size === avatar.length, res.data);
      expect('two uploads (401, then the retry), one wx.login, one POST /auth/login', d.upload === 2 && d.login === 1 && d.loginPosts === 1, JSON.stringify(d));
    });

    await step('abort mid-flight: abort() once the upload has left', async () => {
      const call = run.auth.uploadFile({ url: '/api/avatar', filePath: avatarPath, name: 'avatar' });
      await next((e) => e.kind === 'sent' && e.api === 'uploadFile').then(() => call.abort());
      const err = await call.then(() => null, (e: Error) => e);
      await flush();
      const d = since();
      expect('rejects AbortError', err?.name === 'AbortError', String(err));
      expect('nothing more sent, nobody logged in', d.upload === 1 && d.request === 0 && d.login === 0 && d.loginPosts === 0, JSON.stringify(d));
    });
    run.page.detach();

    let loginPage!: PageComponent;
    let tapButton!: (detail: unknown) => void;
    let agreeButton!: () => void;
    let buttonPrivacy!: () => boolean;
    await step('open pages/login: <login-button> attached, a code prefetched', async () => {
      // From here time runs on a simulated clock (@sinonjs/fake-timers: Date and timers; real I/O
      // goes on, shouldAdvanceTime keeps it moving), so "4 minutes" can pass at once.
      clock = FakeTimers.withGlobal(globalThis).install({
        toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
        shouldAdvanceTime: true,
        shouldClearNativeTimers: true, // undici clears timers it set before the clock was installed
      });
      const prefetched = next((e) => e.kind === 'wx.login');
      // A user who has not agreed to the privacy guide yet (wx.getPrivacySetting: needAuthorization).
      client.privacy.needAuthorization = true;
      loginPage = openPage('login');
      const button = loginPage.querySelector('#phone-login')!;
      const inner = button.querySelector('.wx-login-kit-button')!;
      tapButton = (detail) => inner.dispatchEvent('getphonenumber', { detail });
      agreeButton = () => inner.dispatchEvent('agreeprivacyauthorization', { detail: { errMsg: 'agreePrivacyAuthorization:ok' } });
      buttonPrivacy = () => button.data.privacy;
      await prefetched;
      await flush();
      const d = since();
      expect('one wx.login ahead of any tap, no request', d.login === 1 && d.request === 0, JSON.stringify(d));
      expect('privacy guide not agreed: open-type="getPhoneNumber|agreePrivacyAuthorization"', buttonPrivacy());
    });

    await step('4 minutes pass (simulated clock: clock.tickAsync(240 s))', async () => {
      const refreshed = next((e) => e.kind === 'wx.login');
      await clock!.tickAsync(4 * 60_000 + 100);
      await refreshed;
      const d = since();
      expect('the kept code was refreshed: one wx.login, no request', d.login === 1 && d.request === 0, JSON.stringify(d));
    });

    await step('tap denied (getPhoneNumber:fail user deny)', async () => {
      tapButton({ errMsg: 'getPhoneNumber:fail user deny' });
      await flush();
      expect('fail {reason: denied} shown on the page', loginPage.data.error === 'You chose not to share your phone number.', loginPage.data.error);
      expect('nothing sent, no wx.login', since().request === 0 && since().login === 0, JSON.stringify(since()));
    });

    await step('tap with the phone-number quota used up (errno 1400001)', async () => {
      tapButton({ errMsg: 'getPhoneNumber:fail', errno: 1400001 });
      await flush();
      expect('fail {reason: quota} shown as a clear message', /unavailable right now/.test(loginPage.data.error), loginPage.data.error);
      expect('nothing sent, no wx.login', since().request === 0 && since().login === 0, JSON.stringify(since()));
    });

    await step('one tap agrees to the privacy guide and allows: WeChat hands the logged-in user\'s button a phone code', async () => {
      const detail = await client.openData('getPhoneNumber');
      const before = run.auth.token;
      const answered = next((e) => e.kind === 'wx.request' && e.url.endsWith('/auth/phone'));
      const c2s = code2Sessions;
      // What WeChat does on that one tap: the agree event, then the phone-number event.
      agreeButton();
      client.privacy.needAuthorization = false;
      tapButton(detail);
      await answered;
      await flush();
      const phone = loginPage.data.phone;
      expect(`page shows the phone number (${phone})`, /^1\d{10}$/.test(phone), `"${phone}" ${loginPage.data.error}`);
      expect('POST /auth/phone carried {phoneCode} and the token: the number is bound to the logged-in user', phoneAuthorized && Object.keys(phoneBody).join() === 'phoneCode');
      expect('no new session, no code2Session: the token stays', run.auth.token === before && code2Sessions === c2s);
      expect('no wx.login: the code kept before the tap is still unused, for the next tap', since().login === 0, JSON.stringify(since()));
      expect('the page saw agreeprivacy; the button is back to open-type="getPhoneNumber"', loginPage.data.agreed && !buttonPrivacy());
    });
    await step('measure: the button on screen for 60 simulated minutes, ticked a minute at a time', async () => {
      for (let minute = 0; minute < 60; minute++) {
        const before = client.counts.login;
        await clock!.tickAsync(60_000);
        // A refresh started during this minute: let its real HTTP round trip finish.
        if (client.counts.login > before) await next((e) => e.kind === 'wx.login');
      }
      const calls = since().login;
      log(`    ${pc.bold(`wx.login with a button on screen: ${calls} calls in 60 min = ${(calls / 60).toFixed(2)} per minute`)}`);
      expect('one wx.login per 4 minutes (15 in 60 min), no request', calls === 15 && since().request === 0, `${calls} calls, ${since().request} requests`);
    });
    loginPage.detach();

    await step('open pages/profile: choose an avatar, type a nickname WeChat passes, save', async () => {
      const page = openPage('profile');
      const profile = page.querySelector('#profile')!;
      const el = (selector: string) => profile.querySelector(selector)!;
      el('.wx-login-kit-avatar').dispatchEvent('chooseavatar', { detail: { avatarUrl: avatarPath } });
      el('.wx-login-kit-nickname').dispatchEvent('input', { detail: { value: '小明' } });
      el('.wx-login-kit-nickname').dispatchEvent('nicknamereview', { detail: { pass: true, timeout: false } });
      await flush();
      const saved = next((e) => e.kind === 'wx.request' && e.url.endsWith('/api/profile'));
      el('.wx-login-kit-save').dispatchEvent('tap', { detail: {} });
      await saved;
      await flush();
      const d = since();
      expect('the page shows the nickname the server saved', page.data.nickname === '小明', `${page.data.nickname} ${page.data.error}`);
      expect('the avatar is the uploaded file', /^\/api\/files\//.test(page.data.avatarUrl), page.data.avatarUrl);
      expect('one avatar upload and one POST /api/profile, both with the token; no login', d.upload === 1 && d.request === 1 && d.login === 0, JSON.stringify(d));
      page.detach();
    });

    await step('log out: auth.logout() forgets the token, then POST /auth/logout ends the session on the server', async () => {
      const old = run.auth.token!;
      const ended = next((e) => e.kind === 'wx.request' && e.url.endsWith('/auth/logout'));
      run.auth.logout();
      expect('token gone from the kit, globalData and storage at once', run.auth.token === null && run.app.globalData.token === null && stored() === null);
      await ended;
      const err = await run.auth.request({ url: '/api/me', auth: false, header: { Authorization: `Bearer ${old}` } }).then(
        () => null,
        (e: Error & { statusCode?: number }) => e,
      );
      expect('the old token is refused: GET /api/me with it answers 401', err?.statusCode === 401, String(err));
      const d = since();
      expect('one POST /auth/logout and that GET; no wx.login, no login POST', d.request === 2 && d.login === 0 && d.loginPosts === 0, JSON.stringify(d));
    });

    return { steps: stepCount, counts: { login: client.counts.login, loginPosts, request: client.counts.request, uploadFile: client.counts.uploadFile, downloadFile: client.counts.downloadFile }, phases };
  } finally {
    clock?.uninstall();
    await server.close();
    await emulator.app.close();
  }
}

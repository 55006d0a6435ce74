/**
 * Login state you can trust: a logout wins over a login at every stage, and ends the session on
 * the server too. Fake timers drive every stage; nothing sleeps.
 */
import { createAuth, HTTPError, LoginError, NetworkError, type WxLoginKitError } from 'wx-login-kit';
import { createScriptedServer, type FakeRequest } from '../support/fake-wx';
import { settle } from '../support/timers';

const BASE = 'https://api.example.com';
const KEY = 'wx-login-kit:token';

function setup(extra: Partial<Parameters<typeof createAuth>[0]> = {}) {
  const server = createScriptedServer();
  const auth = createAuth({ baseURL: BASE, wx: server.fake.wx, ...extra });
  const app = { globalData: {} as Record<string, unknown> };
  const errors: WxLoginKitError[] = [];
  auth.on('error', (e) => errors.push(e));
  const sent = (path: string) => server.fake.state.requests.filter((r) => r.url === BASE + path);
  const logins = () => sent('/auth/login').length;
  /** What the app sees: the kit's token, globalData's, storage's. */
  const state = () => [auth.token, app.globalData.token, server.fake.wx.getStorageSync(KEY)];
  return { server, auth, app, errors, sent, logins, state, fake: server.fake };
}

/** A login's rejection, caught so that the test can look at it; fails the test if it resolved. */
const failure = (p: Promise<unknown>): Promise<LoginError> =>
  p.then(
    () => Promise.reject(new Error('the login resolved')),
    (e: LoginError) => e,
  );

beforeEach(() => {
  jest.useFakeTimers();
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('wx-login-kit')]; // a fresh app: no instance registered
});
afterEach(() => jest.useRealTimers());

describe('a logout during a login wins at every stage', () => {
  it('during wx.login: the login rejects ABORTED, no login POST is sent, nothing is stored', async () => {
    const { auth, app, logins, state, fake } = setup();
    const login = failure(auth.launch(app));
    await jest.advanceTimersByTimeAsync(5); // wx.login answers at 10 ms
    auth.logout();
    expect(await settle(login)).toMatchObject({ name: 'LoginError', code: 'ABORTED' });
    expect(fake.state.loginCalls).toBe(1);
    expect(logins()).toBe(0);
    expect(state()).toEqual([null, null, '']);
  });

  it('during the login POST: the token it answers is not stored', async () => {
    const { auth, app, server, logins, state } = setup();
    server.loginReplies.push({ statusCode: 200, data: { token: 'late', expiresIn: 3600 }, delay: 1000 });
    const login = failure(auth.launch(app));
    await jest.advanceTimersByTimeAsync(20); // wx.login done, the POST in flight
    expect(logins()).toBe(1);
    auth.logout();
    expect(await settle(login)).toMatchObject({ name: 'LoginError', code: 'ABORTED' });
    expect(state()).toEqual([null, null, '']);
  });

  it('during the login POST that then fails with a 5xx: ABORTED as the 503 arrives, with no backoff wait and no retry', async () => {
    const { auth, server, logins } = setup();
    server.loginReplies.push({ statusCode: 503, data: {}, delay: 1000 }); // answered at 1010 ms
    let outcome: unknown;
    void failure(auth.login()).then((e) => (outcome = e.code));
    await jest.advanceTimersByTimeAsync(20);
    auth.logout();
    await jest.advanceTimersByTimeAsync(989);
    expect(outcome).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1);
    expect(outcome).toBe('ABORTED');
    await jest.runAllTimersAsync();
    expect(logins()).toBe(1);
  });

  it('during the backoff wait after a 503: the wait ends at once, and the retry never happens', async () => {
    const { auth, app, server, logins, state, fake } = setup();
    server.loginReplies.push({ statusCode: 503, data: { error: 'wechat_busy' } });
    let outcome: unknown;
    void auth.launch(app).then(
      () => (outcome = 'resolved'),
      (e: LoginError) => (outcome = e.code),
    );
    await jest.advanceTimersByTimeAsync(20); // 503 answered; the retry is due in 500 ms
    expect(logins()).toBe(1);
    const now = Date.now();
    auth.logout();
    await jest.advanceTimersByTimeAsync(0); // no time passes
    expect(outcome).toBe('ABORTED');
    expect(Date.now()).toBe(now);
    await jest.runAllTimersAsync();
    expect(logins()).toBe(1);
    expect(fake.state.loginCalls).toBe(1);
    expect(state()).toEqual([null, null, '']);
  });

  it('while parsing the answer (a parseLogin that logs out): nothing is stored', async () => {
    let auth!: ReturnType<typeof createAuth>;
    const parsed = setup({
      parseLogin: (data) => {
        auth.logout();
        return data as { token: string };
      },
    });
    auth = parsed.auth;
    expect(await settle(failure(auth.login()))).toMatchObject({ code: 'ABORTED' });
    expect(parsed.state()).toEqual([null, undefined, '']);
  });

  it('every caller sharing the aborted login rejects ABORTED, once on the error event', async () => {
    const { auth, errors } = setup();
    const all = [auth.login(), auth.ensureLogin(), auth.request({ url: '/api/me' })].map(failure);
    await jest.advanceTimersByTimeAsync(5);
    auth.logout();
    const errs = await settle(Promise.all(all));
    expect(errs.map((e) => e.code)).toEqual(['ABORTED', 'ABORTED', 'ABORTED']);
    expect(errs[0].message).toBe('[wx-login-kit] logout() during the login; nothing stored');
    expect(errors).toEqual([errs[0]]);
  });

  it('a login started after the logout is not touched by it, even during the old backoff', async () => {
    const { auth, server, logins } = setup();
    server.loginReplies.push({ statusCode: 503, data: {} });
    const old = failure(auth.login());
    await jest.advanceTimersByTimeAsync(20);
    auth.logout();
    const next = auth.login();
    expect(await settle(old)).toMatchObject({ code: 'ABORTED' });
    await expect(settle(next)).resolves.toBe('tok-1');
    expect(auth.token).toBe('tok-1');
    expect(logins()).toBe(2);
  });
});

describe('logout ends the session on the server', () => {
  it('POSTs the token it had to /auth/logout, after memory, globalData and storage are cleared and logout emitted', async () => {
    const { auth, app, server, sent, state } = setup();
    await settle(auth.launch(app));
    const seen: string[] = [];
    auth.on('logout', () => seen.push('logout'));
    const inner = server.handler;
    server.handler = (req: FakeRequest) => {
      if (req.url.endsWith('/auth/logout')) seen.push(`POST with ${JSON.stringify(state())}`);
      return inner(req);
    };
    auth.logout();
    await settle(Promise.resolve());
    expect(seen).toEqual(['logout', 'POST with [null,null,""]']);
    expect(sent('/auth/logout')).toMatchObject([{ method: 'POST', header: { Authorization: 'Bearer tok-1' } }]);
    expect(server.live.has('tok-1')).toBe(false);
  });

  it('the old token is refused by the server afterwards', async () => {
    const { auth } = setup();
    const token = await settle(auth.login());
    auth.logout();
    await settle(Promise.resolve());
    const res = auth.request({ url: '/api/me', auth: false, header: { Authorization: `Bearer ${token}` } });
    await expect(settle(res)).rejects.toMatchObject({ name: 'HTTPError', statusCode: 401 });
  });

  it('logout({ everywhere: true }) POSTs to /auth/logout-all instead', async () => {
    const { auth, server, sent } = setup();
    await settle(auth.login());
    auth.logout({ everywhere: true });
    await settle(Promise.resolve());
    expect(sent('/auth/logout')).toHaveLength(0);
    expect(sent('/auth/logout-all')).toMatchObject([{ method: 'POST', header: { Authorization: 'Bearer tok-1' } }]);
    expect(server.live.size).toBe(0);
  });

  it('logoutPath and logoutAllPath choose the endpoints, relative to baseURL', async () => {
    const { auth, sent } = setup({ logoutPath: '/session/end', logoutAllPath: '/session/end-all' });
    await settle(auth.login());
    auth.logout();
    await settle(auth.login());
    auth.logout({ everywhere: true });
    await settle(Promise.resolve());
    expect(sent('/session/end').map((r) => r.header.Authorization)).toEqual(['Bearer tok-1']);
    expect(sent('/session/end-all').map((r) => r.header.Authorization)).toEqual(['Bearer tok-2']);
  });

  it('logoutPath: false and logoutAllPath: false keep logout local', async () => {
    const { auth, fake } = setup({ logoutPath: false, logoutAllPath: false });
    await settle(auth.login());
    auth.logout();
    await settle(auth.login());
    auth.logout({ everywhere: true });
    await settle(Promise.resolve());
    expect(fake.state.requests.map((r) => r.url)).toEqual([`${BASE}/auth/login`, `${BASE}/auth/login`]);
  });

  it('an option passed as undefined keeps its default', async () => {
    const { auth, sent } = setup({ logoutPath: undefined });
    await settle(auth.login());
    auth.logout();
    await settle(Promise.resolve());
    expect(sent('/auth/logout')).toHaveLength(1);
  });

  it('sends nothing when there was no token', async () => {
    const { auth, fake } = setup();
    auth.logout();
    auth.logout({ everywhere: true });
    await settle(Promise.resolve());
    expect(fake.state.requests).toHaveLength(0);
  });

  it('sends nothing for a login it aborted: there was no token yet', async () => {
    const { auth, sent } = setup();
    const login = failure(auth.login());
    await jest.advanceTimersByTimeAsync(5);
    auth.logout();
    await settle(login);
    expect(sent('/auth/logout')).toHaveLength(0);
  });

  it('an unauthorized answer is the end it wanted: no login, no retry, no error', async () => {
    const { auth, server, fake, errors } = setup();
    await settle(auth.login());
    server.live.delete('tok-1'); // the server ended it already
    auth.logout();
    await settle(Promise.resolve());
    expect(fake.state.requests.map((r) => r.url)).toEqual([`${BASE}/auth/login`, `${BASE}/auth/logout`]);
    expect(fake.state.loginCalls).toBe(1);
    expect(errors).toEqual([]);
  });

  it.each([
    ['offline', { fail: 'request:fail timeout' }, NetworkError],
    ['a 5xx', { statusCode: 503, data: {} }, HTTPError],
  ] as const)('a logout POST that fails (%s) goes to the error event once, is not retried, and rejects nothing', async (_, reply, type) => {
    const { auth, server, sent, errors, fake } = setup();
    await settle(auth.login());
    server.handler = () => reply;
    // Jest fails the test on an unhandled rejection; a real macrotask lets Node's detection run.
    auth.logout();
    await jest.runAllTimersAsync();
    await new Promise((resolve) => jest.requireActual<typeof import('timers')>('timers').setImmediate(resolve));
    expect(sent('/auth/logout')).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(type);
    expect(errors[0].message).toMatch(/^\[wx-login-kit\] POST https:\/\/api.example.com\/auth\/logout /);
    expect(errors[0].message).not.toContain('tok-1');
    expect(fake.state.loginCalls).toBe(1);
  });

  it('the token goes only to a trusted origin: a logoutPath elsewhere gets the POST without it', async () => {
    const { auth, server, fake } = setup({ logoutPath: 'https://evil.example.net/logout' });
    await settle(auth.login());
    server.handler = () => ({ statusCode: 200, data: {} });
    auth.logout();
    await settle(Promise.resolve());
    expect(fake.state.requests.at(-1)).toMatchObject({ url: 'https://evil.example.net/logout', header: {} });
  });

  it('with trustedOrigins, a logoutPath on one of them gets the token', async () => {
    const { auth, server, fake } = setup({ trustedOrigins: ['https://sso.example.com'], logoutPath: 'https://sso.example.com/logout' });
    await settle(auth.login());
    server.handler = () => ({ statusCode: 200, data: {} });
    auth.logout();
    await settle(Promise.resolve());
    expect(fake.state.requests.at(-1)).toMatchObject({ url: 'https://sso.example.com/logout', header: { Authorization: 'Bearer tok-1' } });
  });

  it('sends the token it had even when the kit had stopped using it (within expiryMargin of the server expiry)', async () => {
    const { auth, sent } = setup();
    await settle(auth.login());
    jest.advanceTimersByTime(3600_000 - 30_000); // the kit stopped using it; the server has not
    auth.logout();
    await settle(Promise.resolve());
    expect(sent('/auth/logout').map((r) => r.header.Authorization)).toEqual(['Bearer tok-1']);
  });
});

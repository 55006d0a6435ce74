import { createAuth, HTTPError, LoginError, NetworkError, WxLoginKitError } from 'wx-login-kit';
import { createScriptedServer } from '../support/fake-wx';
import { settle } from '../support/timers';

const BASE = 'https://api.example.com';

function setup(extra: Partial<Parameters<typeof createAuth>[0]> = {}) {
  const server = createScriptedServer();
  const auth = createAuth({ baseURL: BASE, wx: server.fake.wx, ...extra });
  const app = { globalData: {} as Record<string, unknown> };
  const errors: WxLoginKitError[] = [];
  auth.on('error', (e) => errors.push(e));
  const logins = () => server.fake.state.requests.filter((r) => r.url.endsWith('/auth/login')).length;
  return { server, auth, app, errors, logins, fake: server.fake };
}

beforeEach(() => {
  jest.useFakeTimers();
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('wx-login-kit')]; // a fresh app: no instance registered
});
afterEach(() => jest.useRealTimers());

describe('launch', () => {
  it('with nothing stored runs one wx.login and one login POST, and puts the token in globalData and storage', async () => {
    const { auth, app, fake, logins } = setup();
    const start = Date.now();
    const token = await settle(auth.launch(app));
    const savedAt = Date.now(); // after wx.login and the POST
    expect(token).toBe('tok-1');
    expect(fake.state.loginCalls).toBe(1);
    expect(logins()).toBe(1);
    expect(fake.state.requests[0]).toMatchObject({ method: 'POST', data: { code: 'code-1' } });
    expect(app.globalData.token).toBe('tok-1');
    expect(fake.wx.getStorageSync('wx-login-kit:token')).toEqual({ token: 'tok-1', expiresAt: savedAt + 3600_000 - 60_000 }); // the server's expiry less expiryMargin
    expect(savedAt).toBeGreaterThan(start);
    expect(auth.token).toBe('tok-1');
  });

  it('restores a stored unexpired token with no network at all', async () => {
    const { fake } = createScriptedServer();
    fake.wx.setStorageSync('wx-login-kit:token', { token: 'stored', expiresAt: Date.now() + 3600_000 });
    const auth = createAuth({ baseURL: BASE, wx: fake.wx });
    const app = { globalData: {} as Record<string, unknown> };
    await expect(settle(auth.launch(app))).resolves.toBe('stored');
    expect(app.globalData.token).toBe('stored');
    expect(fake.state.loginCalls).toBe(0);
    expect(fake.state.requests).toHaveLength(0);
  });

  it('restores a stored token without expiry (expiresAt null) with no network', async () => {
    const { fake } = createScriptedServer();
    fake.wx.setStorageSync('wx-login-kit:token', { token: 'stored', expiresAt: null });
    const auth = createAuth({ baseURL: BASE, wx: fake.wx });
    await expect(settle(auth.launch({}))).resolves.toBe('stored');
    expect(fake.state.loginCalls).toBe(0);
  });

  it('replaces an expired stored token with a login', async () => {
    const { fake } = createScriptedServer();
    fake.wx.setStorageSync('wx-login-kit:token', { token: 'old', expiresAt: Date.now() - 1 });
    const auth = createAuth({ baseURL: BASE, wx: fake.wx });
    await expect(settle(auth.launch({}))).resolves.toBe('tok-1');
    expect(fake.state.loginCalls).toBe(1);
  });

  it.each([
    ['a string', 'garbage'],
    ['a token that is not a string', { token: 5, expiresAt: null }],
    ['a non-numeric expiresAt', { token: 'x', expiresAt: 'soon' }],
  ])('ignores stored %s and logs in', async (_, stored) => {
    const { fake } = createScriptedServer();
    fake.storage.entries.set('wx-login-kit:token', JSON.stringify(stored));
    const auth = createAuth({ baseURL: BASE, wx: fake.wx });
    await expect(settle(auth.launch({}))).resolves.toBe('tok-1');
  });

  it('ignores storage that throws on read', async () => {
    const { fake } = createScriptedServer();
    fake.wx.getStorageSync = () => {
      throw new Error('getStorageSync:fail');
    };
    const auth = createAuth({ baseURL: BASE, wx: fake.wx });
    await expect(settle(auth.launch({}))).resolves.toBe('tok-1');
  });

  it('without an app, mirrors into getApp().globalData (uni-app <script setup>, where onLaunch has no this)', async () => {
    const { auth } = setup();
    const app = { globalData: {} as Record<string, unknown> };
    (globalThis as Record<string, unknown>).getApp = () => app;
    try {
      await expect(settle(auth.launch())).resolves.toBe('tok-1');
    } finally {
      delete (globalThis as Record<string, unknown>).getApp;
    }
    expect(app.globalData.token).toBe('tok-1');
  });

  it('launch(app) mirrors into the app it was given, even where getApp() returns another', async () => {
    const { auth, app } = setup();
    const other = { globalData: {} as Record<string, unknown> };
    (globalThis as Record<string, unknown>).getApp = () => other;
    try {
      await settle(auth.launch(app));
    } finally {
      delete (globalThis as Record<string, unknown>).getApp;
    }
    expect(app.globalData.token).toBe('tok-1');
    expect(other.globalData).toEqual({});
  });

  it('a later launch() without an app keeps mirroring into the app given first', async () => {
    const { auth, app } = setup();
    await settle(auth.launch(app));
    await settle(auth.launch());
    await settle(auth.login());
    expect(app.globalData.token).toBe('tok-2');
  });

  it('uses the global wx when options.wx is not given', async () => {
    const { fake } = createScriptedServer();
    (globalThis as Record<string, unknown>).wx = fake.wx;
    try {
      const auth = createAuth({ baseURL: BASE });
      await expect(settle(auth.login())).resolves.toBe('tok-1');
      expect(auth.options.wx).toBe(fake.wx);
    } finally {
      delete (globalThis as Record<string, unknown>).wx;
    }
  });

  it('takes any app object: a Vue instance sharing globalData with the mini program app (uni-app options API)', async () => {
    const { auth } = setup();
    const globalData: Record<string, unknown> = {};
    const vm = { $options: {}, globalData };
    await expect(settle(auth.launch(vm))).resolves.toBe('tok-1');
    expect(globalData.token).toBe('tok-1');
  });

  it('a failed launch that nobody awaits goes to the error event, not to an unhandled rejection', async () => {
    const { auth, server, errors } = setup({ loginRetries: 0 });
    server.loginReplies.push({ statusCode: 403, data: { error: 'user_blocked' } });
    // Jest fails the running test on an unhandled rejection (checked by hand with a bare
    // Promise.reject here); a real macrotask lets Node's detection run before the test ends.
    auth.launch({});
    await jest.runAllTimersAsync();
    await new Promise((resolve) => jest.requireActual<typeof import('timers')>('timers').setImmediate(resolve));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(LoginError);
    expect(errors[0].message).toBe('[wx-login-kit] login POST https://api.example.com/auth/login answered HTTP 403');
  });
});

describe('login and ensureLogin', () => {
  it('concurrent callers share one wx.login and one POST', async () => {
    const { auth, fake, logins } = setup();
    const all = Promise.all([auth.login(), auth.ensureLogin(), auth.login(), auth.ensureLogin()]);
    expect(await settle(all)).toEqual(['tok-1', 'tok-1', 'tok-1', 'tok-1']);
    expect(fake.state.loginCalls).toBe(1);
    expect(logins()).toBe(1);
  });

  it('ensureLogin returns the current token without network; login always logs in anew', async () => {
    const { auth, fake } = setup();
    await settle(auth.login());
    await expect(settle(auth.ensureLogin())).resolves.toBe('tok-1');
    expect(fake.state.loginCalls).toBe(1);
    await expect(settle(auth.login())).resolves.toBe('tok-2');
    expect(fake.state.loginCalls).toBe(2);
  });

  it('retries a failed wx.login with backoff (500 ms, then 1000 ms) and then succeeds', async () => {
    const { auth, fake } = setup();
    fake.state.loginFailures = 2;
    const p = auth.login();
    p.catch(() => {});
    await jest.advanceTimersByTimeAsync(10); // first wx.login fails
    expect(fake.state.loginCalls).toBe(1);
    await jest.advanceTimersByTimeAsync(499);
    expect(fake.state.loginCalls).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(fake.state.loginCalls).toBe(2);
    await jest.advanceTimersByTimeAsync(10 + 999);
    expect(fake.state.loginCalls).toBe(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(fake.state.loginCalls).toBe(3);
    await expect(settle(p)).resolves.toBe('tok-1');
  });

  it.each([
    ['a network error', { fail: 'request:fail timeout', errno: 5 }, 'NETWORK'],
    ['a 5xx', { statusCode: 503, data: { error: 'wechat_busy' } }, 'HTTP'],
  ] as const)('retries %s twice (3 POSTs), then rejects LoginError %s', async (_, reply, code) => {
    const { auth, server, logins, errors } = setup();
    server.loginReplies.push(reply, reply, reply);
    const err = await settle(auth.login()).catch((e) => e);
    expect(err).toBeInstanceOf(LoginError);
    expect(err.code).toBe(code);
    expect(logins()).toBe(3);
    expect(errors).toEqual([err]);
    // The next call tries again and is not stuck on the rejected promise.
    await expect(settle(auth.login())).resolves.toBe('tok-1');
  });

  it('a failed wx.login rejects LoginError WX_LOGIN naming its errMsg, even when it fails with no result at all', async () => {
    const { auth, fake } = setup({ loginRetries: 0 });
    fake.state.loginFailures = 1;
    const err = await settle(auth.login()).catch((e) => e);
    expect(err).toMatchObject({ code: 'WX_LOGIN', message: '[wx-login-kit] wx.login failed (login:fail timeout)', cause: { errMsg: 'login:fail timeout' } });
    fake.wx.login = (o) => void setTimeout(() => (o.fail as () => void)());
    await expect(settle(auth.login())).rejects.toMatchObject({ code: 'WX_LOGIN', message: '[wx-login-kit] wx.login failed (undefined)' });
  });

  it('a login POST with no answer rejects LoginError NETWORK with the NetworkError as cause', async () => {
    const { auth, server } = setup({ loginRetries: 0 });
    server.loginReplies.push({ fail: 'request:fail timeout', errno: 5 });
    const err = await settle(auth.login()).catch((e) => e);
    expect(err).toMatchObject({ code: 'NETWORK', message: '[wx-login-kit] login POST https://api.example.com/auth/login got no answer (request:fail timeout); check the network' });
    expect(err.cause).toBeInstanceOf(NetworkError);
    expect(err.cause.message).toBe('[wx-login-kit] POST https://api.example.com/auth/login got no answer (request:fail timeout); check the network');
  });

  it.each([
    [401, false],
    [499, false],
    [500, true],
  ])('a login POST answered %i is retried: %s', async (statusCode, retried) => {
    const { auth, server, logins } = setup({ loginRetries: 1 });
    server.loginReplies.push({ statusCode, data: {} });
    const outcome = await settle(auth.login()).catch((e) => e);
    expect(logins()).toBe(retried ? 2 : 1);
    if (!retried) expect(outcome).toMatchObject({ code: 'HTTP', message: `[wx-login-kit] login POST ${BASE}/auth/login answered HTTP ${statusCode}` });
    if (!retried) expect(outcome.cause).toMatchObject({ name: 'HTTPError', statusCode, message: `[wx-login-kit] POST ${BASE}/auth/login answered HTTP ${statusCode}` });
  });

  it.each([
    [199, false],
    [200, true],
    [299, true],
    [300, false],
  ])('a login POST answered %i with a token is a login: %s', async (statusCode, ok) => {
    const { auth, server } = setup({ loginRetries: 0 });
    server.loginReplies.push({ statusCode, data: { token: 't' } });
    const outcome = await settle(auth.login()).catch((e) => e);
    expect(outcome === 't').toBe(ok);
  });

  it('does not retry a 4xx from the login POST', async () => {
    const { auth, server, logins } = setup();
    server.loginReplies.push({ statusCode: 401, data: { error: 'invalid_code' } });
    const err = await settle(auth.login()).catch((e) => e);
    expect(err).toMatchObject({ name: 'LoginError', code: 'HTTP' });
    expect(err.cause).toBeInstanceOf(HTTPError);
    expect(err.cause.statusCode).toBe(401);
    expect(logins()).toBe(1);
  });

  it.each([
    // wx.request hands JSON over parsed: a string is an answer that was not JSON.
    ['text that is not JSON', '<html>502 Bad Gateway</html>', /has no token \(got string\); nothing stored$/],
    ['an object without token', { session: 'abc' }, /has no token \(got object\); nothing stored$/],
    ['an empty token', { token: '' }, /has no token \(got object\)/],
  ])('rejects a malformed answer (%s) with BAD_RESPONSE naming what is missing, and stores nothing', async (_, data, message) => {
    const { auth, server, fake, logins } = setup();
    server.loginReplies.push({ statusCode: 200, data });
    const err = await settle(auth.login()).catch((e) => e);
    expect(err).toMatchObject({ name: 'LoginError', code: 'BAD_RESPONSE' });
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/^\[wx-login-kit\] login answer of \/auth\/login has no token/);
    expect(logins()).toBe(1);
    expect(auth.token).toBeNull();
    expect(fake.storage.entries.size).toBe(0);
  });

  it.each([
    ['expiresIn: 0', { token: 't', expiresIn: 0 }],
    ['a negative expiresIn', { token: 't', expiresIn: -5 }],
    ['no expiresIn', { token: 't' }],
    ['a non-numeric expiresIn', { token: 't', expiresIn: 'soon' }],
  ])('a login answer with %s keeps its token until a 401: one login for many requests, not one each', async (_, data) => {
    const { auth, server, logins, fake } = setup();
    server.loginReplies.push({ statusCode: 200, data });
    server.live.add('t');
    for (let i = 0; i < 3; i++) await settle(auth.request({ url: '/api/me' }));
    jest.advanceTimersByTime(24 * 3600_000);
    await settle(auth.request({ url: '/api/me' }));
    expect(logins()).toBe(1);
    expect(fake.wx.getStorageSync('wx-login-kit:token')).toEqual({ token: 't', expiresAt: null });
  });

  it('an option passed as undefined keeps its default', async () => {
    const { auth, fake } = setup({ loginPath: undefined, retryDelay: undefined });
    fake.state.loginFailures = 1;
    const p = auth.login();
    p.catch(() => {});
    await jest.advanceTimersByTimeAsync(10 + 499);
    expect(fake.state.loginCalls).toBe(1); // the retry waits the default 500 ms
    await expect(settle(p)).resolves.toBe('tok-1');
    expect(fake.state.requests[0].url).toBe(`${BASE}/auth/login`);
    expect(auth.options.loginPath).toBe('/auth/login');
  });

  it.each([
    ['a number', { token: 12345 }],
    ['null', null],
  ])('rejects a token that is %s with BAD_RESPONSE, and stores nothing', async (_, data) => {
    const { auth, server, fake } = setup();
    server.loginReplies.push({ statusCode: 200, data });
    await expect(settle(auth.login())).rejects.toMatchObject({
      code: 'BAD_RESPONSE',
      message: `[wx-login-kit] login answer of /auth/login has no token (got ${typeof data}); nothing stored`,
    });
    expect(fake.storage.entries.size).toBe(0);
  });

  it('a parseLogin that throws or returns null rejects BAD_RESPONSE with what it threw as cause, not retried', async () => {
    const boom = new SyntaxError('not our shape');
    let answer: () => null = () => {
      throw boom;
    };
    const { auth, logins } = setup({ parseLogin: () => answer() });
    await expect(settle(auth.login())).rejects.toMatchObject({ code: 'BAD_RESPONSE', cause: boom, message: '[wx-login-kit] loginData/parseLogin threw (SyntaxError: not our shape)' });
    answer = () => null;
    await expect(settle(auth.login())).rejects.toMatchObject({ code: 'BAD_RESPONSE', cause: undefined, message: expect.stringMatching(/has no token/) });
    expect(logins()).toBe(2);
  });

  it('a login started after a logout is shared by later callers, even once the aborted one has settled', async () => {
    const { auth, fake } = setup();
    const aborted = auth.login();
    aborted.catch(() => {});
    await jest.advanceTimersByTimeAsync(5);
    auth.logout();
    const next = auth.login(); // its wx.login answers at 15 ms
    await jest.advanceTimersByTimeAsync(7); // the aborted one has settled at 10 ms
    await expect(aborted).rejects.toMatchObject({ code: 'ABORTED' });
    expect(auth.login()).toBe(next);
    await settle(next);
    expect(fake.state.loginCalls).toBe(2);
  });

  it('uses loginData and parseLogin adapters for servers with other shapes', async () => {
    const { auth, server, fake } = setup({
      loginData: (code) => ({ js_code: code, app: 'demo' }),
      parseLogin: (d) => ({ token: (d as { data: { sid: string } }).data.sid }),
    });
    server.loginReplies.push({ statusCode: 200, data: { data: { sid: 'sid-9' } } });
    await expect(settle(auth.login())).resolves.toBe('sid-9');
    expect(fake.state.requests[0].data).toEqual({ js_code: 'code-1', app: 'demo' });
    expect(auth.options.storageKey).toBe('wx-login-kit:token');
    expect(fake.wx.getStorageSync('wx-login-kit:token')).toEqual({ token: 'sid-9', expiresAt: null });
  });
});

describe('request', () => {
  it('logs in first, then sends the token as Authorization: Bearer <token> to a relative URL', async () => {
    const { auth, fake } = setup();
    const res = await settle(auth.request<{ path: string }>({ url: '/api/me' }));
    expect(res.statusCode).toBe(200);
    expect(res.data.path).toBe('/api/me');
    expect(fake.state.requests[1]).toMatchObject({ url: `${BASE}/api/me`, method: 'GET', header: { Authorization: 'Bearer tok-1' } });
  });

  it('honours tokenHeader and an empty tokenScheme, replacing a caller header of the same name', async () => {
    const { auth, fake, server } = setup({ tokenHeader: 'X-Token', tokenScheme: '' });
    server.handler = () => ({ statusCode: 200, data: { token: 't' } });
    await settle(auth.request({ url: 'api/x', header: { 'x-token': 'forged', Accept: 'a' } }));
    expect(fake.state.requests[1].header).toEqual({ 'X-Token': 't', Accept: 'a' });
  });

  it.each([
    'https://api.example.com.evil.com/steal',
    'https://api.example.com@evil.com/steal',
    'https://user:pw@evil.com/https://api.example.com/',
    'http://api.example.com/downgrade',
    'https://api.example.com:8443/other-port',
    'https://api.example.com\\@evil.com/',
    'https://api.example.com./trailing-dot',
  ])('never sends the token to %s', async (url) => {
    const { auth, fake, server } = setup();
    server.handler = () => ({ statusCode: 200, data: {} });
    await settle(auth.request({ url }));
    expect(fake.state.loginCalls).toBe(0);
    expect(fake.state.requests).toHaveLength(1);
    expect(fake.state.requests[0].header).toEqual({});
  });

  it('a relative URL whose query carries an absolute URL stays relative to baseURL', async () => {
    const { auth, fake } = setup();
    await settle(auth.request({ url: '/api/go?next=https://evil.example.net/x' }));
    await settle(auth.request({ url: 'api/go?next=https://api.example.com/' }));
    expect(fake.state.requests.slice(1).map((r) => [r.url, r.header.Authorization])).toEqual([
      [`${BASE}/api/go?next=https://evil.example.net/x`, 'Bearer tok-1'],
      [`${BASE}/api/go?next=https://api.example.com/`, 'Bearer tok-1'],
    ]);
  });

  it('joins baseURL with a path prefix and a trailing slash to a URL with leading slashes using exactly one /', async () => {
    const { auth, fake, server } = setup({ baseURL: 'https://api.example.com/v1//' });
    server.handler = () => ({ statusCode: 200, data: { token: 't' } });
    await settle(auth.request({ url: '///api/me' }));
    expect(fake.state.requests.map((r) => r.url)).toEqual(['https://api.example.com/v1/auth/login', 'https://api.example.com/v1/api/me']);
  });

  it.each([
    ['https://API.Example.com:443', 'https://api.example.com/x'],
    ['https://api.example.com', 'https://API.EXAMPLE.COM:443/x'],
    ['http://api.example.com:80', 'HTTP://api.example.com/x'],
    ['https://api.example.com:8443', 'https://api.example.com:08443/x'],
    ['https://[::1]:8443', 'https://[::1]:8443/x'],
  ])('baseURL %s and %s are one origin: host case and default ports do not matter', async (baseURL, url) => {
    const { auth, fake } = setup({ baseURL });
    await settle(auth.request({ url }));
    expect(fake.state.requests.at(-1)).toMatchObject({ url, header: { Authorization: 'Bearer tok-1' } });
  });

  it.each([
    ['https://api.example.com', 'https://api.example.com:80/x'],
    ['http://api.example.com', 'http://api.example.com:443/x'],
    ['https://api.example.com:8443', 'https://api.example.com/x'],
    ['https://api.example.com', 'https://api.example.co/x'],
    ['https://api.example.com', 'https://api.example.com\t/x'],
    ['https://api.example.com', 'https://api.example.com:44a3/x'],
    ['https://api.example.com', 'ftp://api.example.com/x'],
    ['https://api.example.com', 'https://api.example.com:443x/x'],
    ['https://api.example.com', 'https://evil.example.net:api.example.com/x'],
    ['https://api.example.com:8443', 'https://api.example.com8443/x'],
    ['https://api.example.com', 'https://user@api.example.com/x'],
    ['https://api.example.com', 'https://:@api.example.com/x'],
  ])('baseURL %s and %s are different origins: no token', async (baseURL, url) => {
    const { auth, fake, server } = setup({ baseURL });
    server.handler = () => ({ statusCode: 200, data: {} });
    await settle(auth.request({ url }));
    expect(fake.state.requests.map((r) => r.header)).toEqual([{}]);
  });

  it('keeps an absolute URL of any scheme as it is, with no token', async () => {
    const { auth, fake, server } = setup();
    server.handler = () => ({ statusCode: 200, data: {} });
    await settle(auth.request({ url: 'web+3d://api.example.com/x' }));
    expect(fake.state.requests).toMatchObject([{ url: 'web+3d://api.example.com/x', header: {} }]);
  });

  it('joins a protocol-relative URL to baseURL like any relative one: it never leaves baseURL', async () => {
    const { auth, fake } = setup();
    await settle(auth.request({ url: '//evil.com/x' }));
    expect(fake.state.requests.at(-1)).toMatchObject({ url: 'https://api.example.com/evil.com/x', header: { Authorization: 'Bearer tok-1' } });
  });

  it("keeps the caller's own Authorization header on requests that carry no kit token", async () => {
    const { auth, fake, server } = setup();
    server.handler = () => ({ statusCode: 200, data: {} });
    await settle(auth.request({ url: 'https://maps.other.com/x', header: { Authorization: 'Key abc' } }));
    await settle(auth.request({ url: '/public', auth: false, header: { authorization: 'Basic xyz' } }));
    expect(fake.state.requests.map((r) => r.header)).toEqual([{ Authorization: 'Key abc' }, { authorization: 'Basic xyz' }]);
  });

  it('sends the token to baseURL origin spelled differently and to trustedOrigins, not with auth: false', async () => {
    const { auth, fake } = setup({ trustedOrigins: ['https://cdn.example.com:8443'] });
    await settle(auth.request({ url: 'HTTPS://API.example.com:0443/api/a' }));
    await settle(auth.request({ url: 'https://cdn.example.com:8443/api/b' }));
    // With auth: false the kit sends no token and leaves the server's 401 alone: no re-login, no retry.
    await expect(settle(auth.request({ url: '/api/c', auth: false }))).rejects.toMatchObject({ name: 'HTTPError', statusCode: 401 });
    const sent = fake.state.requests.filter((r) => r.url.includes('/api/')).map((r) => r.header.Authorization);
    expect(sent).toEqual(['Bearer tok-1', 'Bearer tok-1', undefined]);
    expect(fake.state.loginCalls).toBe(1);
  });

  it('rejects HTTPError for a non-2xx and NetworkError for a failed wx.request, with no token in the message', async () => {
    const { auth, server } = setup();
    await settle(auth.login());
    server.handler = () => ({ statusCode: 404, data: { error: 'not_found' } });
    const httpErr = await settle(auth.request({ url: '/api/missing?x=1' })).catch((e) => e);
    expect(httpErr).toBeInstanceOf(HTTPError);
    expect(httpErr).toMatchObject({ name: 'HTTPError', statusCode: 404, data: { error: 'not_found' } });
    expect(httpErr.message).toBe('[wx-login-kit] GET https://api.example.com/api/missing answered HTTP 404');
    server.handler = () => ({ fail: 'request:fail interrupted', errno: 600003 });
    const netErr = await settle(auth.request({ url: '/api/x', method: 'POST' })).catch((e) => e);
    expect(netErr).toBeInstanceOf(NetworkError);
    expect(netErr).toMatchObject({ name: 'NetworkError', errMsg: 'request:fail interrupted', errno: 600003 });
    expect(netErr.message).toMatch(/^\[wx-login-kit\] POST https:\/\/api.example.com\/api\/x got no answer/);
    for (const e of [httpErr, netErr]) {
      expect(e).toBeInstanceOf(WxLoginKitError);
      expect(e.message).not.toContain('tok-1');
    }
  });

  it.each([
    [199, false],
    [200, true],
    [299, true],
    [300, false],
  ])('a request answered %i resolves: %s (else HTTPError)', async (statusCode, ok) => {
    const { auth, server } = setup();
    await settle(auth.login());
    server.handler = () => ({ statusCode, data: {} });
    const outcome = await settle(auth.request({ url: '/api/x' })).catch((e) => e);
    expect(outcome instanceof HTTPError).toBe(!ok);
  });

  it('25 concurrent requests all succeed: WeChat (and the fake) queue past 10 in flight', async () => {
    const { auth, fake } = setup();
    await settle(auth.login());
    const all = Promise.all(Array.from({ length: 25 }, (_, i) => auth.request({ url: `/api/${i}` })));
    const results = await settle(all);
    expect(results).toHaveLength(25);
    expect(fake.state.maxActive).toBe(10);
  });
});

describe('401 semantics', () => {
  it('(a) retries at most once: a second 401 rejects HTTPError 401', async () => {
    const { auth, server, logins } = setup();
    await settle(auth.login());
    server.rejectAll = true;
    const err = await settle(auth.request({ url: '/api/me' })).catch((e) => e);
    expect(err).toBeInstanceOf(HTTPError);
    expect(err.statusCode).toBe(401);
    expect(err.message).toBe('[wx-login-kit] GET https://api.example.com/api/me answered HTTP 401, still unauthorized after a new login');
    expect(logins()).toBe(2);
    expect(server.fake.state.requests.filter((r) => r.url.endsWith('/api/me'))).toHaveLength(2);
  });

  it('(b) retries with the current token and no new login when another request already logged in again', async () => {
    const { auth, server, logins } = setup();
    await settle(auth.login());
    server.live.delete('tok-1'); // both are sent with tok-1 and rejected
    server.delays['/api/slow'] = 5000; // its 401 arrives after the fast one has logged in again
    const slow = auth.request({ url: '/api/slow' });
    const fast = auth.request({ url: '/api/fast' });
    const [s, f] = await settle(Promise.all([slow, fast]));
    expect(f.data).toEqual({ path: '/api/fast', token: 'tok-2' });
    expect(s.data).toEqual({ path: '/api/slow', token: 'tok-2' });
    expect(logins()).toBe(2); // the first one plus exactly one re-login
  });

  it('(c) drops the rejected token everywhere and shares one re-login among all requests rejected with it', async () => {
    const { auth, server, fake, app, logins } = setup();
    await settle(auth.launch(app));
    server.live.delete('tok-1');
    const seen: unknown[] = [];
    const results = Promise.all(
      ['/api/a', '/api/b', '/api/c', '/api/d'].map((url) => auth.request({ url })),
    );
    // Observe state after the 401s came back but before the re-login answers.
    await jest.advanceTimersByTimeAsync(10);
    seen.push(auth.token, app.globalData.token, fake.wx.getStorageSync('wx-login-kit:token'));
    expect(seen).toEqual([null, null, '']);
    const done = await settle(results);
    expect(done.map((r) => (r.data as { token: string }).token)).toEqual(['tok-2', 'tok-2', 'tok-2', 'tok-2']);
    expect(fake.state.loginCalls).toBe(2);
    expect(logins()).toBe(2);
    expect(app.globalData.token).toBe('tok-2');
  });

  it('(d) when the re-login fails every waiting request rejects LoginError with the cause; the next request tries again', async () => {
    const { auth, server, logins } = setup({ loginRetries: 0 });
    await settle(auth.login());
    server.live.delete('tok-1');
    server.loginReplies.push({ statusCode: 500, data: {} });
    const errs = await settle(
      Promise.all(['/api/a', '/api/b', '/api/c'].map((url) => auth.request({ url }).catch((e) => e))),
    );
    for (const e of errs) {
      expect(e).toBeInstanceOf(LoginError);
      expect(e.code).toBe('HTTP');
      expect(e.cause).toMatchObject({ name: 'HTTPError', statusCode: 500 });
    }
    expect(new Set(errs).size).toBe(1); // one shared login
    expect(logins()).toBe(2);
    const next = await settle(auth.request<{ token: string }>({ url: '/api/a' }));
    expect(next.data.token).toBe('tok-2');
  });

  it('(e) at most 3 automatic re-logins per minute, then RELOGIN_LIMIT; allowed again after the window', async () => {
    const { auth, server, logins, errors } = setup();
    await settle(auth.login());
    server.rejectAll = true;
    for (let i = 0; i < 3; i++) {
      await expect(settle(auth.request({ url: '/api/me' }))).rejects.toMatchObject({ name: 'HTTPError', statusCode: 401 });
    }
    expect(logins()).toBe(4);
    const limited = await settle(auth.request({ url: '/api/me' })).catch((e) => e);
    expect(limited).toBeInstanceOf(LoginError);
    expect(limited.code).toBe('RELOGIN_LIMIT');
    expect(limited.message).toBe('[wx-login-kit] 3 re-logins in 60000 ms, still rejected; check the server');
    expect(errors.at(-1)).toBe(limited);
    // The token is gone, but later requests do not get around the budget with a plain login.
    for (let i = 0; i < 5; i++) {
      await expect(settle(auth.request({ url: '/api/me' }))).rejects.toMatchObject({ code: 'RELOGIN_LIMIT' });
    }
    expect(logins()).toBe(4);
    jest.advanceTimersByTime(60_000);
    server.rejectAll = false;
    const ok = await settle(auth.request<{ token: string }>({ url: '/api/me' }));
    expect(ok.data.token).toBe('tok-5');
  });

  it('the re-login budget frees a slot exactly reloginWindow ms after that re-login, not a millisecond earlier', async () => {
    const { auth, server, fake, logins } = setup({ reloginLimit: 1, reloginWindow: 10_000 });
    await settle(auth.login());
    // A re-login starts with its wx.login, in the same tick as the 401 that asked for it.
    const loginAt: number[] = [];
    const login = fake.wx.login;
    fake.wx.login = (o) => (loginAt.push(Date.now()), login(o));
    server.live.delete('tok-1');
    await settle(auth.request({ url: '/api/me' }));
    const [t] = loginAt;
    server.live.clear();
    // This 401 arrives 10 ms after its request, at t + 10 s - 1 ms: one slot, still taken.
    jest.setSystemTime(t + 10_000 - 11);
    await expect(settle(auth.request({ url: '/api/me' }))).rejects.toMatchObject({ code: 'RELOGIN_LIMIT' });
    // The token is gone, so the next request asks for a re-login at once: at t + 10 s, the slot is free.
    jest.setSystemTime(t + 10_000);
    await expect(settle(auth.request({ url: '/api/me' }))).resolves.toMatchObject({ statusCode: 200 });
    expect(loginAt).toEqual([t, t + 10_000]);
    expect(logins()).toBe(3);
  });

  it('honours isUnauthorized for servers that answer 200 {code: 401}', async () => {
    const { auth, server, logins } = setup({ isUnauthorized: (res) => (res.data as { code?: number })?.code === 401 });
    await settle(auth.login());
    const inner = server.handler;
    server.handler = (req) => {
      const r = inner(req);
      return 'statusCode' in r && r.statusCode === 401 ? { statusCode: 200, data: { code: 401 } } : r;
    };
    server.live.delete('tok-1');
    const res = await settle(auth.request<{ token: string }>({ url: '/api/me' }));
    expect(res.data.token).toBe('tok-2');
    expect(logins()).toBe(2);
  });

  it('setToken without expiresIn keeps the token until a 401: no login per request', async () => {
    const { auth, server, logins, app } = setup();
    auth.setToken('phone-token');
    server.live.add('phone-token');
    await settle(auth.launch(app));
    for (let i = 0; i < 3; i++) await settle(auth.request({ url: '/api/me' }));
    jest.advanceTimersByTime(24 * 3600_000);
    await settle(auth.request({ url: '/api/me' }));
    expect(app.globalData.token).toBe('phone-token');
    expect(server.fake.state.requests.map((r) => r.header.Authorization)).toEqual(Array(4).fill('Bearer phone-token'));
    expect(logins()).toBe(0);
  });

  it('setToken with expiresIn (seconds) stores it with that lifetime less expiryMargin', () => {
    const { auth, fake } = setup();
    auth.setToken('phone-token', 7200);
    expect(fake.wx.getStorageSync('wx-login-kit:token')).toEqual({ token: 'phone-token', expiresAt: Date.now() + 7200_000 - 60_000 });
  });

  it('a token living no longer than expiryMargin is still used, until half its life', async () => {
    const { auth, server, logins } = setup();
    server.expiresIn = 60;
    await settle(auth.login());
    for (let i = 0; i < 3; i++) await settle(auth.request({ url: '/api/me' }));
    expect(logins()).toBe(1);
    jest.advanceTimersByTime(30_000);
    await settle(auth.request({ url: '/api/me' }));
    expect(logins()).toBe(2);
  });

  it('replaces an expired token with a login before the request is sent, not after a 401', async () => {
    const { auth, server, fake } = setup();
    server.expiresIn = 3600;
    await settle(auth.login());
    jest.advanceTimersByTime(3600_000 - 60_000); // inside the 60 s safety margin
    server.live.delete('tok-1'); // the server forgot it too
    const res = await settle(auth.request<{ token: string }>({ url: '/api/me' }));
    expect(res.data.token).toBe('tok-2');
    const apiCalls = fake.state.requests.filter((r) => r.url.endsWith('/api/me'));
    expect(apiCalls.map((r) => r.header.Authorization)).toEqual(['Bearer tok-2']);
  });
});

describe('globalData and storage never disagree with auth.token', () => {
  it('a launch whose login fails leaves no expired stored token in globalData or storage', async () => {
    const { fake } = createScriptedServer();
    fake.wx.setStorageSync('wx-login-kit:token', { token: 'old', expiresAt: Date.now() - 1 });
    const auth = createAuth({ baseURL: BASE, wx: fake.wx, loginRetries: 0 });
    fake.state.loginFailures = 1;
    const app = { globalData: { token: 'from app.ts' } as Record<string, unknown> };
    await expect(settle(auth.launch(app))).rejects.toMatchObject({ code: 'WX_LOGIN' });
    expect([auth.token, app.globalData.token, fake.wx.getStorageSync('wx-login-kit:token')]).toEqual([null, null, '']);
  });

  it('a token that expires while the app runs leaves globalData and storage when the kit finds it expired', async () => {
    const { auth, app, fake } = setup();
    await settle(auth.launch(app));
    jest.advanceTimersByTime(3600_000 - 60_000);
    expect(auth.token).toBeNull();
    expect([app.globalData.token, fake.wx.getStorageSync('wx-login-kit:token')]).toEqual([null, '']);
  });

  it('malformed stored data is removed from storage, not just ignored', () => {
    const { fake } = createScriptedServer();
    fake.wx.setStorageSync('wx-login-kit:token', { token: '', expiresAt: null });
    createAuth({ baseURL: BASE, wx: fake.wx });
    expect(fake.wx.getStorageSync('wx-login-kit:token')).toBe('');
  });

  it('a token the server rejected leaves globalData and storage even when the re-login fails', async () => {
    const { auth, app, server, fake } = setup({ loginRetries: 0 });
    await settle(auth.launch(app));
    server.live.delete('tok-1');
    server.loginReplies.push({ statusCode: 500, data: {} });
    await expect(settle(auth.request({ url: '/api/me' }))).rejects.toMatchObject({ code: 'HTTP' });
    expect([auth.token, app.globalData.token, fake.wx.getStorageSync('wx-login-kit:token')]).toEqual([null, null, '']);
  });
});

describe('storage, logout, events', () => {
  it('keeps working from memory when setStorageSync throws, and emits error', async () => {
    const { auth, fake, errors, app } = setup();
    fake.storage.throws = true;
    await expect(settle(auth.launch(app))).resolves.toBe('tok-1');
    expect(app.globalData.token).toBe('tok-1');
    expect(fake.storage.entries.size).toBe(0);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toBe('[wx-login-kit] storage failed; the token is in memory only');
    expect(errors[0].message).not.toContain('tok-1');
    const res = await settle(auth.request<{ token: string }>({ url: '/api/me' }));
    expect(res.data.token).toBe('tok-1');
    expect(fake.state.loginCalls).toBe(1);
  });

  it('logout clears memory, globalData and storage and emits logout; on() returns an unsubscribe', async () => {
    const { auth, fake, app } = setup();
    const seen: string[] = [];
    const offLogin = auth.on('login', (t) => seen.push(`login ${t}`));
    auth.on('logout', () => seen.push('logout'));
    await settle(auth.launch(app));
    auth.logout();
    expect([auth.token, app.globalData.token, fake.wx.getStorageSync('wx-login-kit:token')]).toEqual([null, null, '']);
    offLogin();
    await settle(auth.login());
    expect(seen).toEqual(['login tok-1', 'logout']);
  });

  it('after RELOGIN_LIMIT, a logout lets the next request log in: a new session is not a re-login', async () => {
    const { auth, server, logins } = setup({ reloginLimit: 1 });
    await settle(auth.login());
    server.rejectAll = true;
    await expect(settle(auth.request({ url: '/api/me' }))).rejects.toMatchObject({ statusCode: 401 });
    await expect(settle(auth.request({ url: '/api/me' }))).rejects.toMatchObject({ code: 'RELOGIN_LIMIT' });
    server.rejectAll = false;
    auth.logout();
    await expect(settle(auth.request({ url: '/api/me' }))).resolves.toMatchObject({ statusCode: 200 });
    expect(logins()).toBe(3);
  });

  it('an unsubscribe called twice removes only its own subscription', async () => {
    const { auth } = setup();
    const seen: string[] = [];
    const listener = (t: string) => seen.push(t);
    const off = auth.on('login', listener);
    auth.on('login', listener); // the same function, subscribed a second time
    auth.on('login', (t) => seen.push(`other ${t}`));
    off();
    off();
    await settle(auth.login());
    expect(seen).toEqual(['tok-1', 'other tok-1']);
  });

  it('logout during a login wins: the login rejects ABORTED and stores nothing; the next request logs in', async () => {
    const { auth, fake, app, logins } = setup();
    const seen: string[] = [];
    auth.on('login', (t) => seen.push(`login ${t}`));
    auth.on('logout', () => seen.push('logout'));
    const launched = auth.launch(app);
    await jest.advanceTimersByTimeAsync(5); // wx.login under way
    auth.logout();
    await expect(settle(launched)).rejects.toMatchObject({ name: 'LoginError', code: 'ABORTED' });
    expect([auth.token, app.globalData.token, fake.wx.getStorageSync('wx-login-kit:token')]).toEqual([null, null, '']);
    expect(seen).toEqual(['logout']);
    const res = await settle(auth.request<{ token: string }>({ url: '/api/me' }));
    expect(res.data.token).toBe('tok-1');
    expect(logins()).toBe(1); // the aborted login sent no POST: its wx.login had not answered yet
  });

  it('a throwing loginData adapter rejects LoginError BAD_RESPONSE with the cause, not retried', async () => {
    const boom = new TypeError('boom');
    const { auth, fake } = setup({
      loginData: () => {
        throw boom;
      },
    });
    const err = await settle(auth.login()).catch((e) => e);
    expect(err).toMatchObject({ name: 'LoginError', code: 'BAD_RESPONSE', cause: boom, message: '[wx-login-kit] loginData/parseLogin threw (TypeError: boom)' });
    expect(fake.state.loginCalls).toBe(1);
  });

  it('rejects a bad baseURL or trustedOrigins entry with a clear error', () => {
    const { fake } = createScriptedServer();
    expect(() => createAuth({ baseURL: 'api.example.com', wx: fake.wx })).toThrow(
      '[wx-login-kit] baseURL and trustedOrigins must be like https://api.example.com, not "api.example.com"',
    );
    expect(() => createAuth({ baseURL: BASE, trustedOrigins: ['cdn'], wx: fake.wx })).toThrow(/not "cdn"$/);
    expect(() => createAuth({ baseURL: 'ftp://files.example.com', wx: fake.wx })).toThrow(/not "ftp:\/\/files.example.com"$/);
    expect(() => createAuth({ baseURL: BASE })).toThrow('[wx-login-kit] no wx, tt or my: pass options.wx outside a mini program');
  });
});

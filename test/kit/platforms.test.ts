/**
 * One app code on WeChat, Douyin and Alipay: `createAuth({ baseURL })` finds the platform from the
 * global the build provides (`wx`, `tt`, `my`) and everything the kit does works unchanged. The
 * platform is the boundary here: a faithful fake `tt` (WeChat-shaped, as @douyin-microapp/typings
 * declares it) and `my` (test/support/fake-my.ts, as @mini-types/my declares it).
 */
import { createScriptedServer } from '../support/fake-wx';
import { createFakeMy } from '../support/fake-my';
import { settle } from '../support/timers';

const BASE = 'https://api.example.com';
const g = globalThis as Record<string, unknown>;

beforeEach(() => {
  jest.useFakeTimers();
  delete g[Symbol.for('wx-login-kit') as unknown as string];
});
afterEach(() => {
  jest.useRealTimers();
  delete g.tt;
  delete g.my;
  delete g.qq;
  delete g.wx;
});

/** The kit as a bundle would load it: a fresh module registry, the given entry. */
function load(entry: 'index' | 'index.alipay'): typeof import('../../src/index.alipay') {
  let kit!: typeof import('../../src/index.alipay');
  jest.isolateModules(() => {
    kit = require(`../../src/${entry}`);
  });
  return kit;
}

describe('WeChat', () => {
  it('the login POST says which platform and app the code is for (wx.getAccountInfoSync)', async () => {
    const server = createScriptedServer();
    g.wx = Object.assign(server.fake.wx, { getAccountInfoSync: () => ({ miniProgram: { appId: 'wx0123456789abcdef' } }) });
    const auth = load('index').createAuth({ baseURL: BASE });
    await settle(auth.login());
    expect(server.fake.state.requests[0].data).toEqual({ code: 'code-1', platform: 'wechat', appid: 'wx0123456789abcdef' });
    expect(auth.options.platform).toBe('wechat');
  });

  it('with no platform global and no options.wx: a clear error naming the three', () => {
    expect(() => load('index').createAuth({ baseURL: BASE })).toThrow('[wx-login-kit] no wx, tt or my: pass options.wx outside a mini program');
  });
});

/** The platforms shaped like WeChat's `wx`: their global, its name in the login POST, and how it gives the appid. */
const WX_SHAPED = [
  { name: 'Douyin', global: 'tt', platform: 'douyin', appid: 'tt0123456789abcd', info: { getEnvInfoSync: () => ({ microapp: { appId: 'tt0123456789abcd', mpVersion: '1.0.0', envType: 'production' } }) } },
  { name: 'QQ', global: 'qq', platform: 'qq', appid: '1112345678', info: { getAccountInfoSync: () => ({ miniProgram: { appId: '1112345678' } }) } },
];

describe.each(WX_SHAPED)('$name ($global), shaped like wx', ({ global, platform, appid, info }) => {
  function client() {
    const server = createScriptedServer();
    g[global] = Object.assign(server.fake.wx, info);
    return server;
  }

  it(`logs in with ${global}.login and says so: {code, platform: ${platform}, appid}`, async () => {
    const server = client();
    const auth = load('index').createAuth({ baseURL: BASE });
    const res = await settle(auth.request<{ token: string }>({ url: '/api/me' }));
    expect(res.data.token).toBe('tok-1');
    expect(server.fake.state.requests[0].data).toEqual({ code: 'code-1', platform, appid });
    expect(auth.options.platform).toBe(platform);
  });

  it('a 401 recovers with one login, as on WeChat', async () => {
    const server = client();
    const auth = load('index').createAuth({ baseURL: BASE });
    await settle(auth.request({ url: '/api/me' }));
    server.live.clear();
    await settle(auth.request({ url: '/api/me' }));
    expect(server.fake.state.loginCalls).toBe(2);
    expect(auth.token).toBe('tok-2');
  });

  it('wins over a `wx` the client or the build may also define (some Douyin clients have an alias)', async () => {
    const server = client();
    g.wx = { login: () => { throw new Error('wx must not be used'); } };
    const auth = load('index').createAuth({ baseURL: BASE });
    await settle(auth.login());
    expect(server.fake.state.requests[0].data).toMatchObject({ platform });
  });
});

describe('Douyin (tt)', () => {
  function douyin() {
    const server = createScriptedServer();
    g.tt = Object.assign(server.fake.wx, WX_SHAPED[0].info);
    return server;
  }

  it('in-band, the call carries the code and the app it is for (X-WX-Login-Platform, X-WX-Login-Appid)', async () => {
    const server = douyin();
    server.inband = true;
    const auth = load('index').createAuth({ baseURL: BASE, inbandLogin: true });
    await settle(auth.request({ url: '/api/me' }));
    expect(server.fake.state.requests[0].header).toEqual({ 'x-wx-login-code': 'code-1', 'x-wx-login-platform': 'douyin', 'x-wx-login-appid': 'tt0123456789abcd' });
  });

  it('an appid the platform cannot give is left out, never sent as "undefined"', async () => {
    const server = douyin();
    server.inband = true;
    (g.tt as { getEnvInfoSync: () => never }).getEnvInfoSync = () => {
      throw new Error('getEnvInfoSync is not a function');
    };
    const auth = load('index').createAuth({ baseURL: BASE, inbandLogin: true });
    await settle(auth.request({ url: '/api/me' }));
    expect(server.fake.state.requests[0].header).toEqual({ 'x-wx-login-code': 'code-1', 'x-wx-login-platform': 'douyin' });
    expect(auth.options.appid).toBeUndefined();
  });
});

describe('Alipay (my)', () => {
  it('from wx-login-kit alone: createAuth says to import wx-login-kit/alipay', () => {
    g.my = createFakeMy().my;
    expect(() => load('index').createAuth({ baseURL: BASE })).toThrow("on Alipay import 'wx-login-kit/alipay' (wx-login-kit/uni does it in an mp-alipay build)");
  });

  it('logs in with my.getAuthCode({scopes: auth_base}) and POSTs {code: authCode, platform: alipay, appid}', async () => {
    const fake = createFakeMy();
    g.my = fake.my;
    const auth = load('index.alipay').createAuth({ baseURL: BASE });
    const res = await settle(auth.request<{ token: string }>({ url: '/api/me' }));
    expect(res.statusCode).toBe(200);
    expect(fake.state.scopes).toEqual(['auth_base']);
    expect(fake.state.requests[0]).toMatchObject({ url: `${BASE}/auth/login`, method: 'POST', data: { code: 'code-1', platform: 'alipay', appid: '2021000000000001' } });
    // The token went in `headers`, the name my.request reads.
    expect(fake.state.requests[1].header.Authorization).toBe('Bearer tok-1');
  });

  it('a 401 (which Alipay hands to fail, with its status) is an answer: one re-login, the retry 200', async () => {
    const fake = createFakeMy();
    g.my = fake.my;
    const auth = load('index.alipay').createAuth({ baseURL: BASE });
    await settle(auth.request({ url: '/api/me' }));
    fake.server.live.clear();
    const res = await settle(auth.request({ url: '/api/me' }));
    expect(res.statusCode).toBe(200);
    expect(fake.state.authCodeCalls).toBe(2);
    expect(auth.token).toBe('tok-2');
  });

  it('another HTTP error is an HTTPError with its status and body, not a network error', async () => {
    const fake = createFakeMy();
    g.my = fake.my;
    const auth = load('index.alipay').createAuth({ baseURL: BASE });
    const original = fake.server.handler;
    fake.server.handler = (req) => (req.url.endsWith('/api/missing') ? { statusCode: 404, data: { error: 'not_found' } } : original(req));
    await expect(settle(auth.request({ url: '/api/missing' }))).rejects.toMatchObject({ name: 'HTTPError', statusCode: 404, data: { error: 'not_found' } });
  });

  it('no answer: NetworkError with Alipay\'s errorMessage and error number', async () => {
    const fake = createFakeMy();
    g.my = fake.my;
    const auth = load('index.alipay').createAuth({ baseURL: BASE });
    await settle(auth.login());
    const original = fake.server.handler;
    fake.server.handler = (req) => (req.url.endsWith('/api/me') ? { fail: 'network error' } : original(req));
    await expect(settle(auth.request({ url: '/api/me' }))).rejects.toMatchObject({ name: 'NetworkError', errMsg: 'network error', errno: 12 });
  });

  it('storage in object form: a relaunch restores the token with no getAuthCode', async () => {
    const fake = createFakeMy();
    g.my = fake.my;
    await settle(load('index.alipay').createAuth({ baseURL: BASE }).login());
    expect(JSON.parse(fake.store.get('wx-login-kit:token')!)).toMatchObject({ token: 'tok-1' });
    delete g[Symbol.for('wx-login-kit') as unknown as string];
    const relaunched = load('index.alipay').createAuth({ baseURL: BASE });
    await expect(settle(relaunched.launch())).resolves.toBe('tok-1');
    expect(fake.state.authCodeCalls).toBe(1);
  });

  it('a full storage (my.setStorageSync returns success: false, throws nothing) is reported and the kit goes on from memory', async () => {
    const fake = createFakeMy();
    g.my = fake.my;
    fake.state.storageFull = true;
    const auth = load('index.alipay').createAuth({ baseURL: BASE });
    const errors: Error[] = [];
    auth.on('error', (e) => errors.push(e));
    await settle(auth.request({ url: '/api/me' }));
    expect(auth.token).toBe('tok-1');
    expect(errors.map((e) => e.message)).toEqual(['[wx-login-kit] storage failed; the token is in memory only']);
  });

  it('uploadFile sends fileName (and fileType image unless given); downloadFile gives apFilePath as tempFilePath', async () => {
    const fake = createFakeMy();
    g.my = fake.my;
    const auth = load('index.alipay').createAuth({ baseURL: BASE });
    await settle(auth.login());
    const up = await settle(auth.uploadFile<{ path: string }>({ url: '/api/avatar', filePath: 'https://resource/a.png', name: 'avatar' }));
    expect(up.json).toMatchObject({ path: '/api/avatar' });
    expect(fake.state.requests.at(-1)).toMatchObject({ kind: 'uploadFile', fileName: 'avatar', fileType: 'image', header: { Authorization: 'Bearer tok-1' } });
    await settle(auth.uploadFile({ url: '/api/clip', filePath: 'https://resource/c.mp4', name: 'clip', fileType: 'video' } as never));
    expect(fake.state.requests.at(-1)).toMatchObject({ fileType: 'video' });
    const down = await settle(auth.downloadFile({ url: '/api/files/1' }));
    expect(down).toEqual({ tempFilePath: 'https://resource/apml1.png', statusCode: 200 });
  });

  it('in-band login works on Alipay too: the answer\'s headers carry the token', async () => {
    const fake = createFakeMy();
    g.my = fake.my;
    fake.server.inband = true;
    const auth = load('index.alipay').createAuth({ baseURL: BASE, inbandLogin: true });
    await settle(auth.request({ url: '/api/me' }));
    expect(fake.state.requests).toHaveLength(1);
    expect(fake.state.requests[0].header['x-wx-login-code']).toBe('code-1');
    expect(auth.token).toBe('tok-1');
  });
});

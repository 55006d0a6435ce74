/**
 * @jest-environment jsdom
 */
import path from 'node:path';
import simulate from 'miniprogram-simulate';
import { createAuth, type Auth } from 'wx-login-kit';
import { createScriptedServer } from '../support/fake-wx';

const MIN = 60_000;
const BUTTON = path.resolve(__dirname, '../../src/components/login-button/index');

type Seen = Array<[string, Record<string, unknown>]>;
let hostId: string; // the untyped overload of render takes any properties
const seen: Seen = [];

beforeAll(() => {
  const buttonId = simulate.load(BUTTON, 'login-button', { compiler: 'simulate' });
  hostId = simulate.load({
    compiler: 'simulate' as const,
    usingComponents: { 'login-button': buttonId },
    template: `<login-button id="btn" auth="{{authName}}" open-type="{{openType}}" path="{{path}}" bind:success="onSuccess" bind:fail="onFail" bind:agreeprivacy="onAgreePrivacy">Log in with phone</login-button>`,
    properties: { authName: { type: String, value: 'default' }, openType: { type: String, value: 'getPhoneNumber' }, path: { type: String, value: '' } },
    methods: {
      onSuccess(e: WechatMiniprogram.CustomEvent<Record<string, unknown>>) {
        seen.push(['success', e.detail]);
      },
      onFail(e: WechatMiniprogram.CustomEvent<Record<string, unknown>>) {
        seen.push(['fail', e.detail]);
      },
      onAgreePrivacy(e: WechatMiniprogram.CustomEvent<Record<string, unknown>>) {
        seen.push(['agreeprivacy', e.detail]);
      },
    },
  }) as unknown as string;
});

let server: ReturnType<typeof createScriptedServer>;
let auth: Auth;

function mount(data: Record<string, unknown> = {}) {
  const host = simulate.render(hostId, data);
  host.attach(document.createElement('parent-wrapper'));
  const inner = host.querySelector('#btn')!.querySelector('.wx-login-kit-button')!;
  const tap = (event: string, detail: unknown) => inner.dispatchEvent(event, { detail });
  return { host, inner, tap };
}

const phonePosts = () => server.fake.state.requests.filter((r) => /\/auth\/(phone|profile)$/.test(r.url));

beforeEach(() => {
  jest.useFakeTimers();
  seen.length = 0;
  server = createScriptedServer();
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('wx-login-kit')]; // a fresh app: no instance registered
  auth = createAuth({ baseURL: 'https://api.example.com', wx: server.fake.wx });
});
afterEach(() => jest.useRealTimers());

describe('keeping a fresh code', () => {
  it('fetches a code on attach, refreshes every 4 minutes, and stops on detach', async () => {
    const { host } = mount();
    await jest.advanceTimersByTimeAsync(10);
    expect(server.fake.state.loginCalls).toBe(1);
    await jest.advanceTimersByTimeAsync(12 * MIN + 1000); // refreshes count from each code's arrival (+10 ms)
    expect(server.fake.state.loginCalls).toBe(4);
    host.detach();
    await jest.advanceTimersByTimeAsync(30 * MIN);
    expect(server.fake.state.loginCalls).toBe(4);
  });

  it('stops while its page is hidden and, shown again after the code went stale, refreshes at once', async () => {
    const { host } = mount();
    await jest.advanceTimersByTimeAsync(10);
    host.triggerPageLifeTime('hide');
    await jest.advanceTimersByTimeAsync(30 * MIN);
    expect(server.fake.state.loginCalls).toBe(1);
    host.triggerPageLifeTime('show');
    await jest.advanceTimersByTimeAsync(10);
    expect(server.fake.state.loginCalls).toBe(2);
    host.detach();
  });

  it('hide then detach stops once and cleanly; a later attach starts keeping again', async () => {
    const first = mount();
    await jest.advanceTimersByTimeAsync(10);
    first.host.triggerPageLifeTime('hide');
    first.host.detach();
    await jest.advanceTimersByTimeAsync(30 * MIN);
    expect(server.fake.state.loginCalls).toBe(1);
    expect(server.fake.showListenerCount()).toBe(0);
    const second = mount();
    await jest.advanceTimersByTimeAsync(10);
    expect(server.fake.state.loginCalls).toBe(2);
    second.host.detach();
  });

  it('two buttons on screen share one refresh timer', async () => {
    const a = mount();
    const b = mount();
    await jest.advanceTimersByTimeAsync(8 * MIN + 1000);
    expect(server.fake.state.loginCalls).toBe(3);
    a.host.detach();
    await jest.advanceTimersByTimeAsync(4 * MIN);
    expect(server.fake.state.loginCalls).toBe(4);
    b.host.detach();
  });

  it('replaces a code that went stale in the background as soon as the app shows', async () => {
    const { host } = mount();
    await jest.advanceTimersByTimeAsync(10);
    jest.setSystemTime(Date.now() + 6 * MIN); // timers suspended in the background
    server.fake.show();
    await jest.advanceTimersByTimeAsync(10);
    expect(server.fake.state.loginCalls).toBe(2);
    expect(await auth.getCode()).toBe('code-2');
    host.detach();
  });
});

describe('the tap', () => {
  // WeChat's own strings and errnos (errno 104/112: the privacy guide; 1400001: the phone-number
  // quota); errno decides first, errMsg second, and anything unknown is `denied`.
  it.each([
    ['user said no', { errMsg: 'getPhoneNumber:fail user deny' }, 'denied'],
    ['user cancelled', { errMsg: 'getPhoneNumber:fail:user cancel' }, 'denied'],
    ['privacy not agreed (104)', { errMsg: 'getPhoneNumber:fail privacy permission is not authorized', errno: 104 }, 'privacy'],
    ['privacy not agreed, bare errMsg (some Android clients)', { errMsg: 'privacy permission is not authorized', errno: 104 }, 'privacy'],
    ['API not declared in the privacy guide (112)', { errMsg: 'getPhoneNumber:fail api scope is not declared in the privacy agreement', errno: 112 }, 'privacy'],
    ['privacy, errMsg only (no errno)', { errMsg: 'getPhoneNumber:fail privacy permission is not authorized' }, 'privacy'],
    ['quota used up (1400001)', { errMsg: 'getPhoneNumber:fail', errno: 1400001 }, 'quota'],
    ['errno decides before errMsg', { errMsg: 'getPhoneNumber:fail user deny', errno: 104 }, 'privacy'],
    ['Android\'s deny wording', { errMsg: 'getPhoneNumber:fail:user deny' }, 'denied'],
    ['privacy APIs banned for the app (1025)', { errMsg: 'getPhoneNumber:fail appid privacy api banned', errno: 1025 }, 'privacy'],
    ['jsapi has no permission (102)', { errMsg: 'getPhoneNumber:fail', errno: 102 }, 'unsupported'],
    ['the user is blocked from getPhoneNumber (1421102)', { errMsg: 'getPhoneNumber:fail', errno: 1421102 }, 'unsupported'],
    ['errno 103 is ambiguous: errMsg decides (privacy)', { errMsg: 'getPhoneNumber:fail privacy permission is not authorized', errno: 103 }, 'privacy'],
    ['errno 103 is ambiguous: errMsg decides (denied)', { errMsg: 'getPhoneNumber:fail user deny', errno: 103 }, 'denied'],
    ['no permission (personal account)', { errMsg: 'getPhoneNumber:fail no permission' }, 'unsupported'],
    ['an unknown failure', { errMsg: 'getPhoneNumber:fail something new', errno: 999 }, 'denied'],
    ['no detail at all', {}, 'denied'],
  ])('%s: emits fail with that reason, WeChat\'s errMsg and errno, and sends nothing', async (_name, detail, reason) => {
    const { host, tap } = mount();
    await jest.advanceTimersByTimeAsync(10);
    tap('getphonenumber', detail);
    await jest.advanceTimersByTimeAsync(100);
    expect(seen).toEqual([['fail', { reason, errMsg: (detail as { errMsg?: string }).errMsg ?? '', errno: (detail as { errno?: number }).errno }]]);
    expect(phonePosts()).toHaveLength(0);
    host.detach();
  });

  it('a deny nested in detail.detail is a deny too', async () => {
    const { host, tap } = mount();
    await jest.advanceTimersByTimeAsync(10);
    tap('getphonenumber', { detail: { errMsg: 'getPhoneNumber:fail user deny' } });
    await jest.advanceTimersByTimeAsync(100);
    expect(seen).toEqual([['fail', { reason: 'denied', errMsg: 'getPhoneNumber:fail user deny' }]]);
    expect(phonePosts()).toHaveLength(0);
    host.detach();
  });

  it('on allow POSTs {code: the code kept before the tap, phoneCode}, stores the token and emits success', async () => {
    const { host, tap } = mount();
    await jest.advanceTimersByTimeAsync(10);
    const loginsBeforeTap = server.fake.state.loginCalls;
    tap('getphonenumber', { errMsg: 'getPhoneNumber:ok', code: 'phone-code-1' });
    await jest.advanceTimersByTimeAsync(100);
    expect(server.fake.state.loginCalls).toBe(2); // the next tap is covered at once
    expect(phonePosts()).toHaveLength(1);
    expect(phonePosts()[0]).toMatchObject({ url: 'https://api.example.com/auth/phone', method: 'POST' });
    expect(phonePosts()[0].data).toEqual({ code: 'code-1', phoneCode: 'phone-code-1', platform: 'wechat' });
    expect(phonePosts()[0].header.Authorization).toBeUndefined();
    expect(loginsBeforeTap).toBe(1); // code-1 existed before the tap
    expect(seen).toEqual([['success', expect.objectContaining({ purePhoneNumber: '13800138000', token: 'tok-1' })]]);
    expect(auth.token).toBe('tok-1');
    expect(server.fake.wx.getStorageSync('wx-login-kit:token')).toMatchObject({ token: 'tok-1' });
    host.detach();
  });

  it('a logged-in user\'s phone code is bound with the token: {phoneCode} only, no kept code spent, no new token', async () => {
    const login = auth.login();
    await jest.advanceTimersByTimeAsync(100);
    await login;
    const { host, tap } = mount();
    await jest.advanceTimersByTimeAsync(10);
    const logins = server.fake.state.loginCalls;
    tap('getphonenumber', { errMsg: 'getPhoneNumber:ok', code: 'phone-code-1' });
    await jest.advanceTimersByTimeAsync(100);
    expect(phonePosts()).toHaveLength(1);
    expect(phonePosts()[0].data).toEqual({ phoneCode: 'phone-code-1' });
    expect(phonePosts()[0].header.Authorization).toBe(`Bearer ${auth.token}`);
    expect(seen).toEqual([['success', { phoneNumber: '+86 13800138000', purePhoneNumber: '13800138000', countryCode: '86' }]]);
    expect(auth.token).toBe('tok-1'); // the session it bound to, not a new one
    // The kept code is still unused: the next tap of a user who logs out in between has it.
    expect(server.fake.state.loginCalls).toBe(logins);
    auth.logout();
    tap('getphonenumber', { errMsg: 'getPhoneNumber:ok', code: 'phone-code-2' });
    await jest.advanceTimersByTimeAsync(100);
    expect(phonePosts().at(-1)!.data).toEqual({ code: 'code-2', phoneCode: 'phone-code-2', platform: 'wechat' });
    host.detach();
  });

  it('on Douyin (tt), even logged in, a tap sends encryptedData + iv with the code kept before it, the app it is for, and no phone code', async () => {
    const g = globalThis as Record<string, unknown>;
    g.tt = Object.assign(server.fake.wx, { getEnvInfoSync: () => ({ microapp: { appId: 'tt0123456789abcd' } }) });
    try {
      delete g[Symbol.for('wx-login-kit') as unknown as string];
      auth = createAuth({ baseURL: 'https://api.example.com', wx: server.fake.wx });
      const login = auth.login();
      await jest.advanceTimersByTimeAsync(100);
      await login;
      const { host, tap } = mount();
      await jest.advanceTimersByTimeAsync(10);
      // Douyin 3.51.0+ may hand over a code too: the server half does not take Douyin's yet.
      tap('getphonenumber', { ...server.fake.legacyDetail('getPhoneNumber'), code: 'tt-phone-code' });
      await jest.advanceTimersByTimeAsync(100);
      expect(phonePosts().at(-1)!.data).toEqual({ code: 'code-2', encryptedData: 'enc:sk-2', iv: 'iv-1', platform: 'douyin', appid: 'tt0123456789abcd' });
      expect(phonePosts().at(-1)!.header.Authorization).toBeUndefined();
      host.detach();
    } finally {
      delete g.tt;
    }
  });

  it('a logged-in user\'s legacy encryptedData tap keeps today\'s path: the code kept before the tap', async () => {
    const login = auth.login();
    await jest.advanceTimersByTimeAsync(100);
    await login;
    const { host, tap } = mount({ openType: 'getUserInfo' });
    await jest.advanceTimersByTimeAsync(10);
    tap('getuserinfo', server.fake.legacyDetail());
    await jest.advanceTimersByTimeAsync(100);
    expect(server.fake.state.requests.at(-1)).toMatchObject({ url: 'https://api.example.com/auth/profile', data: { code: 'code-2', encryptedData: 'enc:sk-2' } });
    host.detach();
  });

  it('accepts the payload nested in detail.detail (Skyline) and getRealtimePhoneNumber with a custom path', async () => {
    const { host, tap } = mount({ openType: 'getRealtimePhoneNumber', path: '/auth/phone?realtime=1' });
    await jest.advanceTimersByTimeAsync(10);
    tap('getrealtimephonenumber', { detail: { errMsg: 'getRealtimePhoneNumber:ok', code: 'rt-1' } });
    await jest.advanceTimersByTimeAsync(100);
    expect(phonePosts()).toHaveLength(0); // the query string makes it another URL
    expect(server.fake.state.requests.at(-1)).toMatchObject({ url: 'https://api.example.com/auth/phone?realtime=1', data: { code: 'code-1', phoneCode: 'rt-1' } });
    host.detach();
  });

  it('shows loading while the request runs and ignores a second tap', async () => {
    const { host, tap } = mount();
    await jest.advanceTimersByTimeAsync(10);
    server.delays['/auth/phone'] = 1000;
    tap('getphonenumber', { code: 'p1' });
    await jest.advanceTimersByTimeAsync(50);
    expect(host.querySelector('#btn')!.data.loading).toBe(true);
    tap('getphonenumber', { code: 'p2' });
    await jest.advanceTimersByTimeAsync(2000);
    expect(phonePosts()).toHaveLength(1);
    expect(host.querySelector('#btn')!.data.loading).toBe(false);
    expect(seen.map(([name]) => name)).toEqual(['success']);
    host.detach();
  });

  it('emits fail {reason: server} for an HTTP error and {reason: network} when there was no answer', async () => {
    const { host, tap } = mount();
    await jest.advanceTimersByTimeAsync(10);
    server.phoneReplies.push({ statusCode: 500, data: { error: 'internal_error' } }, { fail: 'request:fail timeout' });
    tap('getphonenumber', { code: 'p1' });
    await jest.advanceTimersByTimeAsync(100);
    tap('getphonenumber', { code: 'p2' });
    await jest.advanceTimersByTimeAsync(100);
    expect(seen.map(([, d]) => [d.reason, (d.error as Error).name])).toEqual([
      ['server', 'HTTPError'],
      ['network', 'NetworkError'],
    ]);
    expect(auth.token).toBeNull();
    host.detach();
  });

  it('emits fail {reason: network} with a LoginError WX_LOGIN when no code can be had', async () => {
    const { host, tap } = mount();
    host.triggerPageLifeTime('hide'); // stop keeping before the prefetch lands
    await jest.advanceTimersByTimeAsync(10);
    jest.setSystemTime(Date.now() + 5 * MIN); // that code is stale now
    server.fake.state.loginFailures = 1;
    tap('getphonenumber', { code: 'p1' });
    await jest.advanceTimersByTimeAsync(100);
    expect(seen).toHaveLength(1);
    expect(seen[0][1]).toMatchObject({ reason: 'network', error: { name: 'LoginError', code: 'WX_LOGIN' } });
    expect((seen[0][1].error as Error).message).toBe('[wx-login-kit] no login code (login:fail timeout); nothing was sent, ask the user to tap again');
    expect(phonePosts()).toHaveLength(0);
    host.detach();
  });

  it('a legacy encryptedData tap succeeds because its code predates the tap; no wx.login until the server used it', async () => {
    const { host, tap } = mount({ openType: 'getUserInfo' });
    await jest.advanceTimersByTimeAsync(10);
    server.delays['/auth/profile'] = 1000;
    tap('getuserinfo', server.fake.legacyDetail()); // encrypted with the latest session_key: code-1's
    await jest.advanceTimersByTimeAsync(500);
    expect(server.fake.state.loginCalls).toBe(1); // nothing may refresh the login state now
    await jest.advanceTimersByTimeAsync(600);
    expect(server.fake.state.loginCalls).toBe(2); // then the next tap is covered
    expect(server.fake.state.requests.at(-1)).toMatchObject({
      url: 'https://api.example.com/auth/profile',
      data: { code: 'code-1', encryptedData: 'enc:sk-1', iv: 'iv-1' },
    });
    expect(seen[0][0]).toBe('success');
    host.detach();
  });

  it('with no code kept from before a legacy tap it sends nothing (a wx.login now would break decryption)', async () => {
    const { host, tap } = mount({ openType: 'getUserInfo' });
    await jest.advanceTimersByTimeAsync(10);
    jest.setSystemTime(Date.now() + 5 * MIN); // back from the background: the kept code is stale
    tap('getuserinfo', server.fake.legacyDetail());
    await jest.advanceTimersByTimeAsync(100);
    expect(server.fake.state.requests.filter((r) => r.url.endsWith('/auth/profile'))).toHaveLength(0);
    expect(seen[0][1]).toMatchObject({ reason: 'network', error: { name: 'LoginError', code: 'WX_LOGIN' } });
    expect((seen[0][1].error as Error).message).toMatch(/no login code \(no code kept before the tap\)/);
    // The button kept a fresh code meanwhile: the next tap (new data, new session_key) works.
    tap('getuserinfo', server.fake.legacyDetail());
    await jest.advanceTimersByTimeAsync(100);
    expect(seen[1][0]).toBe('success');
    host.detach();
  });

  it('control: a code from a wx.login after the tap cannot decrypt data encrypted before it', async () => {
    const { host, tap } = mount({ openType: 'getUserInfo' });
    await jest.advanceTimersByTimeAsync(10);
    const detail = server.fake.legacyDetail(); // encrypted with code-1's session_key
    await auth.getCode(); // someone takes code-1...
    await jest.advanceTimersByTimeAsync(10); // ...and the refill (code-2) is the latest now
    tap('getuserinfo', detail);
    await jest.advanceTimersByTimeAsync(100);
    expect(server.fake.state.requests.at(-1)!.data).toMatchObject({ code: 'code-2', encryptedData: 'enc:sk-1' });
    expect(seen[0][1]).toMatchObject({ reason: 'server', error: { statusCode: 400, data: { error: 'decrypt_failed' } } });
    host.detach();
  });
});

describe('finding the app\'s instance', () => {
  it('uses an instance made by another copy of the kit (the app\'s bundle) and tells its errors by name', async () => {
    // A second module copy, as when Taro or uni-app bundle the ES build and the button keeps its own file.
    let other!: typeof import('wx-login-kit');
    jest.isolateModules(() => {
      other = require('../../src/index');
    });
    expect(other.createAuth).not.toBe(createAuth);
    const otherServer = createScriptedServer();
    delete (globalThis as Record<symbol, unknown>)[Symbol.for('wx-login-kit')]; // the app's copy makes the only instance
    const appAuth = other.createAuth({ baseURL: 'https://api.example.com', wx: otherServer.fake.wx });
    const { host, tap } = mount();
    await jest.advanceTimersByTimeAsync(10);
    expect(otherServer.fake.state.loginCalls).toBe(1); // the app's copy keeps the code
    expect(server.fake.state.loginCalls).toBe(0);
    otherServer.phoneReplies.push({ statusCode: 500, data: { error: 'internal_error' } });
    tap('getphonenumber', { code: 'p-1', errMsg: 'getPhoneNumber:ok' });
    await jest.advanceTimersByTimeAsync(10);
    expect(seen).toHaveLength(1);
    const [, detail] = seen[0];
    expect(detail.reason).toBe('server');
    expect(detail.error).toBeInstanceOf(other.HTTPError);
    expect(appAuth.token).toBeNull();
    host.detach();
  });

  it('auth="name" picks the instance made with that name', async () => {
    const shopServer = createScriptedServer();
    createAuth({ name: 'shop', baseURL: 'https://shop.example.com', wx: shopServer.fake.wx });
    const { host, tap } = mount({ authName: 'shop' });
    await jest.advanceTimersByTimeAsync(10);
    tap('getphonenumber', { code: 'p-1', errMsg: 'getPhoneNumber:ok' });
    await jest.advanceTimersByTimeAsync(10);
    expect(shopServer.fake.state.requests.at(-1)).toMatchObject({ url: 'https://shop.example.com/auth/phone', data: { phoneCode: 'p-1' } });
    expect(server.fake.state.loginCalls + server.fake.state.requests.length).toBe(0);
    expect(seen[0][0]).toBe('success');
    host.detach();
  });
});

describe('privacy authorization (base library 2.32.3+)', () => {
  const privacyOf = (host: ReturnType<typeof mount>['host']) => (host.querySelector('#btn') as unknown as { data: { privacy: boolean } }).data.privacy;

  it('not agreed yet: the button takes the combined open-type; one tap agrees (agreeprivacy) and logs in', async () => {
    server.fake.state.needPrivacyAuthorization = true;
    const { host, tap } = mount();
    await jest.advanceTimersByTimeAsync(20);
    expect(privacyOf(host)).toBe(true); // open-type="getPhoneNumber|agreePrivacyAuthorization"
    // What WeChat does on that tap: the agree event, then the open-type event of the same tap.
    server.fake.state.needPrivacyAuthorization = false;
    tap('agreeprivacyauthorization', { errMsg: 'agreePrivacyAuthorization:ok' });
    tap('getphonenumber', { code: 'p-1', errMsg: 'getPhoneNumber:ok' });
    await jest.advanceTimersByTimeAsync(100);
    expect(seen.map(([name]) => name)).toEqual(['agreeprivacy', 'success']);
    expect(privacyOf(host)).toBe(false); // back to the plain open-type
    expect(phonePosts()).toHaveLength(1);
    host.detach();
  });

  it('already agreed: the plain open-type', async () => {
    const { host } = mount();
    await jest.advanceTimersByTimeAsync(20);
    expect(privacyOf(host)).toBe(false);
    host.detach();
  });

  it('shown again after the user agreed elsewhere (the app\'s own popup): back to the plain open-type', async () => {
    server.fake.state.needPrivacyAuthorization = true;
    const { host } = mount();
    await jest.advanceTimersByTimeAsync(20);
    expect(privacyOf(host)).toBe(true);
    host.triggerPageLifeTime('hide');
    server.fake.wx.onNeedPrivacyAuthorization((resolve) => resolve({ event: 'agree' }));
    await new Promise<void>((resolve) => server.fake.wx.requirePrivacyAuthorize({ success: () => resolve() }) as unknown as void);
    host.triggerPageLifeTime('show');
    await jest.advanceTimersByTimeAsync(20);
    expect(privacyOf(host)).toBe(false);
    host.detach();
  });

  it('base library without the privacy APIs: the plain open-type and today\'s behaviour', async () => {
    delete (server.fake.wx as { getPrivacySetting?: unknown }).getPrivacySetting;
    const { host, tap } = mount();
    await jest.advanceTimersByTimeAsync(20);
    expect(privacyOf(host)).toBe(false);
    tap('getphonenumber', { code: 'p-1', errMsg: 'getPhoneNumber:ok' });
    await jest.advanceTimersByTimeAsync(100);
    expect(seen.map(([name]) => name)).toEqual(['success']);
    host.detach();
  });

  it('a tap that fails for privacy (104) emits fail {reason: privacy} and sends nothing', async () => {
    server.fake.state.needPrivacyAuthorization = true;
    const { host, tap } = mount();
    await jest.advanceTimersByTimeAsync(20);
    tap('getphonenumber', { errMsg: 'getPhoneNumber:fail privacy permission is not authorized', errno: 104 });
    await jest.advanceTimersByTimeAsync(100);
    expect(seen).toEqual([['fail', { reason: 'privacy', errMsg: 'getPhoneNumber:fail privacy permission is not authorized', errno: 104 }]]);
    expect(phonePosts()).toHaveLength(0);
    host.detach();
  });
});

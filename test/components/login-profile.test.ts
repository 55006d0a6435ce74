/**
 * @jest-environment jsdom
 */
import path from 'node:path';
import simulate from 'miniprogram-simulate';
import { createAuth } from 'wx-login-kit';
import { createScriptedServer } from '../support/fake-wx';

const PROFILE = path.resolve(__dirname, '../../src/components/login-profile/index');

type Seen = Array<[string, Record<string, unknown>]>;
let hostId: string;
const seen: Seen = [];

beforeAll(() => {
  const profileId = simulate.load(PROFILE, 'login-profile', { compiler: 'simulate' });
  hostId = simulate.load({
    compiler: 'simulate' as const,
    usingComponents: { 'login-profile': profileId },
    template: `<login-profile id="profile" bind:success="onSuccess" bind:fail="onFail" bind:agreeprivacy="onAgree">Save</login-profile>`,
    methods: {
      onSuccess(e: WechatMiniprogram.CustomEvent<Record<string, unknown>>) {
        seen.push(['success', e.detail]);
      },
      onFail(e: WechatMiniprogram.CustomEvent<Record<string, unknown>>) {
        seen.push(['fail', e.detail]);
      },
      onAgree(e: WechatMiniprogram.CustomEvent<Record<string, unknown>>) {
        seen.push(['agreeprivacy', e.detail]);
      },
    },
  }) as unknown as string;
});

let server: ReturnType<typeof createScriptedServer>;

beforeEach(() => {
  jest.useFakeTimers();
  seen.length = 0;
  server = createScriptedServer();
  const inner = server.handler;
  // The reference server's answers to the two routes the profile uses.
  server.handler = (req) => {
    const r = inner(req);
    if (!('statusCode' in r) || r.statusCode !== 200) return r;
    if (req.url.endsWith('/api/avatar')) return { statusCode: 200, data: { id: 'av-1', url: '/api/files/av-1' } };
    if (req.url.endsWith('/api/profile')) return { statusCode: 200, data: { openid: 'o-1', nickname: (req.data as { nickname: string }).nickname, avatarUrl: '/api/files/av-1' } };
    return r;
  };
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('wx-login-kit')]; // a fresh app: no instance registered
  createAuth({ baseURL: 'https://api.example.com', wx: server.fake.wx });
});
afterEach(() => jest.useRealTimers());

function mount() {
  const host = simulate.render(hostId);
  host.attach(document.createElement('parent-wrapper'));
  const profile = host.querySelector('#profile')!;
  const el = (selector: string) => profile.querySelector(selector)!;
  return {
    host,
    data: () => (profile as unknown as { data: { avatarUrl: string; nickname: string; privacy: boolean; loading: boolean } }).data,
    chooseAvatar: (detail: object) => el('.wx-login-kit-avatar').dispatchEvent('chooseavatar', { detail }),
    agree: () => el('.wx-login-kit-avatar').dispatchEvent('agreeprivacyauthorization', { detail: { errMsg: 'agreePrivacyAuthorization:ok' } }),
    type: (value: string) => el('.wx-login-kit-nickname').dispatchEvent('input', { detail: { value } }),
    review: (detail: object) => el('.wx-login-kit-nickname').dispatchEvent('nicknamereview', { detail }),
    save: () => el('.wx-login-kit-save').dispatchEvent('tap', {}),
  };
}
const sent = (p: string) => server.fake.state.requests.filter((r) => r.url.endsWith(p));

describe('<login-profile>', () => {
  it('chooses an avatar, takes a reviewed nickname, uploads the avatar with the token and saves the profile', async () => {
    const ui = mount();
    ui.chooseAvatar({ avatarUrl: 'wxfile://tmp_avatar.png' });
    ui.type('小明😀');
    ui.review({ pass: true, timeout: false });
    await jest.advanceTimersByTimeAsync(20);
    expect(ui.data()).toMatchObject({ avatarUrl: 'wxfile://tmp_avatar.png', nickname: '小明😀' });
    ui.save();
    await jest.advanceTimersByTimeAsync(200);
    expect(sent('/api/avatar')[0]).toMatchObject({ kind: 'uploadFile', header: { Authorization: 'Bearer tok-1' }, data: { filePath: 'wxfile://tmp_avatar.png', name: 'avatar' } });
    expect(sent('/api/profile')[0]).toMatchObject({ method: 'POST', header: { Authorization: 'Bearer tok-1' }, data: { nickname: '小明😀', avatarId: 'av-1' } });
    expect(seen).toEqual([['success', { openid: 'o-1', nickname: '小明😀', avatarUrl: '/api/files/av-1' }]]);
    expect(ui.data().loading).toBe(false);
    ui.host.detach();
  });

  it('without an avatar saves the nickname alone', async () => {
    const ui = mount();
    ui.type('Alice');
    ui.save();
    await jest.advanceTimersByTimeAsync(200);
    expect(sent('/api/avatar')).toHaveLength(0);
    expect(sent('/api/profile')[0].data).toEqual({ nickname: 'Alice' });
    ui.host.detach();
  });

  it('a nickname WeChat\'s review rejects is cleared, fail {reason: nickname}, and nothing is saved', async () => {
    const ui = mount();
    ui.type('bad words');
    ui.review({ pass: false, timeout: false });
    await jest.advanceTimersByTimeAsync(20);
    expect(ui.data().nickname).toBe('');
    expect(seen).toEqual([['fail', { reason: 'nickname' }]]);
    ui.save();
    await jest.advanceTimersByTimeAsync(200);
    expect(sent('/api/profile')).toHaveLength(0);
    ui.host.detach();
  });

  it('a review that timed out keeps the nickname (WeChat could not check it)', async () => {
    const ui = mount();
    ui.type('Bob');
    ui.review({ pass: false, timeout: true });
    await jest.advanceTimersByTimeAsync(20);
    expect(ui.data().nickname).toBe('Bob');
    expect(seen).toEqual([]);
    ui.host.detach();
  });

  it('privacy not agreed: the avatar button agrees first (agreePrivacyAuthorization: no combined chooseAvatar is documented), then chooses', async () => {
    server.fake.state.needPrivacyAuthorization = true;
    const ui = mount();
    await jest.advanceTimersByTimeAsync(20);
    expect(ui.data().privacy).toBe(true); // open-type="agreePrivacyAuthorization"
    ui.agree();
    ui.chooseAvatar({ avatarUrl: 'wxfile://tmp_2.png' });
    await jest.advanceTimersByTimeAsync(20);
    expect(seen.map(([n]) => n)).toEqual(['agreeprivacy']);
    expect(ui.data()).toMatchObject({ privacy: false, avatarUrl: 'wxfile://tmp_2.png' });
    ui.host.detach();
  });

  it('a chooseAvatar that fails for privacy (104) emits fail {reason: privacy}', async () => {
    const ui = mount();
    ui.chooseAvatar({ errMsg: 'chooseAvatar:fail privacy permission is not authorized', errno: 104 });
    await jest.advanceTimersByTimeAsync(20);
    expect(seen).toEqual([['fail', { reason: 'privacy', errMsg: 'chooseAvatar:fail privacy permission is not authorized', errno: 104 }]]);
    ui.host.detach();
  });

  it('a server error on save emits fail {reason: server} with the HTTPError', async () => {
    const ui = mount();
    const inner = server.handler;
    server.handler = (req) => (req.url.endsWith('/api/profile') ? { statusCode: 400, data: { error: 'invalid_nickname' } } : inner(req));
    ui.type('x');
    ui.save();
    await jest.advanceTimersByTimeAsync(200);
    expect(seen).toHaveLength(1);
    expect(seen[0][1]).toMatchObject({ reason: 'server', error: { name: 'HTTPError', statusCode: 400 } });
    ui.host.detach();
  });
});

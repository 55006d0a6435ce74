/**
 * One wxLogin serving several apps of several platforms (`apps`), over real HTTP on loopback:
 * the WeChat, Douyin and Alipay emulators (Alipay through the unmodified alipay-sdk), on the
 * memory store and on a real Redis. Every emulator gives user 'shared' the same openid string in
 * every app, so what must stay apart (caps, limits, revocation) is only told apart by the app.
 * Clocks are manual; RSA keys are made here; nothing is read from outside the repository.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildAlipayEmulator, type AlipayEmulator } from '../../emulator/alipay';
import { buildDouyinEmulator, type DouyinEmulator } from '../../emulator/douyin';
import { HEADERS, serverOptions, wxLogin, type WxLoginOptions } from '../../server';
import { createMemoryStore, type SessionStore } from '../../server/store';
import { createRedisStore } from '../../server/redis-store';
import { startRedis, type TestRedis } from '../support/redis';
import { APPID, OTHER_APPID, OTHER_SECRET, SECRET, bearer, listen, loginWith, logLines, manualClock, me, post, postJson, startEmulator, wxLogin as wxLoginCode, type Clock } from './helpers';

const TT_APPID = 'tt00000000000000a1';
const TT_SECRET = 'douyin-test-secret-0123456789';
const TT_OTHER_APPID = 'tt00000000000000b2';
const TT_OTHER_SECRET = 'douyin-other-secret-9876543210';
const ALI_APPID = '2021000000000001';
const SHARED = 'o_shared_openid_0001';
const HOUR = 3_600_000;

// RSA key generation is the slow part: once per file.
const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const alipayKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const wrongKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const APP_PRIVATE = appKeys.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
const WRONG_PRIVATE = wrongKeys.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
const APP_PUBLIC = appKeys.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const AES_KEY = randomBytes(16).toString('base64');

type Body = Record<string, unknown>;
type Platform = 'wechat' | 'douyin' | 'alipay';

interface Stack {
  url: string;
  server: FastifyInstance;
  clock: Clock;
  wechatUrl: string;
  douyin: DouyinEmulator;
  alipay: AlipayEmulator;
  /** Every log line of the server. */
  lines: string[];
  /** A fresh login code of `user` in the app, as wx.login / tt.login / my.getAuthCode give it. */
  code(platform: Platform, appid: string, user?: string): Promise<string>;
  /** That code, then POST /auth/login naming the app; resolves to the token. */
  login(platform: Platform, appid: string, user?: string): Promise<string>;
  close(): Promise<void>;
}

const ALL_APPS: NonNullable<WxLoginOptions['apps']> = [
  { platform: 'wechat', appid: APPID, secret: SECRET },
  { platform: 'wechat', appid: OTHER_APPID, secret: OTHER_SECRET },
  { platform: 'douyin', appid: TT_APPID, secret: TT_SECRET },
  { platform: 'douyin', appid: TT_OTHER_APPID, secret: TT_OTHER_SECRET },
  { platform: 'alipay', appid: ALI_APPID, privateKey: APP_PRIVATE, alipayPublicKey: '', aesKey: AES_KEY },
];

/**
 * The three emulators and a server with `wxLogin` on `options` (apps: ALL_APPS unless given, each
 * pointed at its emulator). `/api/me` answers request.auth.
 */
async function startMulti(makeStore: (clock: Clock) => SessionStore, options: Partial<WxLoginOptions> = {}): Promise<Stack> {
  const wechat = await startEmulator({ openids: { shared: SHARED } });
  const emuClock = wechat.clock;
  const douyin = buildDouyinEmulator({
    apps: { [TT_APPID]: TT_SECRET, [TT_OTHER_APPID]: TT_OTHER_SECRET },
    now: emuClock.now,
    openids: { shared: SHARED },
    phones: { alice: '13800138000' },
  });
  const alipay = buildAlipayEmulator({
    apps: { [ALI_APPID]: { appPublicKey: APP_PUBLIC, aesKey: AES_KEY } },
    alipayPrivateKey: alipayKeys.privateKey,
    now: emuClock.now,
    openids: { shared: SHARED },
    phones: { alice: '13900139000' },
  });
  const douyinBase = await listen(douyin.app);
  const gateway = `${await listen(alipay.app)}/gateway.do`;

  const { lines, stream } = logLines();
  const clock = manualClock();
  const server = Fastify(serverOptions({ logger: { level: 'trace', stream } }));
  const pointed = (options.apps ?? ALL_APPS).map((a) =>
    a.platform === 'wechat'
      ? { apiBase: wechat.url, ...a }
      : a.platform === 'douyin'
        ? { apiBase: douyinBase, ...a }
        : a.platform === 'alipay'
          ? { gateway, ...a, alipayPublicKey: a.alipayPublicKey || alipay.alipayPublicKey }
          : a,
  );
  const plugin: WxLoginOptions = { rateLimit: { ip: false }, now: clock.now, store: makeStore(clock), ...options };
  await server.register(wxLogin, options.appid ? { ...plugin, apiBase: wechat.url } : { ...plugin, apps: pointed });
  server.get('/api/me', { preHandler: server.requireAuth }, async (request) => request.auth);
  const url = await listen(server);

  async function code(platform: Platform, appid: string, user = 'alice') {
    if (platform === 'wechat') return wxLoginCode(wechat.url, user, appid);
    if (platform === 'douyin') return douyin.login(appid, user).code;
    return alipay.authCode(appid, user);
  }
  return {
    url,
    server,
    clock,
    wechatUrl: wechat.url,
    douyin,
    alipay,
    lines,
    code,
    login: async (platform, appid, user = 'alice') => loginWith(url, await code(platform, appid, user), platform, appid),
    async close() {
      await server.close();
      await Promise.all([wechat.close(), douyin.app.close(), alipay.app.close()]);
    },
  };
}

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

// A prefix per stack: one redis-server for the file, no test sees another's keys.
let prefixes = 0;
const STORES: Array<[string, (clock: Clock) => SessionStore]> = [
  ['memory', (clock) => createMemoryStore({ now: clock.now })],
  ['redis', (clock) => createRedisStore({ redis: redis.client(), now: clock.now, prefix: `multi${++prefixes}:` })],
];

describe.each(STORES)('several apps (%s store)', (_name, makeStore) => {
  let s: Stack;
  afterEach(() => s?.close());

  it('logs a user in on each platform; request.auth names the app: {platform, appid, openid, unionid?}', async () => {
    s = await startMulti(makeStore);
    const wx = await me(s, bearer(await s.login('wechat', APPID)));
    expect(wx.status).toBe(200);
    expect(wx.body).toEqual({ platform: 'wechat', appid: APPID, openid: expect.stringMatching(/^[A-Za-z0-9_-]+$/), unionid: expect.any(String) });
    const tt = await me(s, bearer(await s.login('douyin', TT_APPID)));
    expect(tt.body).toEqual({ platform: 'douyin', appid: TT_APPID, openid: s.douyin.openidOf(TT_APPID, 'alice'), unionid: expect.any(String) });
    // Alipay gives no unionid: the key is absent, not undefined.
    const ali = await me(s, bearer(await s.login('alipay', ALI_APPID)));
    expect(ali.body).toEqual({ platform: 'alipay', appid: ALI_APPID, openid: s.alipay.openidOf(ALI_APPID, 'alice') });
  });

  it('the same openid string in two apps: each app has its own session cap', async () => {
    s = await startMulti(makeStore, { maxSessionsPerOpenid: 2 });
    const wx = [await s.login('wechat', APPID, 'shared'), await s.login('wechat', APPID, 'shared')];
    const tt = [await s.login('douyin', TT_APPID, 'shared'), await s.login('douyin', TT_APPID, 'shared')];
    const ali = [await s.login('alipay', ALI_APPID, 'shared'), await s.login('alipay', ALI_APPID, 'shared')];
    for (const token of [wx[0], tt[0], ali[0]]) expect((await me(s, bearer(token))).body.openid).toBe(SHARED);
    // A third WeChat login revokes the oldest WeChat session only.
    const third = await s.login('wechat', APPID, 'shared');
    expect((await me(s, bearer(wx[0]))).status).toBe(401);
    for (const token of [wx[1], third, ...tt, ...ali]) expect((await me(s, bearer(token))).status).toBe(200);
    const listed = await fetch(`${s.url}/auth/sessions`, { headers: bearer(tt[0]) }).then((r) => r.json() as Promise<{ sessions: unknown[] }>);
    expect(listed.sessions).toHaveLength(2);
  });

  it('the same openid string in two apps: each app has its own per-openid login limit', async () => {
    s = await startMulti(makeStore, { rateLimit: { ip: false, openid: { max: 2, timeWindowMs: 60_000 } } });
    await s.login('douyin', TT_APPID, 'shared');
    await s.login('douyin', TT_APPID, 'shared');
    const over = await post(s, '/auth/login', { code: await s.code('douyin', TT_APPID, 'shared'), platform: 'douyin', appid: TT_APPID });
    expect([over.status, over.body.error]).toEqual([429, 'rate_limited']);
    // The other Douyin app, WeChat and Alipay still have their whole budget for this openid.
    for (const [platform, appid] of [['douyin', TT_OTHER_APPID], ['wechat', APPID], ['alipay', ALI_APPID]] as const) {
      await s.login(platform, appid, 'shared');
      await s.login(platform, appid, 'shared');
    }
  });

  it('the same openid string in two apps: logout-all, the session list and DELETE /sessions/:id stay in the app', async () => {
    s = await startMulti(makeStore);
    const wx = await s.login('wechat', APPID, 'shared');
    const wxOther = await s.login('wechat', OTHER_APPID, 'shared');
    const tt = await s.login('douyin', TT_APPID, 'shared');
    const ali = await s.login('alipay', ALI_APPID, 'shared');

    const sessions = async (token: string) =>
      ((await fetch(`${s.url}/auth/sessions`, { headers: bearer(token) }).then((r) => r.json())) as { sessions: Array<{ id: string }> }).sessions;
    const [ttSession] = await sessions(tt);
    expect(await sessions(wx)).toHaveLength(1);
    // Another app's session id is not this user's.
    const foreign = await fetch(`${s.url}/auth/sessions/${ttSession.id}`, { method: 'DELETE', headers: bearer(wx) });
    expect(foreign.status).toBe(404);
    expect((await me(s, bearer(tt))).status).toBe(200);

    expect((await post(s, '/auth/logout-all', {}, bearer(wx))).body).toEqual({ revoked: 1 });
    expect((await me(s, bearer(wx))).status).toBe(401);
    for (const token of [wxOther, tt, ali]) expect((await me(s, bearer(token))).status).toBe(200);
    expect((await post(s, '/auth/logout', {}, bearer(ali))).body).toEqual({ ok: true });
    expect((await me(s, bearer(ali))).status).toBe(401);
    expect((await me(s, bearer(tt))).status).toBe(200);
  });

  it('app.wxLogin.list/revokeAll take {platform, appid, openid}; a bare openid is refused when several apps are served', async () => {
    s = await startMulti(makeStore);
    await s.login('douyin', TT_APPID, 'shared');
    const wx = await s.login('wechat', APPID, 'shared');
    expect(await s.server.wxLogin.list({ platform: 'douyin', appid: TT_APPID, openid: SHARED })).toHaveLength(1);
    expect(await s.server.wxLogin.revokeAll({ platform: 'douyin', appid: TT_APPID, openid: SHARED })).toBe(1);
    expect(await s.server.wxLogin.list({ platform: 'wechat', appid: APPID, openid: SHARED })).toHaveLength(1);
    // The appid alone is enough when it names one app.
    expect(await s.server.wxLogin.list({ appid: APPID, openid: SHARED })).toHaveLength(1);
    await expect(s.server.wxLogin.list(SHARED)).rejects.toThrow('[wx-login-kit] app.wxLogin: This server serves several apps');
    await expect(s.server.wxLogin.list({ platform: 'douyin', appid: 'ttnope', openid: SHARED })).rejects.toThrow('has no app platform douyin, appid ttnope');
    expect((await me(s, bearer(wx))).status).toBe(200);
  });

  it('in-band login per app: X-WX-Login-Code with X-WX-Login-Platform and X-WX-Login-Appid', async () => {
    s = await startMulti(makeStore);
    for (const [platform, appid] of [['wechat', OTHER_APPID], ['douyin', TT_APPID], ['alipay', ALI_APPID]] as const) {
      const res = await me(s, { 'x-wx-login-code': await s.code(platform, appid, 'shared'), 'x-wx-login-platform': platform, 'x-wx-login-appid': appid });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ platform, appid, openid: SHARED });
      const token = res.headers.get('x-wx-token')!;
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect((await me(s, bearer(token))).body).toMatchObject({ platform, appid });
    }
    // The appid alone names the one Alipay app.
    expect((await me(s, { 'x-wx-login-code': await s.code('alipay', ALI_APPID), 'x-wx-login-appid': ALI_APPID })).status).toBe(200);
  });

  it('in-band login that names no app, or one not served: 400 unknown_app, the code not spent', async () => {
    s = await startMulti(makeStore);
    const code = await s.code('douyin', TT_APPID);
    const none = await me(s, { 'x-wx-login-code': code });
    expect([none.status, none.body.error]).toEqual([400, 'unknown_app']);
    expect(none.body.message).toBe('This server serves several apps: name yours with platform and appid.');
    // The apps served are not listed to whoever asks.
    expect(none.body.message).not.toContain(TT_APPID);
    const wrong = await me(s, { 'x-wx-login-code': code, 'x-wx-login-platform': 'douyin', 'x-wx-login-appid': 'tt_not_served' });
    expect([wrong.status, wrong.body.error]).toEqual([400, 'unknown_app']);
    expect(wrong.headers.get('x-wx-token')).toBeNull();
    const ok = await me(s, { 'x-wx-login-code': code, 'x-wx-login-platform': 'douyin', 'x-wx-login-appid': TT_APPID });
    expect(ok.status).toBe(200);
  });

  it('in-band renewal keeps the app', async () => {
    s = await startMulti(makeStore);
    const token = await s.login('douyin', TT_APPID, 'shared');
    s.clock.advance(HOUR);
    const renewed = await me(s, bearer(token));
    const next = renewed.headers.get('x-wx-token')!;
    expect(next).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await me(s, bearer(next))).body).toEqual(renewed.body);
    expect(renewed.body).toMatchObject({ platform: 'douyin', appid: TT_APPID, openid: SHARED });
    // The successor counts in the same app's list.
    expect(await s.server.wxLogin.list({ platform: 'douyin', appid: TT_APPID, openid: SHARED })).toHaveLength(2);
  });

  it('POST /auth/login naming no app, or one not served: 400 unknown_app, the code not spent', async () => {
    s = await startMulti(makeStore);
    const code = await s.code('wechat', APPID);
    const none = await post(s, '/auth/login', { code });
    expect([none.status, none.body.error]).toEqual([400, 'unknown_app']);
    // Only one platform of two apps: still ambiguous.
    expect((await post(s, '/auth/login', { code, platform: 'wechat' })).body.error).toBe('unknown_app');
    const unknown = await post(s, '/auth/login', { code, platform: 'swan', appid: APPID });
    expect([unknown.status, unknown.body.error]).toEqual([400, 'unknown_app']);
    expect(unknown.body.message).toContain('This server has no app platform swan, appid');
    expect((await post(s, '/auth/login', { code, platform: 'wechat', appid: APPID })).status).toBe(200);
    // The platform alone names the one Alipay app, the appid alone a WeChat one.
    expect((await post(s, '/auth/login', { code: await s.code('alipay', ALI_APPID), platform: 'alipay' })).status).toBe(200);
    expect((await post(s, '/auth/login', { code: await s.code('wechat', OTHER_APPID), appid: OTHER_APPID })).status).toBe(200);
  });
});

describe('several apps: per platform', () => {
  let s: Stack;
  beforeEach(async () => {
    s = await startMulti((clock) => createMemoryStore({ now: clock.now }));
  });
  afterEach(() => s.close());

  it('Douyin anonymousCode: request.auth.anonymousOpenid; refused for another platform', async () => {
    const { code, anonymousCode } = s.douyin.login(TT_APPID, 'alice');
    const res = await post(s, '/auth/login', { code, anonymousCode, platform: 'douyin', appid: TT_APPID });
    expect(res.status).toBe(200);
    const auth = (await me(s, bearer(res.body.token as string))).body;
    expect(auth.anonymousOpenid).toMatch(/^_000/);
    expect(auth.anonymousOpenid).not.toBe(auth.openid);
    const wx = await post(s, '/auth/login', { code: await s.code('wechat', APPID), anonymousCode: 'x', platform: 'wechat', appid: APPID });
    expect([wx.status, wx.body.error]).toEqual([400, 'invalid_request']);
  });

  it('Douyin failures: a used code 401 invalid_code, err_no -1 503 platform_busy with Retry-After', async () => {
    const code = await s.code('douyin', TT_APPID);
    expect((await post(s, '/auth/login', { code, platform: 'douyin', appid: TT_APPID })).status).toBe(200);
    const used = await post(s, '/auth/login', { code, platform: 'douyin', appid: TT_APPID });
    expect([used.status, used.body.error]).toEqual([401, 'invalid_code']);
    expect(used.body.message).toContain('tt.login');
    s.douyin.failNext(-1);
    const busy = await post(s, '/auth/login', { code: await s.code('douyin', TT_APPID), platform: 'douyin', appid: TT_APPID });
    expect([busy.status, busy.body.error, busy.headers.get('retry-after')]).toEqual([503, 'platform_busy', '1']);
  });

  it('Alipay failures: a used authCode 401 invalid_code, isp.unknow-error 503 platform_busy', async () => {
    const code = await s.code('alipay', ALI_APPID);
    expect((await post(s, '/auth/login', { code, platform: 'alipay', appid: ALI_APPID })).status).toBe(200);
    const used = await post(s, '/auth/login', { code, platform: 'alipay', appid: ALI_APPID });
    expect([used.status, used.body.error]).toEqual([401, 'invalid_code']);
    expect(used.body.message).toContain('my.getAuthCode');
    s.alipay.failNext('isp.unknow-error');
    const busy = await post(s, '/auth/login', { code: await s.code('alipay', ALI_APPID), platform: 'alipay', appid: ALI_APPID });
    expect([busy.status, busy.body.error]).toEqual([503, 'platform_busy']);
  });

  it('phone, WeChat: {code, phoneCode} as in the single-app form', async () => {
    const code = await s.code('wechat', APPID);
    const tap = (await (await postJson(`${s.wechatUrl}/emulator/open-data`, { appid: APPID, user: 'alice', kind: 'getRealtimePhoneNumber' })).json()) as Body;
    const res = await post(s, '/auth/phone', { code, phoneCode: tap.code, platform: 'wechat', appid: APPID });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ token: expect.any(String), expiresIn: 7200, phoneNumber: expect.stringMatching(/^\d{11}$/), purePhoneNumber: expect.any(String), countryCode: '86' });
  });

  it('phone, Douyin: {code, encryptedData, iv} decrypted with that code\'s session_key', async () => {
    const code = await s.code('douyin', TT_APPID);
    const { encryptedData, iv } = s.douyin.phoneNumberDetail(TT_APPID, 'alice');
    const res = await post(s, '/auth/phone', { code, encryptedData, iv, platform: 'douyin', appid: TT_APPID });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ token: expect.any(String), expiresIn: 7200, phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86' });
    expect((await me(s, bearer(res.body.token as string))).body).toMatchObject({ platform: 'douyin', appid: TT_APPID });
  });

  it('phone, Douyin: tt.login after the tap is 400 decrypt_failed; a phoneCode or a Bearer without code is 400 invalid_request', async () => {
    const code = await s.code('douyin', TT_APPID);
    const detail = s.douyin.phoneNumberDetail(TT_APPID, 'alice');
    s.douyin.login(TT_APPID, 'alice'); // rotates the session_key the tap used
    const late = await post(s, '/auth/phone', { code: await s.code('douyin', TT_APPID), encryptedData: detail.encryptedData, iv: detail.iv, platform: 'douyin', appid: TT_APPID });
    expect([late.status, late.body.error]).toEqual([400, 'decrypt_failed']);
    expect(late.body.message).toContain('tt.login');
    const phoneCode = await post(s, '/auth/phone', { code, phoneCode: 'x', platform: 'douyin', appid: TT_APPID });
    expect([phoneCode.status, phoneCode.body.error]).toEqual([400, 'invalid_request']);
    // The refused body spent no code.
    expect((await post(s, '/auth/login', { code, platform: 'douyin', appid: TT_APPID })).status).toBe(200);
    const token = await s.login('douyin', TT_APPID);
    const bind = await post(s, '/auth/phone', { phoneCode: 'x' }, bearer(token));
    expect([bind.status, bind.body.error]).toEqual([400, 'invalid_request']);
  });

  it('phone, Alipay: {code, response} verified and decrypted -> {token, expiresIn, phoneNumber, purePhoneNumber, countryCode: "86"}', async () => {
    const res = await post(s, '/auth/phone', { code: await s.code('alipay', ALI_APPID), response: s.alipay.phoneResponse(ALI_APPID, 'alice'), platform: 'alipay', appid: ALI_APPID });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ token: expect.any(String), expiresIn: 7200, phoneNumber: '13900139000', purePhoneNumber: '13900139000', countryCode: '86' });
    expect((await me(s, bearer(res.body.token as string))).body).toMatchObject({ platform: 'alipay', appid: ALI_APPID });
  });

  it('phone, Alipay: a logged-in user binds with Bearer + {response}: the number only, no new session', async () => {
    const token = await s.login('alipay', ALI_APPID);
    const res = await post(s, '/auth/phone', { response: s.alipay.phoneResponse(ALI_APPID, 'alice') }, bearer(token));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ phoneNumber: '13900139000', purePhoneNumber: '13900139000', countryCode: '86' });
    expect(await s.server.wxLogin.list({ platform: 'alipay', appid: ALI_APPID, openid: s.alipay.openidOf(ALI_APPID, 'alice') })).toHaveLength(1);
  });

  it('phone, Alipay: a tampered response is 400 decrypt_failed and spends no authCode; not that JSON is 400 invalid_request', async () => {
    const envelope = JSON.parse(s.alipay.phoneResponse(ALI_APPID, 'alice')) as Body;
    const tampered = JSON.stringify({ ...envelope, response: Buffer.from(randomBytes(48)).toString('base64') });
    const code = await s.code('alipay', ALI_APPID);
    const bad = await post(s, '/auth/phone', { code, response: tampered, platform: 'alipay', appid: ALI_APPID });
    expect([bad.status, bad.body.error]).toEqual([400, 'decrypt_failed']);
    const notJson = await post(s, '/auth/phone', { code, response: 'nope', platform: 'alipay', appid: ALI_APPID });
    expect([notJson.status, notJson.body.error]).toEqual([400, 'invalid_request']);
    expect((await post(s, '/auth/login', { code, platform: 'alipay', appid: ALI_APPID })).status).toBe(200);
  });

  it('POST /auth/profile is WeChat only: 400 invalid_request for a Douyin app, no code spent', async () => {
    const code = await s.code('douyin', TT_APPID);
    const res = await post(s, '/auth/profile', { code, encryptedData: 'AAAA', iv: 'AAAAAAAAAAAAAAAAAAAAAA==', platform: 'douyin', appid: TT_APPID });
    expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
    expect((await post(s, '/auth/login', { code, platform: 'douyin', appid: TT_APPID })).status).toBe(200);
  });

  it('logs no secret, private key, AES key, code, token or session_key; 4xx/5xx are JSON without a stack', async () => {
    const codes = [await s.code('douyin', TT_APPID), await s.code('alipay', ALI_APPID), await s.code('wechat', APPID)];
    const tokens: string[] = [];
    for (const [i, [platform, appid]] of ([['douyin', TT_APPID], ['alipay', ALI_APPID], ['wechat', APPID]] as const).entries()) {
      tokens.push((await post(s, '/auth/login', { code: codes[i], platform, appid })).body.token as string);
      // Used now: the second try fails and is logged.
      const again = await post(s, '/auth/login', { code: codes[i], platform, appid });
      expect(again.status).toBe(401);
      expect(JSON.stringify(again.body)).not.toMatch(/at .*\.ts:|stack/i);
    }
    s.douyin.failNext(40017);
    const config = await post(s, '/auth/login', { code: await s.code('douyin', TT_APPID), platform: 'douyin', appid: TT_APPID });
    expect([config.status, config.body.error]).toEqual([502, 'platform_error']);
    const all = s.lines.join('');
    expect(all).toContain('code2Session failed');
    expect(all).toContain('alipay.system.oauth.token failed');
    const keyBody = APP_PRIVATE.split('\n')[5];
    for (const secret of [SECRET, TT_SECRET, keyBody, AES_KEY, ...codes, ...tokens, s.douyin.latestSessionKey(TT_APPID, 'alice')!]) {
      expect(all).not.toContain(secret);
    }
    expect(all).not.toMatch(/access_token|authusr/);
  });
});

describe('an Alipay app with a wrong private key', () => {
  it('is 502 platform_error (isv.invalid-signature), saying which keys to check', async () => {
    const s = await startMulti((clock) => createMemoryStore({ now: clock.now }), {
      apps: [{ platform: 'alipay', appid: ALI_APPID, privateKey: WRONG_PRIVATE, alipayPublicKey: '' }],
    });
    try {
      const res = await post(s, '/auth/login', { code: await s.code('alipay', ALI_APPID) });
      expect([res.status, res.body.error]).toEqual([502, 'platform_error']);
      expect(res.body.message).toContain('isv.invalid-signature');
      // No aesKey: the phone flow is off for this app.
      const phone = await post(s, '/auth/phone', { code: await s.code('alipay', ALI_APPID), response: '{}' });
      expect([phone.status, phone.body.error]).toEqual([400, 'invalid_request']);
    } finally {
      await s.close();
    }
  });
});

describe('one app in apps', () => {
  it('needs neither platform nor appid; request.auth still names the app', async () => {
    const s = await startMulti((clock) => createMemoryStore({ now: clock.now }), { apps: [{ platform: 'douyin', appid: TT_APPID, secret: TT_SECRET }] });
    try {
      const res = await post(s, '/auth/login', { code: await s.code('douyin', TT_APPID) });
      expect((await me(s, bearer(res.body.token as string))).body).toMatchObject({ platform: 'douyin', appid: TT_APPID });
      const inband = await me(s, { 'x-wx-login-code': await s.code('douyin', TT_APPID) });
      expect(inband.status).toBe(200);
      await expect(s.server.wxLogin.list(s.douyin.openidOf(TT_APPID, 'alice'))).resolves.toHaveLength(2);
    } finally {
      await s.close();
    }
  });
});

describe('the single-app form { appid, secret } is unchanged', () => {
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  it('request.auth {openid, unionid}, Redis keys o:<sha256(openid)> and sessions without platform or appid; a body naming the app is taken', async () => {
    const prefix = `single${++prefixes}:`;
    const client = redis.client();
    const s = await startMulti((clock) => createRedisStore({ redis: client, now: clock.now, prefix }), { appid: APPID, secret: SECRET });
    try {
      const code = await s.code('wechat', APPID, 'shared');
      const res = await post(s, '/auth/login', { code });
      const token = res.body.token as string;
      expect(Object.keys((await me(s, bearer(token))).body).sort()).toEqual(['openid', 'unionid']);
      expect(await client.exists(`${prefix}o:${sha256(SHARED)}`)).toBe(1);
      const stored = JSON.parse((await client.get(`${prefix}s:${sha256(token)}`))!) as Body;
      expect(Object.keys(stored).sort()).toEqual(['createdAt', 'expiresAt', 'idleMs', 'lastSeenAt', 'openid', 'session_key', 'unionid']);
      // What the kit sends (platform, appid) is not checked, as before: even another appid (DevTools'
      // test appid, say) logs in with a code of this app.
      expect((await post(s, '/auth/login', { code: await s.code('wechat', APPID), platform: 'wechat', appid: APPID })).status).toBe(200);
      expect((await post(s, '/auth/login', { code: await s.code('wechat', APPID), platform: 'wechat', appid: 'touristappid' })).status).toBe(200);
      expect(await s.server.wxLogin.list(SHARED)).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('with apps, the index is keyed by platform, appid and openid; a session of the single-app form is refused (401)', async () => {
    const prefix = `switch${++prefixes}:`;
    const client = redis.client();
    const single = await startMulti((clock) => createRedisStore({ redis: client, now: clock.now, prefix }), { appid: APPID, secret: SECRET });
    const old = (await post(single, '/auth/login', { code: await single.code('wechat', APPID, 'shared') })).body.token as string;
    await single.close();
    const s = await startMulti((clock) => createRedisStore({ redis: client, now: clock.now, prefix }));
    try {
      expect((await me(s, bearer(old))).status).toBe(401);
      await s.login('wechat', APPID, 'shared');
      expect(await client.exists(`${prefix}o:${sha256(JSON.stringify(['wechat', APPID, SHARED]))}`)).toBe(1);
    } finally {
      await s.close();
    }
  });
});

describe('configuration errors', () => {
  const douyin = { platform: 'douyin' as const, appid: TT_APPID, secret: TT_SECRET };
  it.each<[string, WxLoginOptions, string]>([
    ['both forms', { appid: APPID, secret: SECRET, apps: [douyin] }, 'got both apps and appid/secret'],
    ['empty apps', { apps: [] }, 'apps must be a non-empty array'],
    ['an unknown platform', { apps: [{ ...douyin, platform: 'swan' as 'douyin' }] }, "apps[0].platform must be one of 'wechat', 'douyin', 'alipay', 'qq' (got \"swan\")"],
    ['no appid', { apps: [{ ...douyin, appid: '' }] }, 'apps[0] (douyin) needs its appid'],
    ['a Douyin app without secret', { apps: [{ ...douyin, secret: '' }] }, `apps[0] (douyin ${TT_APPID}) needs secret`],
    ['an Alipay app without keys', { apps: [{ platform: 'alipay', appid: ALI_APPID, privateKey: '', alipayPublicKey: '' }] }, `apps[0] (alipay ${ALI_APPID}) needs privateKey and alipayPublicKey`],
    ['the same app twice', { apps: [douyin, { platform: 'wechat', appid: APPID, secret: SECRET }, douyin] }, `apps[2] repeats douyin app ${TT_APPID}`],
    ['a malformed apiBase', { apps: [{ ...douyin, apiBase: 'nope' }] }, `apiBase of Douyin app ${TT_APPID} must be an absolute URL`],
  ])('refuses %s, saying what to do', async (_name, opts, message) => {
    await expect(Fastify().register(wxLogin, { ...opts, openapi: false, rateLimit: false })).rejects.toThrow(`[wx-login-kit] wxLogin: ${message}`);
  });

  it('the single-app form still says what it always said', async () => {
    await expect(Fastify().register(wxLogin, { appid: APPID })).rejects.toThrow('[wx-login-kit] wxLogin needs appid and secret');
  });
});

describe('the contract as OpenAPI', () => {
  it('documents the app fields and the in-band X-WX-Login-Platform / X-WX-Login-Appid headers', async () => {
    const s = await startMulti((clock) => createMemoryStore({ now: clock.now }));
    try {
      const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as {
        components: { securitySchemes: Record<string, { name?: string }> };
        paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: { properties: Body } }> } }>>;
      };
      const names = Object.values(doc.components.securitySchemes).map((scheme) => scheme.name);
      expect(names).toEqual(expect.arrayContaining(['X-WX-Login-Code', 'X-WX-Login-Platform', 'X-WX-Login-Appid']));
      const login = doc.paths['/auth/login'].post.requestBody.content['application/json'].schema.properties;
      expect(Object.keys(login).sort()).toEqual(['anonymousCode', 'appid', 'code', 'platform']);
      const phone = doc.paths['/auth/phone'].post.requestBody.content['application/json'].schema.properties;
      expect(phone).toHaveProperty('response');
      expect(HEADERS).toMatchObject({ loginCode: 'x-wx-login-code', loginPlatform: 'x-wx-login-platform', loginAppid: 'x-wx-login-appid' });
    } finally {
      await s.close();
    }
  });
});

/**
 * QQ mini program apps (`apps: [{platform: 'qq', appid, secret}]`), over real HTTP on loopback.
 * QQ's code2Session is WeChat's (api.q.qq.com/sns/jscode2session, the same query and answer), so
 * a second WeChat emulator plays QQ's server, behind a fetch that dresses its answers as QQ's:
 * errcode 0 and `uin` on success, empty openid/session_key/unionid beside an errcode.
 * Both emulators give user 'shared' the same openid, and the QQ server knows the WeChat app's
 * appid string too: only the platform tells those users apart.
 */
import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { PLATFORM_DEFAULTS, serverOptions, wxLogin, type WxLoginOptions } from '../../server';
import { createMemoryStore, type SessionStore } from '../../server/store';
import { createRedisStore } from '../../server/redis-store';
import { startRedis, type TestRedis } from '../support/redis';
import { APPID, SECRET, bearer, listen, loginWith, logLines, manualClock, me, post, postJson, startEmulator, wxLogin as emulatorLogin, type Clock } from './helpers';

const QQ_APPID = '1110000001';
const QQ_SECRET = 'qq-test-secret-0123456789abcdef';
const SHARED = 'o_shared_openid_0001';

type Body = Record<string, unknown>;
type Platform = 'wechat' | 'qq';
type Emu = Awaited<ReturnType<typeof startEmulator>>;

interface Stack {
  url: string;
  server: FastifyInstance;
  wechat: Emu;
  qq: Emu;
  /** Every log line of the server. */
  lines: string[];
  /** The URLs the server fetched (they carry the secret: never logged, only looked at here). */
  fetched: string[];
  /** A fresh login code of `user`, as wx.login / qq.login give it. */
  code(platform: Platform, appid: string, user?: string): Promise<string>;
  /** That code, then POST /auth/login naming the app; resolves to the token. */
  login(platform: Platform, appid: string, user?: string): Promise<string>;
  close(): Promise<void>;
}

/** The fetch the server uses: QQ's answers as QQ words them, WeChat's untouched. */
function qqShaped(qqBase: string, fetched: string[]): typeof fetch {
  return async (input, init) => {
    const url = String(input);
    fetched.push(url);
    const res = await fetch(input, init);
    if (!url.startsWith(`${qqBase}/sns/jscode2session`)) return res;
    const answer = (await res.json()) as Body;
    const dressed =
      answer.errcode === undefined
        ? { errcode: 0, errmsg: '', ...answer, uin: '' }
        : { ...answer, openid: '', session_key: '', unionid: '' };
    return new Response(JSON.stringify(dressed), { status: res.status, headers: { 'content-type': 'application/json' } });
  };
}

const APPS: NonNullable<WxLoginOptions['apps']> = [
  { platform: 'wechat', appid: APPID, secret: SECRET },
  { platform: 'qq', appid: QQ_APPID, secret: QQ_SECRET },
  // The WeChat app's appid string, as a QQ app: another app all the same.
  { platform: 'qq', appid: APPID, secret: SECRET },
];

/** Both emulators and a server with `wxLogin` on APPS (pointed at them); `/api/me` answers request.auth. */
async function startQq(makeStore: (clock: Clock) => SessionStore, options: Partial<WxLoginOptions> = {}): Promise<Stack> {
  const wechat = await startEmulator({ openids: { shared: SHARED } });
  const qq = await startEmulator({ apps: { [QQ_APPID]: QQ_SECRET, [APPID]: SECRET }, openids: { shared: SHARED } });
  const { lines, stream } = logLines();
  const fetched: string[] = [];
  const clock = manualClock();
  const server = Fastify(serverOptions({ logger: { level: 'trace', stream } }));
  const apps = (options.apps ?? APPS).map((a) => (a.platform === 'qq' ? { apiBase: qq.url, ...a } : { apiBase: wechat.url, ...a }));
  await server.register(wxLogin, { rateLimit: { ip: false }, now: clock.now, store: makeStore(clock), fetch: qqShaped(qq.url, fetched), ...options, apps });
  server.get('/api/me', { preHandler: server.requireAuth }, async (request) => request.auth);
  const url = await listen(server);

  const code = (platform: Platform, appid: string, user = 'alice') => emulatorLogin(platform === 'qq' ? qq.url : wechat.url, user, appid);
  return {
    url,
    server,
    wechat,
    qq,
    lines,
    fetched,
    code,
    login: async (platform, appid, user = 'alice') => loginWith(url, await code(platform, appid, user), platform, appid),
    async close() {
      await server.close();
      await Promise.all([wechat.close(), qq.close()]);
    },
  };
}

const memory = (clock: Clock) => createMemoryStore({ now: clock.now });

describe('a QQ app', () => {
  let s: Stack;
  beforeEach(async () => {
    s = await startQq(memory);
  });
  afterEach(() => s.close());

  it('logs in with a qq.login code naming {platform: "qq", appid}: a token, and request.auth {platform: "qq", appid, openid, unionid}', async () => {
    const res = await post(s, '/auth/login', { code: await s.code('qq', QQ_APPID, 'shared'), platform: 'qq', appid: QQ_APPID });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expiresIn: 7200 });
    const auth = await me(s, bearer(res.body.token as string));
    expect(auth.status).toBe(200);
    expect(auth.body).toEqual({ platform: 'qq', appid: QQ_APPID, openid: SHARED, unionid: expect.stringMatching(/^ou/) });
    // QQ's server was asked code2Session only, on its own base: no access token, nothing of WeChat's.
    expect(s.qq.requests).toEqual(['POST /emulator/login', 'GET /sns/jscode2session']);
    expect(s.wechat.requests).toEqual([]);
    expect(s.fetched).toEqual([expect.stringMatching(new RegExp(`^${s.qq.url}/sns/jscode2session\\?appid=${QQ_APPID}&secret=.+&js_code=.+&grant_type=authorization_code$`))]);
  });

  it('a used code is 401 invalid_code naming qq.login', async () => {
    const code = await s.code('qq', QQ_APPID);
    expect((await post(s, '/auth/login', { code, platform: 'qq', appid: QQ_APPID })).status).toBe(200);
    const used = await post(s, '/auth/login', { code, platform: 'qq', appid: QQ_APPID });
    expect([used.status, used.body.error]).toEqual([401, 'invalid_code']);
    expect(used.body.message).toBe('QQ rejected the login code (expired, already used, or issued to another app). Call qq.login again for a fresh code.');
    // A code QQ never issued (40029) too.
    const unknown = await post(s, '/auth/login', { code: 'not-a-qq-code', platform: 'qq', appid: QQ_APPID });
    expect([unknown.status, unknown.body.error]).toEqual([401, 'invalid_code']);
    expect(unknown.body.message).toContain('qq.login');
  });

  it('QQ busy (errcode -1) is 503 platform_busy with Retry-After: 1', async () => {
    s.qq.emulator.failNext(-1);
    const busy = await post(s, '/auth/login', { code: await s.code('qq', QQ_APPID), platform: 'qq', appid: QQ_APPID });
    expect([busy.status, busy.body.error, busy.headers.get('retry-after')]).toEqual([503, 'platform_busy', '1']);
    expect(busy.body.message).toBe('QQ is busy. Retry in a second.');
  });

  it("QQ's per-user limit (errcode 45011) is 429 rate_limited with Retry-After: 60, in QQ's words", async () => {
    s.qq.emulator.failNext(45011);
    const limited = await post(s, '/auth/login', { code: await s.code('qq', QQ_APPID), platform: 'qq', appid: QQ_APPID });
    expect([limited.status, limited.body.error, limited.body.retryAfter, limited.headers.get('retry-after')]).toEqual([429, 'rate_limited', 60, '60']);
    expect(limited.body.message).toContain('qq.login');
    expect(limited.body.message).not.toContain('wx.login');
  });

  it('an errcode the kit does not know (-1009) is 502 platform_error with the errcode, never the secret; the log has errcode and reason', async () => {
    s.qq.emulator.failNext(-1009);
    const res = await post(s, '/auth/login', { code: await s.code('qq', QQ_APPID), platform: 'qq', appid: QQ_APPID });
    expect([res.status, res.body.error]).toEqual([502, 'platform_error']);
    expect(res.body.message).toBe("QQ refused code2Session with errcode -1009; check the server's appid and secret of this QQ app.");
    expect(JSON.stringify(res.body)).not.toContain(QQ_SECRET);
    const line = JSON.parse(s.lines.find((l) => l.includes('code2Session failed'))!) as Body;
    expect(line).toMatchObject({ platform: 'qq', appid: QQ_APPID, errcode: -1009, reason: 'WechatApiError' });
    expect(s.lines.join('')).not.toContain(QQ_SECRET);
  });

  it('a wrong secret (QQ answers an errcode) is 502 platform_error, the secret in neither the answer nor the log', async () => {
    const wrong = 'wrong-qq-secret-0000000000';
    const t = await startQq(memory, { apps: [{ platform: 'qq', appid: QQ_APPID, secret: wrong }] });
    try {
      const res = await post(t, '/auth/login', { code: await t.code('qq', QQ_APPID) });
      expect([res.status, res.body.error]).toEqual([502, 'platform_error']);
      expect(res.body.message).toContain("check the server's appid and secret");
      expect(JSON.stringify(res.body) + t.lines.join('')).not.toContain(wrong);
    } finally {
      await t.close();
    }
  });

  it('QQ unreachable is 502 platform_unreachable', async () => {
    // Nothing listens on port 1 of loopback: the connection is refused.
    const t = await startQq(memory, { apps: [{ platform: 'qq', appid: QQ_APPID, secret: QQ_SECRET, apiBase: 'http://127.0.0.1:1' }] });
    try {
      const res = await post(t, '/auth/login', { code: await t.code('qq', QQ_APPID) });
      expect([res.status, res.body.error]).toEqual([502, 'platform_unreachable']);
      expect(res.body.message).toBe('Could not reach QQ to check the login code. Retry shortly.');
      expect(JSON.parse(t.lines.find((l) => l.includes('code2Session failed'))!)).toMatchObject({ platform: 'qq', reason: 'WechatUnreachableError' });
    } finally {
      await t.close();
    }
  });

  it('POST /auth/phone is 400 invalid_request ("QQ has no phone-number button") before the code is spent', async () => {
    const code = await s.code('qq', QQ_APPID);
    for (const body of [
      { code, encryptedData: 'AAAA', iv: 'AAAAAAAAAAAAAAAAAAAAAA==' },
      { code, phoneCode: 'x' },
      { code, response: '{}' },
    ]) {
      const res = await post(s, '/auth/phone', { ...body, platform: 'qq', appid: QQ_APPID });
      expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
      expect(res.body.message).toMatch(/^QQ has no phone-number button/);
    }
    expect(s.qq.requests).not.toContain('GET /sns/jscode2session');
    // The same code then logs in.
    const token = (await post(s, '/auth/login', { code, platform: 'qq', appid: QQ_APPID })).body.token as string;
    expect((await me(s, bearer(token))).body).toMatchObject({ platform: 'qq', appid: QQ_APPID });
    // A logged-in QQ user binding a number: the same answer.
    const bind = await post(s, '/auth/phone', { phoneCode: 'x' }, bearer(token));
    expect([bind.status, bind.body.error]).toEqual([400, 'invalid_request']);
    expect(bind.body.message).toMatch(/^QQ has no phone-number button/);
  });

  it("POST /auth/profile decrypts QQ's getUserInfo data with that code's session_key (WeChat's AES-128-CBC)", async () => {
    const code = await s.code('qq', QQ_APPID);
    const tap = (await (await postJson(`${s.qq.url}/emulator/open-data`, { appid: QQ_APPID, user: 'alice', kind: 'getUserInfo' })).json()) as Body;
    const res = await post(s, '/auth/profile', { code, encryptedData: tap.encryptedData, iv: tap.iv, platform: 'qq', appid: QQ_APPID });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token: expect.any(String), expiresIn: 7200, userInfo: { nickName: expect.any(String), avatarUrl: expect.any(String) } });
    expect((await me(s, bearer(res.body.token as string))).body).toMatchObject({ platform: 'qq', appid: QQ_APPID });
    // A qq.login after the tap rotated the session_key: 400 decrypt_failed, saying to keep the code from before the tap.
    const late = await post(s, '/auth/profile', { code: await s.code('qq', QQ_APPID), encryptedData: tap.encryptedData, iv: tap.iv, platform: 'qq', appid: QQ_APPID });
    expect([late.status, late.body.error]).toEqual([400, 'decrypt_failed']);
    expect(late.body.message).toContain('qq.login');
  });

  it('in-band login: X-WX-Login-Code + X-WX-Login-Platform: qq + X-WX-Login-Appid', async () => {
    const res = await me(s, { 'x-wx-login-code': await s.code('qq', QQ_APPID, 'shared'), 'x-wx-login-platform': 'qq', 'x-wx-login-appid': QQ_APPID });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ platform: 'qq', appid: QQ_APPID, openid: SHARED });
    const token = res.headers.get('x-wx-token')!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await me(s, bearer(token))).body).toMatchObject({ platform: 'qq', appid: QQ_APPID });
    // A used code in-band: the same 401 as POST /auth/login.
    const code = await s.code('qq', QQ_APPID);
    await me(s, { 'x-wx-login-code': code, 'x-wx-login-platform': 'qq', 'x-wx-login-appid': QQ_APPID });
    const again = await me(s, { 'x-wx-login-code': code, 'x-wx-login-platform': 'qq', 'x-wx-login-appid': QQ_APPID });
    expect([again.status, again.body.error]).toEqual([401, 'invalid_code']);
  });

  it('the per-openid login limit counts per app: a QQ user spending it leaves the WeChat user of the same openid alone', async () => {
    const t = await startQq(memory, { rateLimit: { ip: false, openid: { max: 2, timeWindowMs: 60_000 } } });
    try {
      await t.login('qq', APPID, 'shared');
      await t.login('qq', APPID, 'shared');
      const over = await post(t, '/auth/login', { code: await t.code('qq', APPID, 'shared'), platform: 'qq', appid: APPID });
      expect([over.status, over.body.error]).toEqual([429, 'rate_limited']);
      await t.login('wechat', APPID, 'shared');
      await t.login('wechat', APPID, 'shared');
    } finally {
      await t.close();
    }
  });

  it('app.wxLogin.wechat is the WeChat app\'s client, not QQ\'s, whichever is listed first', async () => {
    const t = await startQq(memory, { apps: [{ platform: 'qq', appid: QQ_APPID, secret: QQ_SECRET }] });
    try {
      await expect(t.server.wxLogin.wechat.code2Session('x')).rejects.toThrow('there is no WeChat app among apps');
    } finally {
      await t.close();
    }
  });
});

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

let prefixes = 0;
const STORES: Array<[string, (clock: Clock) => SessionStore]> = [
  ['memory', memory],
  ['redis', (clock) => createRedisStore({ redis: redis.client(), now: clock.now, prefix: `qq${++prefixes}:` })],
];

describe.each(STORES)('a WeChat app and a QQ app of the same appid string and openid (%s store)', (_name, makeStore) => {
  let s: Stack;
  afterEach(() => s?.close());

  it('are two users: their own sessions, session caps, lists and revocation', async () => {
    s = await startQq(makeStore, { maxSessionsPerOpenid: 2 });
    const wx = [await s.login('wechat', APPID, 'shared'), await s.login('wechat', APPID, 'shared')];
    const qq = [await s.login('qq', APPID, 'shared'), await s.login('qq', APPID, 'shared')];
    expect((await me(s, bearer(wx[0]))).body).toMatchObject({ platform: 'wechat', appid: APPID, openid: SHARED });
    expect((await me(s, bearer(qq[0]))).body).toMatchObject({ platform: 'qq', appid: APPID, openid: SHARED });

    // A third QQ login revokes the oldest QQ session only.
    const third = await s.login('qq', APPID, 'shared');
    expect((await me(s, bearer(qq[0]))).status).toBe(401);
    for (const token of [...wx, qq[1], third]) expect((await me(s, bearer(token))).status).toBe(200);
    expect(await s.server.wxLogin.list({ platform: 'qq', appid: APPID, openid: SHARED })).toHaveLength(2);
    expect(await s.server.wxLogin.list({ platform: 'wechat', appid: APPID, openid: SHARED })).toHaveLength(2);

    // Another app's session id is not this user's.
    const sessions = async (token: string) =>
      ((await fetch(`${s.url}/auth/sessions`, { headers: bearer(token) }).then((r) => r.json())) as { sessions: Array<{ id: string }> }).sessions;
    const [wxSession] = await sessions(wx[0]);
    expect((await fetch(`${s.url}/auth/sessions/${wxSession.id}`, { method: 'DELETE', headers: bearer(third) })).status).toBe(404);

    // logout-all from QQ leaves WeChat's sessions; revokeAll on WeChat leaves QQ's.
    expect((await post(s, '/auth/logout-all', {}, bearer(third))).body).toEqual({ revoked: 2 });
    for (const token of [qq[1], third]) expect((await me(s, bearer(token))).status).toBe(401);
    for (const token of wx) expect((await me(s, bearer(token))).status).toBe(200);
    const again = await s.login('qq', APPID, 'shared');
    expect(await s.server.wxLogin.revokeAll({ platform: 'wechat', appid: APPID, openid: SHARED })).toBe(2);
    expect((await me(s, bearer(again))).status).toBe(200);
  });
});

describe('on Redis, a QQ session', () => {
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  it('is indexed by (qq, appid, openid) and stores {platform: "qq", appid, openid, session_key, unionid}', async () => {
    const prefix = `qqkeys${++prefixes}:`;
    const client = redis.client();
    const s = await startQq((clock) => createRedisStore({ redis: client, now: clock.now, prefix }));
    try {
      const token = await s.login('qq', QQ_APPID, 'shared');
      expect(await client.exists(`${prefix}o:${sha256(JSON.stringify(['qq', QQ_APPID, SHARED]))}`)).toBe(1);
      const stored = JSON.parse((await client.get(`${prefix}s:${sha256(token)}`))!) as Body;
      expect(stored).toMatchObject({ platform: 'qq', appid: QQ_APPID, openid: SHARED, session_key: expect.any(String), unionid: expect.any(String) });
      expect(stored).not.toHaveProperty('uin');
    } finally {
      await s.close();
    }
  });
});

describe('configuring a QQ app', () => {
  const qq = { platform: 'qq' as const, appid: QQ_APPID, secret: QQ_SECRET };
  it.each<[string, WxLoginOptions, string]>([
    ['without secret', { apps: [{ ...qq, secret: '' }] }, `apps[0] (qq ${QQ_APPID}) needs secret: see q.qq.com > 开发 > 开发设置.`],
    ['without appid', { apps: [{ ...qq, appid: '' }] }, 'apps[0] (qq) needs its appid'],
    ['with a malformed apiBase', { apps: [{ ...qq, apiBase: 'api.q.qq.com' }] }, `apiBase of QQ app ${QQ_APPID} must be an absolute URL such as https://api.q.qq.com.`],
    ['twice', { apps: [qq, { ...qq, secret: 'another' }] }, `apps[1] repeats qq app ${QQ_APPID}`],
    ['an unknown platform lists qq', { apps: [{ ...qq, platform: 'swan' as 'qq' }] }, "apps[0].platform must be one of 'wechat', 'douyin', 'alipay', 'qq' (got \"swan\")"],
  ])('refuses a QQ app %s, saying what to do', async (_name, opts, message) => {
    const err = await Fastify()
      .register(wxLogin, { ...opts, openapi: false, rateLimit: false })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.message).toContain(`[wx-login-kit] wxLogin: ${message}`);
    expect(err?.message).not.toContain(QQ_SECRET);
  });

  it("defaults to QQ's API, https://api.q.qq.com", async () => {
    expect(PLATFORM_DEFAULTS.qqApiBase).toBe('https://api.q.qq.com');
    const fetched: string[] = [];
    const server = Fastify();
    await server.register(wxLogin, {
      apps: [qq],
      openapi: false,
      rateLimit: false,
      fetch: async (input) => {
        fetched.push(String(input));
        return new Response(JSON.stringify({ errcode: -1009, errmsg: 'invalid appid', openid: '', session_key: '' }), { status: 200 });
      },
    });
    try {
      // The server's own fetch is the stub above; this one is the test's, to the server.
      const res = await postJson(`${await listen(server)}/auth/login`, { code: 'c' });
      expect([res.status, ((await res.json()) as Body).error]).toEqual([502, 'platform_error']);
      expect(fetched).toHaveLength(1);
      expect(fetched[0]).toMatch(/^https:\/\/api\.q\.qq\.com\/sns\/jscode2session\?appid=1110000001&secret=/);
    } finally {
      await server.close();
    }
  });
});

import Fastify, { type FastifyInstance } from 'fastify';
import { buildDouyinEmulator, type DouyinEmulator } from '../../emulator/douyin';
import { DecryptError, DouyinApiError, DouyinUnreachableError, createDouyinClient } from '../../server/douyin';
import { encryptData } from '../../server/wechat-crypto';
import { caught, listen, manualClock, postJson, type Clock } from './helpers';

const APPID = 'tt00000000000000a1';
const SECRET = 'douyin-test-secret-0123456789';
const OTHER_APPID = 'tt00000000000000b2';
const OTHER_SECRET = 'douyin-other-secret-9876543210';

type Answer = Record<string, unknown>;

let emu: DouyinEmulator;
let url: string;
let clock: Clock;
beforeEach(async () => {
  clock = manualClock();
  emu = buildDouyinEmulator({ apps: { [APPID]: SECRET, [OTHER_APPID]: OTHER_SECRET }, now: clock.now, phones: { alice: '13800138000' } });
  url = await listen(emu.app);
});
afterEach(() => emu.app.close());

async function jscode2session(body: Answer): Promise<Answer> {
  const res = await postJson(`${url}/api/apps/v2/jscode2session`, body);
  // Douyin answers HTTP 200 for errors too; err_no says what happened.
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

const exchange = (code: string, extra: Answer = {}) => jscode2session({ appid: APPID, secret: SECRET, code, ...extra });
const client = (opts: Partial<Parameters<typeof createDouyinClient>[0]> = {}) => createDouyinClient({ apiBase: url, appid: APPID, secret: SECRET, ...opts });

describe('Douyin emulator: jscode2session', () => {
  it('answers {err_no: 0, err_tips: success, log_id, data: {session_key, openid, anonymous_openid: "", unionid}} for a code', async () => {
    const { code } = emu.login(APPID, 'alice');
    const answer = await exchange(code);
    expect(Object.keys(answer).sort()).toEqual(['data', 'err_no', 'err_tips', 'log_id']);
    expect(answer).toMatchObject({ err_no: 0, err_tips: 'success' });
    const data = answer.data as Answer;
    expect(Object.keys(data).sort()).toEqual(['anonymous_openid', 'openid', 'session_key', 'unionid']);
    expect(data.session_key).toBe(emu.latestSessionKey(APPID, 'alice'));
    expect(Buffer.from(data.session_key as string, 'base64')).toHaveLength(16);
    expect(data.openid).toMatch(/^_000[A-Za-z0-9_-]{20}$/);
    expect(data.anonymous_openid).toBe('');
    expect(data.unionid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('gives anonymous_openid for an anonymous_code, and only that without a code', async () => {
    const both = emu.login(APPID, 'alice');
    const withBoth = (await exchange(both.code, { anonymous_code: both.anonymousCode })).data as Answer;
    expect(withBoth.anonymous_openid).toMatch(/^_000/);
    expect(withBoth.anonymous_openid).not.toBe(withBoth.openid);

    const alone = emu.login(APPID, 'alice');
    const anonymousOnly = await jscode2session({ appid: APPID, secret: SECRET, anonymous_code: alone.anonymousCode });
    expect(anonymousOnly.data).toEqual({ session_key: '', openid: '', anonymous_openid: withBoth.anonymous_openid, unionid: '' });
  });

  it('answers 40018 bad code to a used code', async () => {
    const { code } = emu.login(APPID, 'alice');
    await exchange(code);
    expect(await exchange(code)).toEqual({ err_no: 40018, err_tips: 'bad code', log_id: expect.any(String) });
  });

  it('answers 40018 to a code 3 minutes old, and takes one just under', async () => {
    const first = emu.login(APPID, 'alice').code;
    const second = emu.login(APPID, 'alice').code;
    clock.advance(179_999);
    expect((await exchange(first)).err_no).toBe(0);
    clock.advance(1);
    expect((await exchange(second)).err_no).toBe(40018);
  });

  it("answers 40018 to another app's code and to an unknown one, 40019 to a bad anonymous_code", async () => {
    expect((await exchange(emu.login(OTHER_APPID, 'alice').code)).err_no).toBe(40018);
    expect((await exchange('x'.repeat(96))).err_no).toBe(40018);
    const { code } = emu.login(APPID, 'alice');
    expect(await exchange(code, { anonymous_code: 'nope' })).toMatchObject({ err_no: 40019, err_tips: 'bad acode' });
    // A refused pair used up neither code.
    expect((await exchange(code)).err_no).toBe(0);
  });

  it('checks the request in order: params, appid, secret, codes; none of those uses the code up', async () => {
    const { code } = emu.login(APPID, 'alice');
    const ok = { appid: APPID, secret: SECRET, code };
    const cases: Array<[Answer, number, string]> = [
      [{ ...ok, appid: undefined }, 40014, 'bad params'],
      [{ ...ok, secret: '' }, 40014, 'bad params'],
      [{ ...ok, appid: 'ttunknown', secret: 'x' }, 40015, 'bad appid'],
      [{ ...ok, secret: OTHER_SECRET }, 40017, 'bad secret'],
      [{ ...ok, code: undefined }, 40014, 'bad params'],
    ];
    for (const [body, err_no, err_tips] of cases) {
      expect(await jscode2session(body)).toMatchObject({ err_no, err_tips });
    }
    expect((await jscode2session(ok)).err_no).toBe(0);
  });

  it('gives a stable openid per (appid, user), one unionid per user across apps, a new session_key per login', async () => {
    const data = async (user: string, appid = APPID, secret = SECRET) =>
      (await jscode2session({ appid, secret, code: emu.login(appid, user).code })).data as Answer;
    const a1 = await data('alice');
    const a2 = await data('alice');
    const other = await data('alice', OTHER_APPID, OTHER_SECRET);
    expect(a2.openid).toBe(a1.openid);
    expect(a2.session_key).not.toBe(a1.session_key);
    expect(other.openid).not.toBe(a1.openid);
    expect(other.unionid).toBe(a1.unionid);
    expect((await data('bob')).openid).not.toBe(a1.openid);
  });

  it('failNext makes the next exchanges answer -1 system error without using the code up', async () => {
    emu.failNext(-1, 2);
    const { code } = emu.login(APPID, 'alice');
    expect(await exchange(code)).toMatchObject({ err_no: -1, err_tips: 'system error' });
    expect((await exchange(code)).err_no).toBe(-1);
    expect((await exchange(code)).err_no).toBe(0);
    expect(() => emu.failNext(-1, 101)).toThrow(RangeError);
  });

  it('sweeps expired codes at the next login', async () => {
    const old = emu.login(APPID, 'alice').code;
    clock.advance(180_000);
    emu.login(APPID, 'bob');
    clock.advance(-180_000);
    expect((await exchange(old)).err_no).toBe(40018);
  });

  it('refuses to mint for an unknown appid, and a phone tap before any login', () => {
    expect(() => emu.login('ttnope', 'alice')).toThrow(/unknown appid/);
    expect(() => emu.phoneNumberDetail(APPID, 'nobody')).toThrow(/call login/);
  });
});

describe('Douyin client: code2Session', () => {
  it('exchanges a code for {openid, session_key, unionid}, leaving out the empty anonymous_openid', async () => {
    const { code } = emu.login(APPID, 'alice');
    const session = await client().code2Session(code);
    expect(session).toEqual({ openid: emu.openidOf(APPID, 'alice'), session_key: emu.latestSessionKey(APPID, 'alice'), unionid: expect.any(String) });
  });

  it('sends the anonymous_code when given and returns anonymous_openid', async () => {
    const { code, anonymousCode } = emu.login(APPID, 'alice');
    const session = await client().code2Session(code, anonymousCode);
    expect(session.anonymous_openid).toMatch(/^_000/);
  });

  it.each([
    ['a used code', 40018, 'invalid_code'],
    ['a bad anonymous_code', 40019, 'invalid_code'],
    ['a wrong secret', 40017, 'config'],
    ['an unknown appid', 40015, 'config'],
    ['Douyin busy', -1, 'busy'],
    ['an undocumented err_no', 12345, 'rejected'],
  ] as const)('maps %s to DouyinApiError err_no %i, kind %s, without the secret in the message', async (name, err_no, kind) => {
    const { code, anonymousCode } = emu.login(APPID, 'alice');
    let c = client();
    let anonymous: string | undefined;
    if (name === 'a used code') await c.code2Session(code);
    if (name === 'a bad anonymous_code') anonymous = anonymousCode + 'x';
    if (name === 'a wrong secret') c = client({ secret: OTHER_SECRET });
    if (name === 'an unknown appid') c = client({ appid: 'ttnope' });
    if (name === 'Douyin busy' || name === 'an undocumented err_no') emu.failNext(err_no);
    const err = await caught(c.code2Session(code, anonymous));
    expect(err).toBeInstanceOf(DouyinApiError);
    expect(err).toMatchObject({ err_no, kind, api: 'code2Session' });
    expect(err.message).toMatch(new RegExp(`^\\[wx-login-kit\\] Douyin code2Session failed: err_no ${err_no} `));
    for (const secretish of [SECRET, OTHER_SECRET, code]) expect(err.message).not.toContain(secretish);
  });

  it('says what to do in the message', async () => {
    const err = await caught(client().code2Session('not-a-code'));
    expect(err.message).toBe('[wx-login-kit] Douyin code2Session failed: err_no 40018 bad code (call tt.login again and send the new code)');
  });
});

describe('Douyin client against a fake Douyin', () => {
  const fakes: FastifyInstance[] = [];
  afterEach(async () => {
    while (fakes.length) await fakes.pop()!.close();
  });
  async function fake(reply: (app: FastifyInstance) => void): Promise<string> {
    const app = Fastify();
    reply(app);
    fakes.push(app);
    return listen(app);
  }
  const PATH = '/api/apps/v2/jscode2session';
  const KEY = Buffer.alloc(16, 7).toString('base64');

  it.each([
    ['no err_no', { data: { openid: 'o1', session_key: KEY } }],
    ['err_no 0 without data', { err_no: 0, err_tips: 'success' }],
    ['a session_key that is not base64 of 16 bytes', { err_no: 0, data: { openid: 'o1', session_key: 'k' } }],
    ['an openid with other characters', { err_no: 0, data: { openid: 'o1<x>', session_key: KEY } }],
    ['a unionid that is not a string', { err_no: 0, data: { openid: 'o1', session_key: KEY, unionid: 7 } }],
  ])('refuses an answer with %s (DouyinApiError err_no 0, kind rejected)', async (_name, answer) => {
    const base = await fake((app) => app.post(PATH, async () => answer));
    const err = await caught(client({ apiBase: base }).code2Session('c'));
    expect(err).toBeInstanceOf(DouyinApiError);
    expect(err).toMatchObject({ err_no: 0, kind: 'rejected' });
  });

  it("takes err_no as the string '0' (Douyin's SDK types it so) and Douyin's ids with dots", async () => {
    const base = await fake((app) => app.post(PATH, async () => ({ err_no: '0', data: { openid: '8PB.cW.TabxdbJFs', session_key: KEY, unionid: '', anonymous_openid: '' } })));
    expect(await client({ apiBase: base }).code2Session('c')).toEqual({ openid: '8PB.cW.TabxdbJFs', session_key: KEY });
  });

  it.each([
    ['a non-200 status', (app: FastifyInstance) => app.post(PATH, async (_q, r) => r.code(502).send('bad gateway')), 'HTTP 502'],
    ['a non-JSON body', (app: FastifyInstance) => app.post(PATH, async (_q, r) => r.type('text/html').send('<html>')), 'answer is not JSON'],
    ['a JSON non-object', (app: FastifyInstance) => app.post(PATH, async (_q, r) => r.type('application/json').send('null')), 'not a JSON object'],
    ['an answer over 64 KB', (app: FastifyInstance) => app.post(PATH, async () => ({ err_no: 0, pad: 'x'.repeat(70_000) })), 'larger than 65536 bytes'],
  ])('throws DouyinUnreachableError on %s', async (_name, reply, reason) => {
    const base = await fake(reply);
    const err = await caught(client({ apiBase: base }).code2Session('c'));
    expect(err).toBeInstanceOf(DouyinUnreachableError);
    expect(err.message).toContain(reason);
    expect(err.message).not.toContain(SECRET);
  });

  it('throws DouyinUnreachableError when nothing listens, without the URL', async () => {
    const base = await fake(() => {});
    await fakes.pop()!.close();
    const err = await caught(client({ apiBase: base }).code2Session('c'));
    expect(err).toBeInstanceOf(DouyinUnreachableError);
    expect(err.message).toBe('[wx-login-kit] Douyin code2Session failed: Douyin unreachable (network error)');
  });

  it('gives up after timeoutMs', async () => {
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const base = await fake((app) => app.post(PATH, async () => hung.then(() => ({}))));
    const err = await caught(client({ apiBase: base, timeoutMs: 50 }).code2Session('c'));
    expect(err).toBeInstanceOf(DouyinUnreachableError);
    expect(err.message).toContain('no answer within 50 ms');
    release();
  });

  it('posts JSON {appid, secret, code} to /api/apps/v2/jscode2session, anonymous_code only when given', async () => {
    const bodies: unknown[] = [];
    const base = await fake((app) =>
      app.post(PATH, async (req) => {
        bodies.push({ type: req.headers['content-type'], body: req.body });
        return { err_no: 0, data: { openid: 'o1', session_key: KEY } };
      }),
    );
    await client({ apiBase: base + '/' }).code2Session('c1');
    await client({ apiBase: base }).code2Session('c2', 'a2');
    expect(bodies).toEqual([
      { type: 'application/json', body: { appid: APPID, secret: SECRET, code: 'c1' } },
      { type: 'application/json', body: { appid: APPID, secret: SECRET, code: 'c2', anonymous_code: 'a2' } },
    ]);
  });
});

describe('Douyin phone number (getPhoneNumber encryptedData)', () => {
  it('round trip: tt.login, tap, code2Session, decrypt gives the number with this appid watermark', async () => {
    const { code } = emu.login(APPID, 'alice');
    const detail = emu.phoneNumberDetail(APPID, 'alice');
    expect(detail.errMsg).toBe('getPhoneNumber:ok');
    const c = client();
    const { session_key } = await c.code2Session(code);
    expect(c.decryptPhoneNumber({ sessionKey: session_key, encryptedData: detail.encryptedData, iv: detail.iv })).toEqual({
      phoneNumber: '13800138000',
      purePhoneNumber: '13800138000',
      countryCode: '86',
      watermark: { appid: APPID, timestamp: Math.floor(clock.now() / 1000) },
    });
  });

  it('a tt.login after the tap rotates the session_key: decrypt_failed, naming tt.login', async () => {
    emu.login(APPID, 'alice');
    const detail = emu.phoneNumberDetail(APPID, 'alice');
    const { code } = emu.login(APPID, 'alice');
    const c = client();
    const { session_key } = await c.code2Session(code);
    let err: unknown;
    try {
      c.decryptPhoneNumber({ sessionKey: session_key, encryptedData: detail.encryptedData, iv: detail.iv });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DecryptError);
    expect(err).toMatchObject({ code: 'decrypt_failed', message: expect.stringContaining('tt.login') });
    expect((err as Error).message).not.toContain(session_key);
  });

  it("refuses another app's data (watermark_mismatch), bad base64, and data without a number", () => {
    emu.login(OTHER_APPID, 'alice');
    const foreign = emu.phoneNumberDetail(OTHER_APPID, 'alice');
    const key = emu.latestSessionKey(OTHER_APPID, 'alice')!;
    const c = client();
    expect(() => c.decryptPhoneNumber({ sessionKey: key, encryptedData: foreign.encryptedData, iv: foreign.iv })).toThrow(
      expect.objectContaining({ code: 'watermark_mismatch' }),
    );
    expect(() => c.decryptPhoneNumber({ sessionKey: 'short', encryptedData: foreign.encryptedData, iv: foreign.iv })).toThrow(
      expect.objectContaining({ code: 'bad_base64' }),
    );
    const notPhone = encryptData(key, { nickName: 'x', watermark: { appid: APPID, timestamp: 1 } });
    expect(() => c.decryptPhoneNumber({ sessionKey: key, ...notPhone })).toThrow(expect.objectContaining({ code: 'decrypt_failed', message: expect.stringContaining('no phone number') }));
  });
});

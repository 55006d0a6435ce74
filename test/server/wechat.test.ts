import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { createAccessTokenClient } from '../../server/access-token';
import { createWechatClient, WechatApiError, WechatUnreachableError } from '../../server/wechat';
import { APPID, OTHER_APPID, OTHER_SECRET, SECRET, listen, postJson, startEmulator, wxLogin, caught } from './helpers';

let emu: Awaited<ReturnType<typeof startEmulator>>;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(() => emu.close());

/** A fake WeChat answering every code2Session with `reply`. */
async function fakeWechat(reply: (app: FastifyInstance) => void): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify();
  reply(app);
  const url = await listen(app);
  return { url, close: () => app.close() };
}

// base64 of a 16-byte AES key, as code2Session's session_key is.
const KEY = Buffer.alloc(16, 7).toString('base64');

describe('code2Session client', () => {
  it('exchanges a code for {openid, session_key, unionid}', async () => {
    const client = createWechatClient({ apiBase: emu.url, appid: APPID, secret: SECRET });
    const code = await wxLogin(emu.url, 'alice');
    const result = await client.code2Session(code);
    expect(result.session_key).toBe(emu.emulator.latestSessionKey(APPID, 'alice'));
    expect(result.openid).toMatch(/^o/);
    expect(result.unionid).toMatch(/^ou/);
  });

  it('throws WechatApiError with errcode and errmsg, never the secret', async () => {
    const client = createWechatClient({ apiBase: emu.url, appid: APPID, secret: SECRET });
    const err = await caught(client.code2Session('not-a-real-code'));
    expect(err).toBeInstanceOf(WechatApiError);
    expect((err as WechatApiError).errcode).toBe(40029);
    expect(err.message).toMatch(/^\[wx-login-kit\] code2Session failed: errcode 40029 invalid code/);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain('jscode2session');
  });

  it('treats a success answer without openid or session_key as a WechatApiError', async () => {
    const fake = await fakeWechat((app) => app.get('/sns/jscode2session', async () => ({ openid: 'o1' })));
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
    expect(await caught(client.code2Session('c'))).toBeInstanceOf(WechatApiError);
    await fake.close();
  });

  it('parses JSON served as text/plain, as WeChat serves it', async () => {
    const fake = await fakeWechat((app) =>
      app.get('/sns/jscode2session', async (_req, reply) =>
        reply.type('text/plain').send(JSON.stringify({ openid: 'o1', session_key: KEY })),
      ),
    );
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
    expect(await client.code2Session('c')).toEqual({ openid: 'o1', session_key: KEY });
    await fake.close();
  });

  it.each([
    ['a session_key that is not base64 of 16 bytes', { openid: 'o1', session_key: 'k1' }],
    ['an 8 MB session_key', { openid: 'o1', session_key: 'A'.repeat(8 << 20) }],
    ['an openid with other characters', { openid: 'o1<script>', session_key: KEY }],
    ['an openid of 65 characters', { openid: 'o'.repeat(65), session_key: KEY }],
    ['a unionid that is not a string', { openid: 'o1', session_key: KEY, unionid: 42 }],
  ])('refuses an answer with %s (WechatApiError, nothing to store)', async (_name, answer) => {
    const fake = await fakeWechat((app) => app.get('/sns/jscode2session', async () => answer));
    try {
      const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
      const err = await caught(client.code2Session('c'));
      // 8 MB is refused for its size before its shape is looked at.
      expect(err).toBeInstanceOf(answer.session_key.length > 65536 ? WechatUnreachableError : WechatApiError);
      expect(err.message).not.toContain(SECRET);
    } finally {
      await fake.close();
    }
  });

  it('reads at most 64 KB of an answer, whether or not it declares its length', async () => {
    const big = JSON.stringify({ openid: 'o1', session_key: KEY, padding: 'x'.repeat(70_000) });
    for (const chunked of [false, true]) {
      const fake = await fakeWechat((app) =>
        app.get('/sns/jscode2session', async (_req, reply) => (chunked ? reply.send(Readable.from([big.slice(0, 40_000), big.slice(40_000)])) : big)),
      );
      try {
        const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
        const err = await caught(client.code2Session('c'));
        expect(err).toBeInstanceOf(WechatUnreachableError);
        expect(err.message).toMatch(/larger than 65536 bytes/);
      } finally {
        await fake.close();
      }
    }
  });

  it.each([
    ['a non-200 status', (app: FastifyInstance) => app.get('/sns/jscode2session', async (_q, r) => r.code(502).send('bad gateway'))],
    ['a non-JSON body', (app: FastifyInstance) => app.get('/sns/jscode2session', async (_q, r) => r.type('text/html').send('<html>'))],
  ])('throws WechatUnreachableError on %s', async (_name, reply) => {
    const fake = await fakeWechat(reply);
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
    const err = await caught(client.code2Session('c'));
    expect(err).toBeInstanceOf(WechatUnreachableError);
    expect(err.message).not.toContain(SECRET);
    await fake.close();
  });

  it('throws WechatUnreachableError when nothing listens, without the URL in the message', async () => {
    const fake = await fakeWechat(() => {});
    await fake.close(); // the port is now closed
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
    const err = await caught(client.code2Session('c'));
    expect(err).toBeInstanceOf(WechatUnreachableError);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain(fake.url);
  });

  it('gives up after timeoutMs when WeChat does not answer', async () => {
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const fake = await fakeWechat((app) => app.get('/sns/jscode2session', async () => hung.then(() => ({}))));
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET, timeoutMs: 50 });
    const err = await caught(client.code2Session('c'));
    expect(err).toBeInstanceOf(WechatUnreachableError);
    expect(err.message).toContain('50 ms');
    release();
    await fake.close();
  });
});

describe('getUserPhoneNumber', () => {
  let phoneEmu: Awaited<ReturnType<typeof startEmulator>>;
  beforeEach(async () => {
    phoneEmu = await startEmulator({ phones: { alice: '13800138000' } });
  });
  afterEach(() => phoneEmu.close());

  /** wx.login then a getPhoneNumber tap, as alice: the phone code the button gave. */
  async function phoneCode(): Promise<string> {
    await wxLogin(phoneEmu.url, 'alice');
    const res = await postJson(`${phoneEmu.url}/emulator/open-data`, { appid: APPID, user: 'alice', kind: 'getPhoneNumber' });
    return ((await res.json()) as { code: string }).code;
  }

  const since = (mark: number) => phoneEmu.requests.slice(mark).filter((r) => !r.startsWith('POST /emulator/'));

  it('exchanges a phone code for phone_info, getting an access token on the way', async () => {
    const client = createWechatClient({ apiBase: phoneEmu.url, appid: APPID, secret: SECRET });
    const code = await phoneCode();
    const mark = phoneEmu.requests.length;
    expect(await client.getUserPhoneNumber(code)).toEqual({
      phoneNumber: '13800138000',
      purePhoneNumber: '13800138000',
      countryCode: '86',
      watermark: { timestamp: Math.floor(phoneEmu.clock.now() / 1000), appid: APPID },
    });
    expect(since(mark)).toEqual(['POST /cgi-bin/stable_token', 'POST /wxa/business/getuserphonenumber']);
  });

  it('after 40001 (token force-refreshed elsewhere), refreshes the token and retries once', async () => {
    const client = createWechatClient({ apiBase: phoneEmu.url, appid: APPID, secret: SECRET });
    await client.getUserPhoneNumber(await phoneCode()); // caches a token
    // Another process force-refreshes; 5 minutes later the token this client cached answers 40001.
    const other = createAccessTokenClient({ apiBase: phoneEmu.url, appid: APPID, secret: SECRET, now: phoneEmu.clock.now });
    await other.refresh(await other.get());
    phoneEmu.clock.advance(300_000);

    const code = await phoneCode();
    const mark = phoneEmu.requests.length;
    expect((await client.getUserPhoneNumber(code)).purePhoneNumber).toBe('13800138000');
    expect(since(mark)).toEqual([
      'POST /wxa/business/getuserphonenumber',
      'POST /cgi-bin/stable_token',
      'POST /wxa/business/getuserphonenumber',
    ]);
  });

  it('throws WechatApiError 40029 for a bad phone code, with neither secret nor token in the message', async () => {
    const accessTokens = createAccessTokenClient({ apiBase: phoneEmu.url, appid: APPID, secret: SECRET });
    const client = createWechatClient({ apiBase: phoneEmu.url, appid: APPID, secret: SECRET, accessTokens });
    const code = await phoneCode();
    await client.getUserPhoneNumber(code);
    const err = await caught(client.getUserPhoneNumber(code)); // single use
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err).toMatchObject({ errcode: 40029, api: 'getPhoneNumber' });
    expect(err.message).toMatch(/^\[wx-login-kit\] getPhoneNumber failed: errcode 40029 invalid code/);
    expect(err.message).not.toContain(await accessTokens.get());
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain('access_token');
  });

  it('passes on a token failure (wrong secret) as WechatApiError from getStableAccessToken', async () => {
    const client = createWechatClient({ apiBase: phoneEmu.url, appid: APPID, secret: OTHER_SECRET });
    const err = await caught(client.getUserPhoneNumber(await phoneCode()));
    expect(err).toMatchObject({ errcode: 40125, api: 'getStableAccessToken' });
    expect(err.message).not.toContain(OTHER_SECRET);
  });
});

describe('getUserPhoneNumber against a fake WeChat', () => {
  // Closed here rather than at the end of each test, so a failing test cannot keep jest alive.
  const openFakes: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (openFakes.length) await openFakes.pop()!();
  });

  /** A fake issuing TOKEN-1, TOKEN-2, ... and answering every phone request with `phoneAnswer`. */
  async function fakePhoneApi(phoneAnswer: (app: FastifyInstance) => void) {
    const tokenBodies: unknown[] = [];
    let phoneCalls = 0;
    const fake = await fakeWechat((app) => {
      app.post('/cgi-bin/stable_token', async (req) => {
        tokenBodies.push(req.body);
        return { access_token: `TOKEN-${tokenBodies.length}`, expires_in: 7200 };
      });
      app.addHook('onRequest', async (req) => {
        if (req.url.startsWith('/wxa/')) phoneCalls++;
      });
      phoneAnswer(app);
    });
    openFakes.push(fake.close);
    return { ...fake, tokenBodies, phoneCalls: () => phoneCalls };
  }

  it('throws after a second 40001, having forced one refresh', async () => {
    const fake = await fakePhoneApi((app) =>
      app.post('/wxa/business/getuserphonenumber', async () => ({ errcode: 40001, errmsg: 'invalid credential, rid: x' })),
    );
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
    const err = await caught(client.getUserPhoneNumber('phone-code'));
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err).toMatchObject({ errcode: 40001, api: 'getPhoneNumber' });
    expect(fake.phoneCalls()).toBe(2);
    expect(fake.tokenBodies).toEqual([
      expect.objectContaining({ force_refresh: false }),
      expect.objectContaining({ force_refresh: true }),
    ]);
    for (const secretish of [SECRET, 'TOKEN-1', 'TOKEN-2', fake.url]) expect(err.message).not.toContain(secretish);
  });

  it('retries after 42001 too, and does not retry other errcodes', async () => {
    let answers = [{ errcode: 42001, errmsg: 'access_token expired' }, { errcode: 40029, errmsg: 'invalid code' }];
    const fake = await fakePhoneApi((app) => app.post('/wxa/business/getuserphonenumber', async () => answers.shift()));
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
    expect(await caught(client.getUserPhoneNumber('c'))).toMatchObject({ errcode: 40029 });
    expect(fake.phoneCalls()).toBe(2);
    answers = [{ errcode: -1, errmsg: 'system error' }];
    expect(await caught(client.getUserPhoneNumber('c'))).toMatchObject({ errcode: -1 });
    expect(fake.phoneCalls()).toBe(3);
  });

  it('rejects phone_info watermarked for another appid, or missing, with errcode 0', async () => {
    const info = { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86', watermark: { timestamp: 1, appid: OTHER_APPID } };
    let answer: object = { errcode: 0, errmsg: 'ok', phone_info: info };
    const fake = await fakePhoneApi((app) => app.post('/wxa/business/getuserphonenumber', async () => answer));
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
    const foreign = await caught(client.getUserPhoneNumber('c'));
    expect(foreign).toBeInstanceOf(WechatApiError);
    expect(foreign).toMatchObject({ errcode: 0, message: expect.stringContaining('watermark is for another appid') });
    answer = { errcode: 0, errmsg: 'ok' };
    expect(await caught(client.getUserPhoneNumber('c'))).toMatchObject({ errcode: 0, message: expect.stringContaining('no complete phone_info') });
    answer = { errcode: 0, errmsg: 'ok', phone_info: { ...info, watermark: { timestamp: 1, appid: APPID } } };
    expect((await client.getUserPhoneNumber('c')).watermark).toEqual({ timestamp: 1, appid: APPID });
  });

  it('throws WechatUnreachableError on a non-200, without the token or URL in the message', async () => {
    const fake = await fakePhoneApi((app) => app.post('/wxa/business/getuserphonenumber', async (_q, r) => r.code(502).send('bad gateway')));
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
    const err = await caught(client.getUserPhoneNumber('c'));
    expect(err).toBeInstanceOf(WechatUnreachableError);
    expect(err.message).toBe('[wx-login-kit] getPhoneNumber failed: WeChat unreachable (HTTP 502)');
  });
});

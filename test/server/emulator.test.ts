import { createHash } from 'node:crypto';
import { DecryptError, decryptData } from '../../server/wechat-crypto';
import { APPID, OTHER_APPID, OTHER_SECRET, SECRET, postJson, startEmulator, wxLogin } from './helpers';

type Answer = Record<string, unknown>;

let ctx: Awaited<ReturnType<typeof startEmulator>>;
beforeEach(async () => {
  ctx = await startEmulator();
});
afterEach(() => ctx.close());

async function exchange(params: Record<string, string | undefined>): Promise<Answer> {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) query.set(k, v);
  const res = await fetch(`${ctx.url}/sns/jscode2session?${query}`);
  // WeChat answers HTTP 200 even for errors; the errcode is in the body.
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

const code2Session = (js_code: string, appid = APPID, secret = SECRET) =>
  exchange({ appid, secret, js_code, grant_type: 'authorization_code' });

describe('wx.login stand-in', () => {
  it('issues a fresh 32-char base64url code per call', async () => {
    const a = await wxLogin(ctx.url);
    const b = await wxLogin(ctx.url);
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(a).not.toBe(b);
  });

  it('answers 400 {error} for an unknown appid or a missing user', async () => {
    for (const body of [{ appid: 'wxnope', user: 'alice' }, { appid: APPID }, { appid: APPID, user: 42 }]) {
      const res = await postJson(`${ctx.url}/emulator/login`, body);
      expect(res.status).toBe(400);
      expect(typeof ((await res.json()) as Answer).error).toBe('string');
    }
  });
});

describe('code2Session', () => {
  it('answers {openid, session_key, unionid} without an errcode field on success', async () => {
    const answer = await code2Session(await wxLogin(ctx.url));
    expect(Object.keys(answer).sort()).toEqual(['openid', 'session_key', 'unionid']);
    expect(answer.openid).toMatch(/^o[A-Za-z0-9_-]{27}$/);
    expect(Buffer.from(answer.session_key as string, 'base64')).toHaveLength(16);
  });

  it('answers 40163 to a replayed code', async () => {
    const code = await wxLogin(ctx.url);
    await code2Session(code);
    const replay = await code2Session(code);
    expect(replay.errcode).toBe(40163);
    expect(replay.errmsg).toMatch(/^code been used, rid: [0-9a-f-]+$/);
  });

  it('answers 40029 to a code older than 5 minutes', async () => {
    const code = await wxLogin(ctx.url);
    ctx.clock.advance(300_000);
    expect((await code2Session(code)).errcode).toBe(40029);
  });

  it('still accepts a code just under 5 minutes old', async () => {
    const code = await wxLogin(ctx.url);
    ctx.clock.advance(299_999);
    expect((await code2Session(code)).openid).toEqual(expect.any(String));
  });

  it('answers 40029 to a code issued for another appid, and to an unknown code', async () => {
    const code = await wxLogin(ctx.url, 'alice', OTHER_APPID);
    expect((await code2Session(code, APPID, SECRET)).errcode).toBe(40029);
    expect((await code2Session('x'.repeat(32))).errcode).toBe(40029);
  });

  it('checks the request in WeChat order: appid, secret, grant_type, code', async () => {
    const code = await wxLogin(ctx.url);
    const ok = { appid: APPID, secret: SECRET, js_code: code, grant_type: 'authorization_code' };
    const cases: Array<[Record<string, string | undefined>, number]> = [
      [{ ...ok, appid: undefined, secret: 'wrong' }, 41002],
      [{ ...ok, appid: 'wxunknown', secret: undefined }, 40013],
      [{ ...ok, secret: undefined, grant_type: 'nope' }, 41004],
      [{ ...ok, secret: OTHER_SECRET }, 40125],
      [{ ...ok, grant_type: 'client_credential', js_code: undefined }, 40002],
      [{ ...ok, js_code: undefined }, 41008],
    ];
    for (const [params, errcode] of cases) {
      expect((await exchange(params)).errcode).toBe(errcode);
    }
    // None of those used the code up.
    expect((await exchange(ok)).openid).toEqual(expect.any(String));
  });

  it('gives a stable openid per (appid, user), different across users and appids', async () => {
    const openid = async (user: string, appid = APPID, secret = SECRET) =>
      (await code2Session(await wxLogin(ctx.url, user, appid), appid, secret)).openid;
    const alice = await openid('alice');
    expect(await openid('alice')).toBe(alice);
    expect(await openid('bob')).not.toBe(alice);
    expect(await openid('alice', OTHER_APPID, OTHER_SECRET)).not.toBe(alice);
  });

  it('gives the same unionid for a user across appids', async () => {
    const a = await code2Session(await wxLogin(ctx.url, 'alice'));
    const b = await code2Session(await wxLogin(ctx.url, 'alice', OTHER_APPID), OTHER_APPID, OTHER_SECRET);
    const c = await code2Session(await wxLogin(ctx.url, 'bob'));
    expect(b.unionid).toBe(a.unionid);
    expect(c.unionid).not.toBe(a.unionid);
  });

  it('gives a new session_key per code', async () => {
    const a = await code2Session(await wxLogin(ctx.url));
    const b = await code2Session(await wxLogin(ctx.url));
    expect(a.session_key).not.toBe(b.session_key);
  });

  it('refuses the 101st exchange of a user within a minute with 45011, and recovers after the window', async () => {
    for (let i = 0; i < 100; i++) {
      expect((await code2Session(await wxLogin(ctx.url, 'spammer'))).openid).toEqual(expect.any(String));
    }
    const code = await wxLogin(ctx.url, 'spammer');
    const refused = await code2Session(code);
    expect(refused.errcode).toBe(45011);
    // Another user is not affected.
    expect((await code2Session(await wxLogin(ctx.url, 'bob'))).openid).toEqual(expect.any(String));
    ctx.clock.advance(60_000);
    expect((await code2Session(code)).openid).toEqual(expect.any(String));
  });
});

describe('latestSessionKey', () => {
  it('tracks the session_key of the latest wx.login, exchanged or not', async () => {
    expect(ctx.emulator.latestSessionKey(APPID, 'alice')).toBeUndefined();
    const first = await code2Session(await wxLogin(ctx.url, 'alice'));
    expect(ctx.emulator.latestSessionKey(APPID, 'alice')).toBe(first.session_key);

    const second = await wxLogin(ctx.url, 'alice');
    const latest = ctx.emulator.latestSessionKey(APPID, 'alice');
    expect(latest).not.toBe(first.session_key);
    expect((await code2Session(second)).session_key).toBe(latest);
    expect(ctx.emulator.latestSessionKey(OTHER_APPID, 'alice')).toBeUndefined();
  });
});

describe('failure injection', () => {
  it('makes the next N exchanges answer the injected errcode, then recovers', async () => {
    const res = await postJson(`${ctx.url}/emulator/fail-next`, { errcode: -1, count: 2 });
    expect(res.status).toBe(200);
    const code = await wxLogin(ctx.url);
    const first = await code2Session(code);
    expect(first).toEqual({ errcode: -1, errmsg: expect.stringMatching(/^system error, rid: /) });
    expect((await code2Session(code)).errcode).toBe(-1);
    // Injected failures do not use the code up.
    expect((await code2Session(code)).openid).toEqual(expect.any(String));
  });

  it('only counts calls that pass the appid and secret checks', async () => {
    ctx.emulator.failNext(40226);
    expect((await code2Session('whatever', APPID, 'wrong')).errcode).toBe(40125);
    const blocked = await code2Session(await wxLogin(ctx.url));
    expect(blocked.errcode).toBe(40226);
    expect(blocked.errmsg).toMatch(/^high risk user, rid: /);
  });

  it("uses errmsg 'injected' for other errcodes, and rejects a bad request", async () => {
    ctx.emulator.failNext(40999);
    expect((await code2Session(await wxLogin(ctx.url))).errmsg).toMatch(/^injected, rid: /);
    expect((await postJson(`${ctx.url}/emulator/fail-next`, { errcode: 'x' })).status).toBe(400);
  });
});

describe('memory', () => {
  it('sweeps expired codes when new ones are issued', async () => {
    const old = await wxLogin(ctx.url);
    ctx.clock.advance(300_000);
    await wxLogin(ctx.url);
    // Gone, not just expired: moving the clock back cannot revive it.
    ctx.clock.advance(-300_000);
    expect((await code2Session(old)).errcode).toBe(40029);
  });
});

// ---- access tokens, phone numbers, open data ----

type Ctx = typeof ctx;

async function getAccessToken(params: Record<string, string> = {}, c: Ctx = ctx): Promise<Answer> {
  const query = new URLSearchParams({ grant_type: 'client_credential', appid: APPID, secret: SECRET, ...params });
  const res = await fetch(`${c.url}/cgi-bin/token?${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

async function stableToken(body: Record<string, unknown> = {}): Promise<Answer> {
  const res = await postJson(`${ctx.url}/cgi-bin/stable_token`, { grant_type: 'client_credential', appid: APPID, secret: SECRET, ...body });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

async function phoneNumber(accessToken: string | undefined, code: unknown, c: Ctx = ctx): Promise<Answer> {
  const query = accessToken === undefined ? '' : `?${new URLSearchParams({ access_token: accessToken })}`;
  const res = await postJson(`${c.url}/wxa/business/getuserphonenumber${query}`, { code });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

/** The errcode getuserphonenumber answers `token` with an unknown code: 40029 means the token was accepted. */
async function tokenStatus(token: string): Promise<number> {
  return (await phoneNumber(token, 'no-such-code')).errcode as number;
}

function openData(kind: string, user = 'alice', appid = APPID, c: Ctx = ctx): Promise<Response> {
  return postJson(`${c.url}/emulator/open-data`, { appid, user, kind });
}

/** wx.login as `user`, then tap a `kind` button: the detail it gave and the login code's session_key. */
async function tap(kind: string, user = 'alice', c: Ctx = ctx): Promise<{ detail: Answer; sessionKey: string }> {
  const loginCode = await wxLogin(c.url, user);
  const res = await openData(kind, user, APPID, c);
  expect(res.status).toBe(200);
  const detail = (await res.json()) as Answer;
  const query = new URLSearchParams({ appid: APPID, secret: SECRET, js_code: loginCode, grant_type: 'authorization_code' });
  const session = (await (await fetch(`${c.url}/sns/jscode2session?${query}`)).json()) as Answer;
  return { detail, sessionKey: session.session_key as string };
}

/** A phone code for alice, from a getRealtimePhoneNumber tap. */
async function phoneCode(user = 'alice', appid = APPID): Promise<string> {
  await wxLogin(ctx.url, user, appid);
  return ((await (await openData('getRealtimePhoneNumber', user, appid)).json()) as Answer).code as string;
}

const decrypt = (detail: Answer, sessionKey: string) =>
  decryptData({ sessionKey, encryptedData: detail.encryptedData as string, iv: detail.iv as string, appid: APPID });

describe('getAccessToken (/cgi-bin/token)', () => {
  it('answers {access_token, expires_in: 7200}, with a new token on every call', async () => {
    const first = await getAccessToken();
    const second = await getAccessToken();
    expect(Object.keys(first).sort()).toEqual(['access_token', 'expires_in']);
    expect(first.expires_in).toBe(7200);
    expect(first.access_token).toMatch(/^[A-Za-z0-9_-]{100,}$/);
    expect(second.access_token).not.toBe(first.access_token);
    expect(await tokenStatus(second.access_token as string)).toBe(40029);
  });

  it('keeps the previous token working for 5 minutes, then answers 40001 to it', async () => {
    const old = (await getAccessToken()).access_token as string;
    const current = (await getAccessToken()).access_token as string;
    ctx.clock.advance(299_999);
    expect(await tokenStatus(old)).toBe(40029);
    ctx.clock.advance(1);
    const refused = await phoneNumber(old, 'no-such-code');
    expect(refused.errcode).toBe(40001);
    expect(refused.errmsg).toMatch(/^invalid credential, access_token is invalid or not latest, rid: /);
    expect(await tokenStatus(current)).toBe(40029);
  });

  it('checks appid, secret and grant_type like code2Session', async () => {
    expect((await getAccessToken({ appid: 'wxunknown' })).errcode).toBe(40013);
    expect((await getAccessToken({ secret: OTHER_SECRET })).errcode).toBe(40125);
    expect((await getAccessToken({ secret: '' })).errcode).toBe(41004);
    expect((await getAccessToken({ appid: '' })).errcode).toBe(41002);
    expect((await getAccessToken({ grant_type: 'authorization_code' })).errcode).toBe(40002);
    expect((await getAccessToken({ appid: OTHER_APPID, secret: OTHER_SECRET })).access_token).toEqual(expect.any(String));
  });
});

describe('getStableAccessToken (/cgi-bin/stable_token)', () => {
  it('returns the same token while it is valid, with the seconds it has left', async () => {
    const first = await stableToken();
    expect(first).toEqual({ access_token: expect.any(String), expires_in: 7200 });
    ctx.clock.advance(1_000_500);
    expect(await stableToken({ force_refresh: false })).toEqual({ access_token: first.access_token, expires_in: 6199 });
  });

  it('hands out a new token once the current one has 5 minutes or less left; the old one lives out its time', async () => {
    const first = (await stableToken()).access_token as string;
    ctx.clock.advance(6_899_999);
    expect(await stableToken()).toEqual({ access_token: first, expires_in: 300 });
    ctx.clock.advance(1);
    const renewed = await stableToken();
    expect(renewed.access_token).not.toBe(first);
    expect(renewed.expires_in).toBe(7200);
    expect(await tokenStatus(first)).toBe(40029);
    ctx.clock.advance(300_000);
    expect(await tokenStatus(first)).toBe(42001);
    expect(await tokenStatus(renewed.access_token as string)).toBe(40029);
  });

  it('gives a new token with force_refresh; the old one works 5 more minutes, then answers 40001', async () => {
    const old = (await stableToken()).access_token as string;
    const forced = await stableToken({ force_refresh: true });
    expect(forced.access_token).not.toBe(old);
    expect(forced.expires_in).toBe(7200);
    expect((await stableToken()).access_token).toBe(forced.access_token);
    ctx.clock.advance(299_999);
    expect(await tokenStatus(old)).toBe(40029);
    ctx.clock.advance(1);
    expect(await tokenStatus(old)).toBe(40001);
    expect(await tokenStatus(forced.access_token as string)).toBe(40029);
  });

  it('is isolated from /cgi-bin/token: neither one replaces the other', async () => {
    const stable = (await stableToken()).access_token as string;
    const plainOld = (await getAccessToken()).access_token as string;
    const plain = (await getAccessToken()).access_token as string;
    expect((await stableToken()).access_token).toBe(stable);
    ctx.clock.advance(300_000);
    expect(await tokenStatus(plainOld)).toBe(40001);
    expect(await tokenStatus(stable)).toBe(40029);

    await stableToken({ force_refresh: true });
    ctx.clock.advance(300_000);
    expect(await tokenStatus(stable)).toBe(40001);
    expect(await tokenStatus(plain)).toBe(40029);
  });

  it('checks appid, secret and grant_type in the JSON body', async () => {
    expect((await stableToken({ appid: 'wxunknown' })).errcode).toBe(40013);
    expect((await stableToken({ secret: OTHER_SECRET })).errcode).toBe(40125);
    expect((await stableToken({ appid: undefined })).errcode).toBe(41002);
    expect((await stableToken({ grant_type: 'authorization_code' })).errcode).toBe(40002);
  });
});

describe('access token checks', () => {
  it('answers 42001 once a token is accessTokenTtlMs old', async () => {
    const token = (await getAccessToken()).access_token as string;
    ctx.clock.advance(7_199_999);
    expect(await tokenStatus(token)).toBe(40029);
    ctx.clock.advance(1);
    const expired = await phoneNumber(token, 'no-such-code');
    expect(expired).toEqual({ errcode: 42001, errmsg: expect.stringMatching(/^access_token expired, rid: /) });
  });

  it('honours the accessTokenTtlMs option', async () => {
    const short = await startEmulator({ accessTokenTtlMs: 60_000 });
    try {
      const answer = await getAccessToken({}, short);
      expect(answer.expires_in).toBe(60);
      short.clock.advance(60_000);
      expect((await phoneNumber(answer.access_token as string, 'no-such-code', short)).errcode).toBe(42001);
    } finally {
      await short.close();
    }
  });

  it('answers 41001 without a token and 40001 to an unknown one', async () => {
    expect(await phoneNumber(undefined, 'no-such-code')).toEqual({ errcode: 41001, errmsg: expect.stringMatching(/^access_token missing, rid: /) });
    expect(await tokenStatus('made-up-token')).toBe(40001);
  });
});

describe('getuserphonenumber', () => {
  let token: string;
  beforeEach(async () => {
    token = (await stableToken()).access_token as string;
  });

  it("answers {errcode: 0, errmsg: 'ok', phone_info} for a phone code", async () => {
    const code = await phoneCode();
    const answer = await phoneNumber(token, code);
    const info = answer.phone_info as { phoneNumber: string };
    expect(info.phoneNumber).toMatch(/^138\d{8}$/);
    expect(answer).toEqual({
      errcode: 0,
      errmsg: 'ok',
      phone_info: {
        phoneNumber: info.phoneNumber,
        purePhoneNumber: info.phoneNumber,
        countryCode: '86',
        watermark: { timestamp: Math.floor(ctx.clock.now() / 1000), appid: APPID },
      },
    });
  });

  it('gives each user a stable number derived from the seed, or the one in `phones`', async () => {
    const numberOf = async (c: Ctx, user: string) => {
      await wxLogin(c.url, user);
      const code = ((await (await openData('getRealtimePhoneNumber', user, APPID, c)).json()) as Answer).code;
      const t = (await getAccessToken({}, c)).access_token as string;
      return ((await phoneNumber(t, code, c)).phone_info as { purePhoneNumber: string }).purePhoneNumber;
    };
    const a = await startEmulator({ seed: 'seed-1', phones: { carol: '13912345678' } });
    const b = await startEmulator({ seed: 'seed-1' });
    try {
      const alice = await numberOf(a, 'alice');
      expect(await numberOf(b, 'alice')).toBe(alice);
      expect(await numberOf(a, 'bob')).not.toBe(alice);
      expect(await numberOf(a, 'carol')).toBe('13912345678');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('answers 40029 to a used code', async () => {
    const code = await phoneCode();
    expect((await phoneNumber(token, code)).errcode).toBe(0);
    expect(await phoneNumber(token, code)).toEqual({ errcode: 40029, errmsg: expect.stringMatching(/^invalid code, rid: /) });
  });

  it('answers 40029 to a code 5 minutes old, and accepts one just younger', async () => {
    const old = await phoneCode();
    ctx.clock.advance(1);
    const younger = await phoneCode();
    ctx.clock.advance(299_999);
    expect((await phoneNumber(token, old)).errcode).toBe(40029);
    expect((await phoneNumber(token, younger)).errcode).toBe(0);
  });

  it("answers 40029 to another appid's code, without using it up", async () => {
    const code = await phoneCode('alice', OTHER_APPID);
    expect((await phoneNumber(token, code)).errcode).toBe(40029);
    const otherToken = (await getAccessToken({ appid: OTHER_APPID, secret: OTHER_SECRET })).access_token as string;
    expect((await phoneNumber(otherToken, code)).phone_info).toMatchObject({ watermark: { appid: OTHER_APPID } });
  });

  it('checks the token before the code: a refused token does not use the code up', async () => {
    const code = await phoneCode();
    expect((await phoneNumber('made-up-token', code)).errcode).toBe(40001);
    expect((await phoneNumber(undefined, code)).errcode).toBe(41001);
    expect((await phoneNumber(token, code)).errcode).toBe(0);
  });

  it('answers 47001 to a body without a code', async () => {
    expect((await phoneNumber(token, 42)).errcode).toBe(47001);
  });
});

describe('open-data (open-type buttons)', () => {
  it('getPhoneNumber gives {errMsg, code, encryptedData, iv}, sealed with the latest session_key', async () => {
    const { detail, sessionKey } = await tap('getPhoneNumber');
    expect(Object.keys(detail).sort()).toEqual(['code', 'encryptedData', 'errMsg', 'iv']);
    expect(detail.errMsg).toBe('getPhoneNumber:ok');
    const data = decrypt(detail, sessionKey);
    const token = (await stableToken()).access_token as string;
    const viaCode = (await phoneNumber(token, detail.code)).phone_info as Answer;
    expect(viaCode.purePhoneNumber).toMatch(/^138\d{8}$/);
    expect(data).toEqual({
      phoneNumber: viaCode.purePhoneNumber,
      purePhoneNumber: viaCode.purePhoneNumber,
      countryCode: '86',
      watermark: { timestamp: Math.floor(ctx.clock.now() / 1000), appid: APPID },
    });
  });

  it('getRealtimePhoneNumber gives {errMsg, code} only', async () => {
    const { detail } = await tap('getRealtimePhoneNumber');
    expect(detail).toEqual({ errMsg: 'getRealtimePhoneNumber:ok', code: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('getUserInfo gives the anonymous user, a signature over rawData and encryptedData with openId/unionId', async () => {
    const loginCode = await wxLogin(ctx.url);
    const detail = (await (await openData('getUserInfo')).json()) as Answer;
    const session = await code2Session(loginCode);
    const userInfo = {
      nickName: '微信用户',
      avatarUrl: expect.stringMatching(/^https:\/\/thirdwx\.qlogo\.cn\/mmopen\//),
      gender: 0,
      language: '',
      city: '',
      province: '',
      country: '',
    };
    expect(detail).toEqual({
      errMsg: 'getUserInfo:ok',
      userInfo,
      rawData: expect.any(String),
      signature: expect.stringMatching(/^[0-9a-f]{40}$/),
      encryptedData: expect.any(String),
      iv: expect.any(String),
    });
    expect(JSON.parse(detail.rawData as string)).toEqual(detail.userInfo);
    expect(detail.signature).toBe(createHash('sha1').update((detail.rawData as string) + (session.session_key as string)).digest('hex'));
    expect(decrypt(detail, session.session_key as string)).toEqual({
      openId: session.openid,
      ...userInfo,
      avatarUrl: (detail.userInfo as Answer).avatarUrl,
      unionId: session.unionid,
      watermark: { timestamp: Math.floor(ctx.clock.now() / 1000), appid: APPID },
    });
  });

  it('a wx.login after the tap rotates the session_key: the new code cannot decrypt what the tap gave', async () => {
    const beforeTap = await wxLogin(ctx.url);
    const detail = (await (await openData('getPhoneNumber')).json()) as Answer;
    const afterTap = await wxLogin(ctx.url);
    const newKey = (await code2Session(afterTap)).session_key as string;
    const oldKey = (await code2Session(beforeTap)).session_key as string;

    let failure: unknown;
    try {
      decrypt(detail, newKey);
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(DecryptError);
    expect((failure as DecryptError).code).toBe('decrypt_failed');
    expect(decrypt(detail, oldKey).purePhoneNumber).toMatch(/^138\d{8}$/);
  });

  it('answers 400 {error} without a wx.login for that appid, to a bad kind, and to a bad body', async () => {
    await wxLogin(ctx.url, 'alice', OTHER_APPID);
    const refused = [
      await openData('getPhoneNumber', 'alice'),
      await openData('getPhoneNumber', 'nobody'),
      await openData('getUserProfile', 'alice', OTHER_APPID),
      await postJson(`${ctx.url}/emulator/open-data`, { appid: OTHER_APPID, user: 'alice' }),
      await postJson(`${ctx.url}/emulator/open-data`, { appid: 1, user: 'alice', kind: 'getUserInfo' }),
    ];
    for (const res of refused) {
      expect(res.status).toBe(400);
      expect(typeof ((await res.json()) as Answer).error).toBe('string');
    }
    expect((await openData('getPhoneNumber', 'alice', OTHER_APPID)).status).toBe(200);
  });
});

describe('acceptForeignCodes (npm run dev, for WeChat DevTools)', () => {
  it('takes a code it never issued once, as user "devtools", and refuses its replay; off by default', async () => {
    const { startEmulator, APPID, SECRET } = await import('./helpers');
    const exchange = async (url: string, code: string) =>
      (await fetch(`${url}/sns/jscode2session?appid=${APPID}&secret=${SECRET}&js_code=${code}&grant_type=authorization_code`)).json() as Promise<Record<string, unknown>>;
    const dev = await startEmulator({ acceptForeignCodes: true });
    const strict = await startEmulator();
    try {
      const first = await exchange(dev.url, 'code-from-devtools');
      expect(first).toEqual({ openid: expect.stringMatching(/^o/), session_key: expect.any(String), unionid: expect.any(String) });
      expect((await exchange(dev.url, 'code-from-devtools')).errcode).toBe(40163);
      expect((await exchange(dev.url, 'another-devtools-code')).openid).toBe(first.openid); // same user
      expect((await exchange(strict.url, 'code-from-devtools')).errcode).toBe(40029);
    } finally {
      await dev.close();
      await strict.close();
    }
  });
});

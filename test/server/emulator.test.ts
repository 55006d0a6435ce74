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

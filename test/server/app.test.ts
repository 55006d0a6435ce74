import Fastify from 'fastify';
import { wxLoginErrorHandler } from '../../server';
import { hashToken } from '../../server/crypto';
import { buildServer } from '../../reference-server/app';
import { createMemoryStore, type CreateSessionOptions, type Session, type SessionStore } from '../../server/store';
import { APPID, SECRET, type Harness, listen, logLines, postJson, startStack, wxLogin } from './helpers';

type Body = Record<string, unknown>;

const me = (h: Harness, authorization?: string) =>
  fetch(`${h.serverUrl}/api/me`, { headers: authorization === undefined ? {} : { authorization } });

async function loginToken(h: Harness, user = 'alice'): Promise<string> {
  const res = await h.login(user);
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

/** Asserts an error answer: status, JSON `{error, message}`, no stack or internals. */
async function expectError(res: Response, status: number, error: string): Promise<Body> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const text = await res.text();
  const body = JSON.parse(text) as Body;
  expect(body.error).toBe(error);
  expect(typeof body.message).toBe('string');
  expect(text).not.toMatch(/stack|at .*\.(ts|js):\d+|FST_ERR/);
  return body;
}

describe('reference server', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startStack();
  });
  afterEach(() => h.close());

  describe('POST /auth/login', () => {
    it('answers {token, expiresIn} with a 43-char base64url token (256 bits), and nothing else', async () => {
      const res = await h.login();
      expect(res.status).toBe(200);
      const text = await res.text();
      const body = JSON.parse(text) as Body;
      expect(Object.keys(body).sort()).toEqual(['expiresIn', 'token']);
      expect(body.expiresIn).toBe(7200);
      expect(body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(body.token as string, 'base64url')).toHaveLength(32);
      // Neither the session_key nor the openid leave the server at login.
      expect(text).not.toContain(h.emulator.latestSessionKey(APPID, 'alice')!);
      expect(text).not.toMatch(/openid|session_key/);
    });

    it('gives a different token to every login', async () => {
      expect(await loginToken(h)).not.toBe(await loginToken(h));
    });

    it('maps a replayed code (40163) to 401 invalid_code', async () => {
      const code = await wxLogin(h.emulatorUrl);
      expect((await postJson(`${h.serverUrl}/auth/login`, { code })).status).toBe(200);
      await expectError(await postJson(`${h.serverUrl}/auth/login`, { code }), 401, 'invalid_code');
    });

    it('maps an unknown or expired code (40029) to 401 invalid_code', async () => {
      await expectError(await postJson(`${h.serverUrl}/auth/login`, { code: 'made-up' }), 401, 'invalid_code');
      const code = await wxLogin(h.emulatorUrl);
      h.emulatorClock.advance(5 * 60_000);
      await expectError(await postJson(`${h.serverUrl}/auth/login`, { code }), 401, 'invalid_code');
    });

    it.each([
      [45011, 429, 'rate_limited', '60'],
      [-1, 503, 'wechat_busy', '1'],
      [40226, 403, 'user_blocked', null],
    ])('maps WeChat errcode %i to %i %s', async (errcode, status, error, retryAfter) => {
      h.emulator.failNext(errcode);
      const res = await h.login();
      await expectError(res, status, error);
      expect(res.headers.get('retry-after')).toBe(retryAfter);
    });

    it('maps any other errcode to 502 wechat_error with the errcode (set over HTTP)', async () => {
      const inject = await postJson(`${h.emulatorUrl}/emulator/fail-next`, { errcode: 40125 });
      expect(inject.status).toBe(200);
      const body = await expectError(await h.login(), 502, 'wechat_error');
      expect(body.errcode).toBe(40125);
    });

    it('answers 502 wechat_error when the server has the wrong secret', async () => {
      const server = buildServer({ wechat: { apiBase: h.emulatorUrl, appid: APPID, secret: 'wrong' } });
      const url = await listen(server);
      const code = await wxLogin(h.emulatorUrl);
      const res = await postJson(`${url}/auth/login`, { code });
      const text = JSON.stringify(await expectError(res, 502, 'wechat_error'));
      expect(text).not.toContain('wrong');
      await server.close();
    });

    it('answers 502 wechat_unreachable when WeChat cannot be reached', async () => {
      const dead = buildServer({ wechat: { apiBase: 'http://127.0.0.1:1', appid: APPID, secret: SECRET } });
      const url = await listen(dead);
      const res = await postJson(`${url}/auth/login`, { code: 'some-code' });
      const text = JSON.stringify(await expectError(res, 502, 'wechat_unreachable'));
      expect(text).not.toContain(SECRET);
      await dead.close();
    });
  });

  describe('bad input: always a 4xx JSON answer, never a 500', () => {
    const send = (body: string, contentType = 'application/json') =>
      fetch(`${h.serverUrl}/auth/login`, { method: 'POST', headers: { 'content-type': contentType }, body });

    it('answers 400 invalid_json to a body that is not JSON', async () => {
      await expectError(await send('{"code": '), 400, 'invalid_json');
    });

    it.each([
      ['a missing code', '{}'],
      ['an empty body', ''],
      ['a numeric code', '{"code": 123}'],
      ['an empty code', '{"code": ""}'],
      ['a code over 128 chars', JSON.stringify({ code: 'c'.repeat(129) })],
      ['an array body', '[{"code": "abc"}]'],
      ['a JSON string body', '"abc"'],
      ['null', 'null'],
    ])('answers 400 invalid_request to %s', async (_name, body) => {
      await expectError(await send(body), 400, 'invalid_request');
    });

    it('answers 413 body_too_large to a 17 KB body', async () => {
      await expectError(await send(JSON.stringify({ code: 'abc', pad: 'x'.repeat(17 * 1024) })), 413, 'body_too_large');
    });

    it('answers 415 unsupported_media_type to text/plain', async () => {
      await expectError(await send('{"code": "abc"}', 'text/plain'), 415, 'unsupported_media_type');
    });

    it('answers 404 not_found JSON to an unknown route', async () => {
      await expectError(await fetch(`${h.serverUrl}/nope`), 404, 'not_found');
      await expectError(await postJson(`${h.serverUrl}/auth/nope`, {}), 404, 'not_found');
    });

    it('rejects a prototype-poisoning body instead of parsing it', async () => {
      const res = await send('{"code": "abc", "__proto__": {"admin": true}}');
      expect(res.status).toBe(400);
      expect(((await res.json()) as Body).error).toBe('invalid_json');
    });
  });

  describe('GET /api/me', () => {
    it('answers {openid} for a valid token, never the session_key', async () => {
      const token = await loginToken(h);
      const res = await me(h, `Bearer ${token}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Body;
      expect(Object.keys(body)).toEqual(['openid']);
      expect(body.openid).toMatch(/^o/);
    });

    it('accepts the Bearer scheme in any case', async () => {
      const token = await loginToken(h);
      expect((await me(h, `bearer ${token}`)).status).toBe(200);
      expect((await me(h, `BEARER ${token}`)).status).toBe(200);
    });

    it('keeps users apart', async () => {
      const alice = await (await me(h, `Bearer ${await loginToken(h, 'alice')}`)).json();
      const bob = await (await me(h, `Bearer ${await loginToken(h, 'bob')}`)).json();
      expect(alice).not.toEqual(bob);
    });

    it.each([
      ['no Authorization header', undefined],
      ['another scheme', 'Basic dXNlcjpwYXNz'],
      ['a bare token', 'sometoken'],
      ['an empty bearer', 'Bearer '],
      ['an unknown token', `Bearer ${'A'.repeat(43)}`],
    ])('answers 401 invalid_token with WWW-Authenticate for %s', async (_name, authorization) => {
      const res = await me(h, authorization);
      await expectError(res, 401, 'invalid_token');
      // RFC 6750 §3.1: a request that sent no credentials gets the challenge without an error code.
      const challenge = authorization === undefined ? 'Bearer realm="wx-login-kit"' : 'Bearer realm="wx-login-kit", error="invalid_token"';
      expect(res.headers.get('www-authenticate')).toBe(challenge);
    });

    it('answers 401 once the server clock passes the token ttl', async () => {
      const token = await loginToken(h);
      h.serverClock.advance(7200 * 1000 - 1);
      expect((await me(h, `Bearer ${token}`)).status).toBe(200);
      h.serverClock.advance(1);
      const res = await me(h, `Bearer ${token}`);
      await expectError(res, 401, 'invalid_token');
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="wx-login-kit", error="invalid_token"');
    });
  });

  describe('POST /auth/logout', () => {
    it('revokes the token', async () => {
      const token = await loginToken(h);
      const res = await fetch(`${h.serverUrl}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
      await expectError(await me(h, `Bearer ${token}`), 401, 'invalid_token');
    });

    it('accepts a JSON content type with an empty body, as some clients send', async () => {
      const token = await loginToken(h);
      const res = await fetch(`${h.serverUrl}/auth/logout`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
      expect(res.status).toBe(200);
    });

    it('answers 401 invalid_token to an unknown or already revoked token', async () => {
      const token = await loginToken(h);
      const logout = () => fetch(`${h.serverUrl}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      expect((await logout()).status).toBe(200);
      const res = await logout();
      await expectError(res, 401, 'invalid_token');
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="wx-login-kit", error="invalid_token"');
    });
  });
});

describe('token storage', () => {
  it('stores sha256(token) -> session with the ttl and the cap, never the raw token', async () => {
    const calls: Array<{ key: string; session: Session; opts: CreateSessionOptions }> = [];
    const inner = createMemoryStore();
    const store: SessionStore = {
      ...inner,
      create: (key, session, opts) => {
        calls.push({ key, session, opts });
        return inner.create(key, session, opts);
      },
    };
    const h = await startStack({ store, tokenTtlSeconds: 60 });
    try {
      const token = await loginToken(h, 'alice');
      expect(calls).toHaveLength(1);
      const [{ key, session, opts }] = calls;
      expect(key).toBe(hashToken(token));
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      expect(opts).toEqual({ ttlMs: 60_000, idleMs: 0, maxPerOpenid: 5 });
      expect(session).toEqual({
        openid: expect.stringMatching(/^o/),
        unionid: expect.stringMatching(/^ou/),
        session_key: h.emulator.latestSessionKey(APPID, 'alice'),
        createdAt: h.serverClock.now(),
      });
      expect(JSON.stringify(calls)).not.toContain(token);
    } finally {
      await h.close();
    }
  });
});

describe('unexpected failures', () => {
  it('a store that throws: 503 store_unavailable with Retry-After, without the error message or a stack', async () => {
    const explode = async (): Promise<never> => {
      throw new Error('store exploded at 10.0.0.7');
    };
    const broken: SessionStore = { ...createMemoryStore(), get: explode, create: explode };
    const h = await startStack({ store: broken });
    try {
      for (const res of [await h.login(), await me(h, `Bearer ${'A'.repeat(43)}`)]) {
        const body = await expectError(res, 503, 'store_unavailable');
        expect(res.headers.get('retry-after')).toBe('5');
        expect(JSON.stringify(body)).not.toContain('exploded');
      }
    } finally {
      await h.close();
    }
  });

  it('an app route that throws: 500 internal_error without the error message or a stack', async () => {
    const app = Fastify();
    app.setErrorHandler(wxLoginErrorHandler);
    app.get('/boom', async () => {
      throw new Error('exploded at 10.0.0.7');
    });
    try {
      const body = await expectError(await fetch(`${await listen(app)}/boom`), 500, 'internal_error');
      expect(JSON.stringify(body)).not.toContain('exploded');
    } finally {
      await app.close();
    }
  });
});

describe('token expiry with a store on another clock', () => {
  it('follows the server clock even when the store still holds the session', async () => {
    // e.g. a Redis store whose own TTL runs on wall time
    const h = await startStack({ store: createMemoryStore(), tokenTtlSeconds: 60 });
    try {
      const token = await loginToken(h);
      expect((await me(h, `Bearer ${token}`)).status).toBe(200);
      h.serverClock.advance(60_000);
      await expectError(await me(h, `Bearer ${token}`), 401, 'invalid_token');
    } finally {
      await h.close();
    }
  });
});

describe('logging', () => {
  it('never logs the token, the Authorization header, the session_key or the secret', async () => {
    const { lines, stream } = logLines();
    const h = await startStack({ logger: { level: 'trace', stream } });
    try {
      const token = await loginToken(h, 'alice');
      expect((await me(h, `Bearer ${token}`)).status).toBe(200);
      await expectError(await me(h, `Bearer ${token}x`), 401, 'invalid_token');
      h.emulator.failNext(-1);
      expect((await h.login('alice')).status).toBe(503);
      const sessionKey = h.emulator.latestSessionKey(APPID, 'alice')!;

      const log = lines.join('');
      expect(lines.length).toBeGreaterThan(3); // the logger did run
      for (const secret of [token, sessionKey, SECRET, 'Bearer']) expect(log).not.toContain(secret);
    } finally {
      await h.close();
    }
  });
});

/**
 * The plugin's rate limits pinned to their numbers, over real HTTP against the WeChat API
 * emulator: a window ends on the server's clock (a limited user is not locked out until a
 * restart), Retry-After says the seconds left, a refused login leaves no session, and the options
 * that change the limits or turn them off do so.
 */
import { postJson, startStack, type Harness } from './helpers';

const MINUTE = 60_000;

let h: Harness;
afterEach(() => h?.close());

async function loginToken(user = 'alice'): Promise<string> {
  const res = await h.login(user);
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

/** Checks a 429 answer and returns its Retry-After, which the body repeats as `retryAfter`. */
async function retryAfterOf(res: Response): Promise<number> {
  expect(res.status).toBe(429);
  const header = Number(res.headers.get('retry-after'));
  expect(await res.json()).toEqual({ error: 'rate_limited', message: `Too many requests. Retry after ${header} seconds.`, retryAfter: header });
  return header;
}

/** A request the IP limit counts and nothing else answers but the body check: 400 until limited. */
const badLogin = () => postJson(`${h.serverUrl}/auth/login`, {});

describe('per openid', () => {
  it('a limited user logs in again once the window has ended, without a restart', async () => {
    h = await startStack({ rateLimit: { ip: false, openid: { max: 2, timeWindowMs: MINUTE } } });
    await loginToken();
    await loginToken();
    await retryAfterOf(await h.login());
    h.serverClock.advance(MINUTE - 1);
    await retryAfterOf(await h.login());
    h.serverClock.advance(1);
    await loginToken();
    await loginToken();
    await retryAfterOf(await h.login());
  });

  it('Retry-After is the seconds left in the window, rounded up', async () => {
    h = await startStack({ rateLimit: { ip: false, openid: { max: 1, timeWindowMs: MINUTE } } });
    await loginToken();
    expect(await retryAfterOf(await h.login())).toBe(60);
    h.serverClock.advance(20_500);
    expect(await retryAfterOf(await h.login())).toBe(40);
    h.serverClock.advance(39_499);
    expect(await retryAfterOf(await h.login())).toBe(1);
  });

  it('a refused login creates no session', async () => {
    h = await startStack({ rateLimit: { ip: false, openid: { max: 2, timeWindowMs: MINUTE } } });
    const first = await loginToken();
    await loginToken();
    for (let i = 0; i < 3; i++) {
      const res = await h.login();
      await retryAfterOf(res);
    }
    const sessions = await fetch(`${h.serverUrl}/auth/sessions`, { headers: { authorization: `Bearer ${first}` } });
    expect(((await sessions.json()) as { sessions: unknown[] }).sessions).toHaveLength(2);
  });

  it('keeps its default (10 a minute) when only the IP limit is set', async () => {
    h = await startStack({ rateLimit: { ip: false } });
    for (let i = 0; i < 10; i++) await loginToken();
    expect(await retryAfterOf(await h.login())).toBe(60);
    expect((await h.login('bob')).status).toBe(200);
  });
});

describe('per client IP', () => {
  it('counts in a window on the server’s clock: Retry-After the seconds left, then answered again', async () => {
    h = await startStack({ rateLimit: { ip: { max: 2, timeWindowMs: MINUTE }, openid: false } });
    expect([(await badLogin()).status, (await badLogin()).status]).toEqual([400, 400]);
    expect(await retryAfterOf(await badLogin())).toBe(60);
    h.serverClock.advance(15_000);
    expect(await retryAfterOf(await badLogin())).toBe(45);
    h.serverClock.advance(45_000);
    expect((await badLogin()).status).toBe(400);
  });

  it('keeps its default (60 a minute) when only the openid limit is set', async () => {
    h = await startStack({ rateLimit: { openid: false } });
    for (let i = 0; i < 60; i++) expect((await badLogin()).status).toBe(400);
    expect(await retryAfterOf(await badLogin())).toBe(60);
  });
});

it('rateLimit: false turns both limits off', async () => {
  h = await startStack({ rateLimit: false });
  for (let i = 0; i < 15; i++) await loginToken(); // past the default 10 per openid
  for (let i = 0; i < 50; i++) expect((await badLogin()).status).toBe(400); // past the default 60 per IP
});

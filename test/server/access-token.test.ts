import { createAccessTokenClient } from '../../server/access-token';
import { WechatApiError, WechatUnreachableError } from '../../server/wechat';
import { APPID, OTHER_SECRET, SECRET, startEmulator, caught } from './helpers';

let emu: Awaited<ReturnType<typeof startEmulator>>;
beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(() => emu.close());

const STABLE = 'POST /cgi-bin/stable_token';
/** How many stable_token requests the emulator received. */
const tokenCalls = () => emu.requests.filter((r) => r === STABLE).length;

function client(opts: Partial<Parameters<typeof createAccessTokenClient>[0]> = {}) {
  return createAccessTokenClient({ apiBase: emu.url, appid: APPID, secret: SECRET, now: emu.clock.now, ...opts });
}

it('POSTs the secret in a JSON body to stable_token, never in the URL', async () => {
  const seen: Array<{ url: string; init?: RequestInit }> = [];
  const tokens = client({ fetch: (url, init) => (seen.push({ url: String(url), init }), fetch(url, init)) });
  await tokens.get();
  expect(seen).toHaveLength(1);
  expect(seen[0].url).toBe(`${emu.url}/cgi-bin/stable_token`);
  expect(seen[0].init?.method).toBe('POST');
  expect(JSON.parse(String(seen[0].init?.body))).toEqual({
    grant_type: 'client_credential',
    appid: APPID,
    secret: SECRET,
    force_refresh: false,
  });
});

it('serves repeated get() calls from its cache with one request', async () => {
  const tokens = client();
  const first = await tokens.get();
  for (let i = 0; i < 4; i++) expect(await tokens.get()).toBe(first);
  expect(first).toMatch(/^[A-Za-z0-9_-]{100,}$/);
  expect(tokenCalls()).toBe(1);
});

it('shares one request between concurrent get() calls', async () => {
  const tokens = client();
  const all = await Promise.all([tokens.get(), tokens.get(), tokens.get(), tokens.get()]);
  expect(new Set(all).size).toBe(1);
  expect(tokenCalls()).toBe(1);
});

it('fetches a new token refreshMarginMs (default 5 minutes) before the cached one expires', async () => {
  const tokens = client();
  const first = await tokens.get();
  emu.clock.advance(7_200_000 - 300_000 - 1);
  expect(await tokens.get()).toBe(first);
  expect(tokenCalls()).toBe(1);
  emu.clock.advance(1);
  const second = await tokens.get();
  expect(second).not.toBe(first);
  expect(tokenCalls()).toBe(2);
  expect(await tokens.get()).toBe(second);
  expect(tokenCalls()).toBe(2);
});

it('honours a smaller refreshMarginMs', async () => {
  const tokens = client({ refreshMarginMs: 60_000 });
  const first = await tokens.get();
  emu.clock.advance(7_200_000 - 60_000 - 1);
  expect(await tokens.get()).toBe(first);
  emu.clock.advance(1);
  expect(await tokens.get()).not.toBe(first);
  expect(tokenCalls()).toBe(2);
});

it('refresh(stale) forces a new token when the cache still holds the stale one', async () => {
  const tokens = client();
  const stale = await tokens.get();
  const fresh = await tokens.refresh(stale);
  expect(fresh).not.toBe(stale);
  expect(tokenCalls()).toBe(2);
  expect(await tokens.get()).toBe(fresh);
  // The emulator's current token is the forced one: the old one dies after the overlap.
  const other = client();
  expect(await other.get()).toBe(fresh);
});

it('refresh(stale) makes no request when the cache already holds another token', async () => {
  const tokens = client();
  const stale = await tokens.get();
  const fresh = await tokens.refresh(stale);
  // A second request that failed with the stale token, reporting it late.
  expect(await tokens.refresh(stale)).toBe(fresh);
  expect(tokenCalls()).toBe(2);
});

it('shares one forced request between concurrent refresh(stale) calls', async () => {
  const tokens = client();
  const stale = await tokens.get();
  const all = await Promise.all([tokens.refresh(stale), tokens.refresh(stale), tokens.refresh(stale)]);
  expect(new Set(all).size).toBe(1);
  expect(all[0]).not.toBe(stale);
  expect(tokenCalls()).toBe(2);
});

it('refresh() during a get() waits for it and does not force when that brings another token', async () => {
  const tokens = client();
  const [got, refreshed] = await Promise.all([tokens.get(), tokens.refresh('token-another-process-saw-fail')]);
  expect(refreshed).toBe(got);
  expect(tokenCalls()).toBe(1);
});

it('refresh(stale) during a get() that brings back the stale token forces exactly one new token', async () => {
  const stale = await client().get(); // what a peer process used and saw fail
  const tokens = client();
  const [got, a, b] = await Promise.all([tokens.get(), tokens.refresh(stale), tokens.refresh(stale)]);
  expect(got).toBe(stale);
  expect(a).not.toBe(stale);
  expect(b).toBe(a);
  expect(tokenCalls()).toBe(3);
});

it('does not cache a network failure: the next get() asks again', async () => {
  let down = true;
  const tokens = client({
    fetch: (url, init) => (down ? Promise.reject(new TypeError('fetch failed')) : fetch(url, init)),
  });
  const [a, b] = await Promise.all([caught(tokens.get()), caught(tokens.get())]);
  expect(a).toBeInstanceOf(WechatUnreachableError);
  expect(b).toBe(a);
  expect(a.message).toBe('[wx-login-kit] getStableAccessToken failed: WeChat unreachable (network error)');
  down = false;
  expect(await tokens.get()).toMatch(/^[A-Za-z0-9_-]{100,}$/);
  expect(tokenCalls()).toBe(1);
});

it('does not cache an errcode either, and keeps the secret out of the error', async () => {
  const tokens = client({ secret: OTHER_SECRET });
  for (let i = 0; i < 2; i++) {
    const err = await caught(tokens.get());
    expect(err).toBeInstanceOf(WechatApiError);
    expect(err).toMatchObject({ errcode: 40125, api: 'getStableAccessToken' });
    expect(err.message).toMatch(/^\[wx-login-kit\] getStableAccessToken failed: errcode 40125 invalid appsecret/);
    expect(err.message).not.toContain(OTHER_SECRET);
  }
  expect(tokenCalls()).toBe(2);
});

/**
 * The app's access_token shared by several processes through a store's cache (what the plugin
 * does with every store): who asks WeChat, when that ask is forced (force_refresh, 20 a day), and
 * that the refresh lock is always released. Each "process" is an access-token client of its own
 * on one memory store's cache, against the WeChat API emulator over real HTTP.
 */
import { createAccessTokenClient, type AccessTokenClientOptions } from '../../server/access-token';
import { createMemoryStore, type AccessTokenCache } from '../../server/store';
import { WechatApiError, WechatUnreachableError } from '../../server/wechat';
import { APPID, OTHER_SECRET, SECRET, caught, startEmulator } from './helpers';

const MINUTE = 60_000;

let emu: Awaited<ReturnType<typeof startEmulator>>;
let cache: AccessTokenCache;
/** The force_refresh of every stable_token request the processes sent, oldest first. */
let forced: boolean[];

beforeEach(async () => {
  emu = await startEmulator();
  cache = createMemoryStore({ now: emu.clock.now }).accessTokenCache(APPID);
  forced = [];
});
afterEach(() => emu.close());

/** One server process: an access-token client with its own in-process cache, sharing `shared`. */
function processOn(shared: AccessTokenCache = cache, opts: Partial<AccessTokenClientOptions> = {}) {
  return createAccessTokenClient({
    apiBase: emu.url,
    appid: APPID,
    secret: SECRET,
    now: emu.clock.now,
    cache: shared,
    fetch: async (url, init) => {
      forced.push((JSON.parse(String(init?.body)) as { force_refresh: boolean }).force_refresh);
      return fetch(url, init);
    },
    ...opts,
  });
}

/** What a peer process would do: write a token of its own to the shared cache. */
const peerWrites = (token: string, expiresInMs = 2 * 3600_000) => cache.write({ token, expiresAt: emu.clock.now() + expiresInMs });

/** Whether nobody holds the refresh lock: takes it and gives it back. */
async function lockIsFree(): Promise<boolean> {
  const release = await cache.lock(MINUTE);
  await release?.();
  return release !== null;
}

describe('who asks WeChat', () => {
  it('one process asks, unforced; the next reads what it wrote', async () => {
    const first = await processOn().get();
    expect(await processOn().get()).toBe(first);
    expect(forced).toEqual([false]);
    expect((await cache.read())?.token).toBe(first);
  });

  it('a shared token inside its last refreshMarginMs (5 minutes) is not taken: the process asks WeChat', async () => {
    await peerWrites('AT-PEER-LATE', 300_000);
    const token = await processOn().get();
    expect(token).not.toBe('AT-PEER-LATE');
    expect(forced).toEqual([false]);
    expect((await cache.read())?.token).toBe(token);

    await peerWrites('AT-PEER-FRESH', 300_001);
    expect(await processOn().get()).toBe('AT-PEER-FRESH');
    expect(forced).toEqual([false]);
  });

  it('waits for the process holding the lock and takes the token it writes', async () => {
    const peer = await cache.lock(10 * MINUTE);
    let reads = 0;
    const watched: AccessTokenCache = { ...cache, read: () => ((reads += 1), cache.read()) };
    const waiting = processOn(watched).get();
    while (reads === 0) await new Promise((resolve) => setImmediate(resolve));
    await peerWrites('AT-PEER');
    await peer!();
    expect(await waiting).toBe('AT-PEER');
    expect(forced).toEqual([]);
  });

  it('gives up after lockTimeoutMs when the holder never writes, saying why', async () => {
    await cache.lock(10 * MINUTE); // a process that died holding it, on the store's clock
    const err = await caught(processOn(cache, { lockTimeoutMs: 200 }).get());
    expect(err).toBeInstanceOf(WechatUnreachableError);
    expect(err.message).toBe('[wx-login-kit] getStableAccessToken failed: WeChat unreachable (another process held the access_token lock too long)');
    expect(forced).toEqual([]);
  });

  it('takes the lock for lockTimeoutMs, by default 2 × timeoutMs + 1 s', async () => {
    const ttls: number[] = [];
    const recorded: AccessTokenCache = { ...cache, lock: (ttlMs) => (ttls.push(ttlMs), cache.lock(ttlMs)) };
    await processOn(recorded, { timeoutMs: 2000 }).get();
    await peerWrites('AT-SOON-DUE', 1000);
    await processOn(recorded, { lockTimeoutMs: 1234 }).get();
    expect(ttls).toEqual([5000, 1234]);
  });
});

describe('when the ask is forced', () => {
  it('refresh(stale) with the stale token still shared: forced, and the new token is shared', async () => {
    const stale = await processOn().get();
    const fresh = await processOn().refresh(stale);
    expect(fresh).not.toBe(stale);
    expect(forced).toEqual([false, true]);
    expect((await cache.read())?.token).toBe(fresh);
  });

  it('refresh(stale) when another process already shared a new token: nobody asks', async () => {
    const stale = await processOn().get();
    await peerWrites('AT-PEER');
    expect(await processOn().refresh(stale)).toBe('AT-PEER');
    expect(forced).toEqual([false]);
  });

  it('refresh(stale) with nothing shared (a flushed Redis, say): forced, or WeChat would hand back the stale token', async () => {
    let flushed = false;
    const flushable: AccessTokenCache = {
      ...cache,
      read: async () => (flushed ? null : cache.read()),
      write: async (entry) => {
        flushed = false;
        await cache.write(entry);
      },
    };
    const one = processOn(flushable);
    const stale = await one.get();
    flushed = true;
    const fresh = await one.refresh(stale);
    expect(fresh).not.toBe(stale);
    expect(forced).toEqual([false, true]);
  });

  it('a token another process shared between our read and our lock is taken, not asked for again', async () => {
    const stale = await processOn().get();
    // The peer writes its new token just before we get the lock.
    const racing: AccessTokenCache = {
      ...cache,
      lock: async (ttlMs) => {
        await peerWrites('AT-PEER');
        return cache.lock(ttlMs);
      },
    };
    expect(await processOn(racing).refresh(stale)).toBe('AT-PEER');
    expect(forced).toEqual([false]);
    expect(await lockIsFree()).toBe(true);
  });
});

describe('the lock', () => {
  it('is released after a successful ask', async () => {
    await processOn().get();
    expect(await lockIsFree()).toBe(true);
  });

  it('is released when WeChat refuses (wrong secret), so the next process asks at once', async () => {
    const err = await caught(processOn(cache, { secret: OTHER_SECRET }).get());
    expect(err).toBeInstanceOf(WechatApiError);
    expect(await lockIsFree()).toBe(true);
    expect(await processOn().get()).toEqual(expect.any(String));
  });

  it('is released when WeChat cannot be reached', async () => {
    const down = processOn(cache, { fetch: () => Promise.reject(new TypeError('fetch failed')) });
    expect(await caught(down.get())).toBeInstanceOf(WechatUnreachableError);
    expect(await lockIsFree()).toBe(true);
  });
});

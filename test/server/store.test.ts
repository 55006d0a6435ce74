import { randomBytes } from 'node:crypto';
import { hashToken } from '../../server/crypto';
import { createMemoryStore, type Session, type SessionStore } from '../../server/store';
import { createRedisStore } from '../../server/redis-store';
import { Redis } from 'ioredis';
import { startRedis, type TestRedis } from '../support/redis';
import { manualClock, type Clock } from './helpers';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

const session = (openid = 'o-alice', createdAt = 0): Session => ({ openid, session_key: `key-of-${openid}`, createdAt });
const id = () => randomBytes(32).toString('hex');

// No test here races the real clock. A session's deadlines are on the store's clock (a manual one),
// but the Redis store also gives each key a real TTL (PX) of the session's lifetime, to free the
// memory: with a lifetime of 10 ms a loaded machine lost the session in Redis before the test read
// it. So every lifetime and lock here is minutes long, far longer than a test runs on any machine,
// and a session dies only because the store compared its clock with the deadline.
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const opts = { ttlMs: HOUR, maxPerOpenid: 5 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface StoreUnderTest {
  store: SessionStore;
  /**
   * Lets `ms` pass for everything the store times: the manual clock, and for the Redis store also
   * real time, the clock of its rate-limit windows and lock lifetimes (PX). Real time may pass
   * longer than asked on a loaded machine: tests only use it where "longer" changes nothing.
   */
  pass(ms: number): Promise<void>;
}

type Make = (clock: Clock) => StoreUnderTest;
const stores: Array<[string, Make]> = [
  ['memory', (clock) => ({ store: createMemoryStore({ now: clock.now }), pass: async (ms) => clock.advance(ms) })],
  [
    'redis',
    (clock) => ({
      // A fresh prefix per store: the tests share one redis-server and never see each other's keys.
      store: createRedisStore({ redis: redis.client(), prefix: `t${randomBytes(4).toString('hex')}:`, now: clock.now }),
      pass: async (ms) => {
        clock.advance(ms);
        await sleep(ms + 20);
      },
    }),
  ],
];

describe.each(stores)('%s store: the SessionStore contract', (_name, make) => {
  let clock: Clock;
  let store: SessionStore;
  let pass: StoreUnderTest['pass'];
  beforeEach(() => {
    clock = manualClock();
    ({ store, pass } = make(clock));
  });

  it('creates, gets and deletes a session, with its deadlines', async () => {
    const h = id();
    const t = clock.now();
    expect(await store.create(h, { ...session(), unionid: 'ou-alice', createdAt: t }, opts)).toEqual([]);
    expect(await store.get(h)).toEqual({
      openid: 'o-alice',
      unionid: 'ou-alice',
      session_key: 'key-of-o-alice',
      createdAt: t,
      expiresAt: t + HOUR,
      lastSeenAt: t,
      idleMs: 0,
    });
    expect(await store.get(id())).toBeNull();
    await store.delete(h);
    expect(await store.get(h)).toBeNull();
    await expect(store.delete(id())).resolves.toBeUndefined();
  });

  it('hands out copies, so callers cannot change what is stored', async () => {
    const h = id();
    const s = session();
    await store.create(h, s, opts);
    s.openid = 'changed';
    (await store.get(h))!.openid = 'changed too';
    expect((await store.get(h))!.openid).toBe('o-alice');
  });

  it('refuses a session from its absolute deadline on', async () => {
    const h = id();
    await store.create(h, session(), { ...opts, ttlMs: 10 * MINUTE });
    clock.advance(10 * MINUTE - 1);
    expect(await store.get(h)).not.toBeNull();
    clock.advance(1);
    expect(await store.get(h)).toBeNull();
  });

  it('with an idle timeout, refuses a session unused for idleMs and keeps one in use, up to its absolute deadline', async () => {
    const h = id();
    await store.create(h, session(), { ttlMs: 5 * MINUTE, idleMs: MINUTE, maxPerOpenid: 5 });
    for (let i = 0; i < 4; i++) {
      clock.advance(MINUTE - 1);
      expect((await store.get(h))?.lastSeenAt).toBe(clock.now());
    }
    clock.advance(MINUTE + 4); // 5 minutes since creation: used within idleMs, but past the absolute deadline
    expect(await store.get(h)).toBeNull();

    const idle = id();
    await store.create(idle, session(), { ttlMs: 5 * MINUTE, idleMs: MINUTE, maxPerOpenid: 5 });
    clock.advance(MINUTE - 1);
    expect(await store.get(idle)).not.toBeNull();
    clock.advance(MINUTE);
    expect(await store.get(idle)).toBeNull();
  });

  it('keeps at most maxPerOpenid live sessions per openid, revoking the oldest first', async () => {
    const ids = Array.from({ length: 7 }, id);
    const revoked: string[][] = [];
    for (const h of ids) {
      revoked.push(await store.create(h, session(), opts));
      clock.advance(10);
    }
    const bob = id();
    await store.create(bob, session('o-bob'), opts);
    expect(revoked).toEqual([[], [], [], [], [], [ids[0]], [ids[1]]]);
    expect(await store.get(ids[0])).toBeNull();
    expect(await store.get(ids[1])).toBeNull();
    expect((await store.list('o-alice')).map((s) => s.id)).toEqual(ids.slice(2));
    expect(await store.get(bob)).not.toBeNull();
  });

  it('orders sessions created in the same millisecond by creation', async () => {
    const ids = Array.from({ length: 4 }, id);
    for (const h of ids) await store.create(h, session(), { ...opts, maxPerOpenid: 3 });
    expect((await store.list('o-alice')).map((s) => s.id)).toEqual(ids.slice(1));
  });

  it('does not count dead sessions toward the cap', async () => {
    const short = [id(), id()];
    for (const h of short) await store.create(h, session(), { ...opts, ttlMs: MINUTE });
    const long = [id(), id(), id()];
    for (const h of long) await store.create(h, session(), opts);
    clock.advance(MINUTE);
    expect(await store.create(id(), session(), opts)).toEqual([]);
    expect(await store.list('o-alice')).toHaveLength(4);
  });

  it('lists the live sessions of one openid, oldest first, without token or session_key', async () => {
    const [a, b, c] = [id(), id(), id()];
    const t0 = clock.now();
    await store.create(a, session('o-alice', t0), opts);
    clock.advance(5);
    await store.create(b, session('o-alice', t0 + 5), { ...opts, ttlMs: 10 * MINUTE });
    await store.create(c, session('o-carol'), opts);
    expect(await store.list('o-alice')).toEqual([
      { id: a, createdAt: t0, expiresAt: t0 + HOUR, lastSeenAt: t0 },
      { id: b, createdAt: t0 + 5, expiresAt: t0 + 5 + 10 * MINUTE, lastSeenAt: t0 + 5 },
    ]);
    clock.advance(10 * MINUTE);
    expect((await store.list('o-alice')).map((s) => s.id)).toEqual([a]);
    await store.delete(a);
    expect(await store.list('o-alice')).toEqual([]);
    expect(await store.list('o-nobody')).toEqual([]);
  });

  it("revokes one session by id, only the openid's own", async () => {
    const [a, c] = [id(), id()];
    await store.create(a, session('o-alice'), opts);
    await store.create(c, session('o-carol'), opts);
    expect(await store.revoke('o-alice', c)).toBe(false);
    expect(await store.get(c)).not.toBeNull();
    expect(await store.revoke('o-alice', id())).toBe(false);
    expect(await store.revoke('o-alice', a)).toBe(true);
    expect(await store.get(a)).toBeNull();
    expect(await store.revoke('o-alice', a)).toBe(false);
  });

  it('revokes every session of one openid and counts the live ones', async () => {
    const mine = [id(), id(), id()];
    for (const h of mine) await store.create(h, session(), opts);
    const dead = id();
    await store.create(dead, session(), { ...opts, ttlMs: MINUTE });
    const carol = id();
    await store.create(carol, session('o-carol'), opts);
    clock.advance(MINUTE);
    expect(await store.revokeAll('o-alice')).toBe(3);
    for (const h of [...mine, dead]) expect(await store.get(h)).toBeNull();
    expect(await store.list('o-alice')).toEqual([]);
    expect(await store.get(carol)).not.toBeNull();
    expect(await store.revokeAll('o-alice')).toBe(0);
  });

  it("revoke answers false for one of the openid's sessions that is already dead", async () => {
    const h = id();
    await store.create(h, session(), { ...opts, ttlMs: MINUTE });
    clock.advance(MINUTE);
    expect(await store.revoke('o-alice', h)).toBe(false);
  });

  it('counts hits per key in a window that starts at its first hit', async () => {
    const counts = [];
    for (let i = 0; i < 3; i++) counts.push(await store.hit('openid:a', HOUR));
    expect(counts.map((c) => c.count)).toEqual([1, 2, 3]);
    for (const { resetMs } of counts) {
      // The Redis store's windows run on Redis's clock: allow a minute of real time between hits.
      expect(resetMs).toBeGreaterThan(HOUR - MINUTE);
      expect(resetMs).toBeLessThanOrEqual(HOUR);
    }
    expect((await store.hit('openid:b', HOUR)).count).toBe(1);
  });

  it('starts a new window once one has ended, so a limited user is not locked out until a restart', async () => {
    // A short window: on the Redis store it ends in real time (the test then sleeps past it).
    for (let i = 0; i < 3; i++) await store.hit('openid:a', 100);
    await pass(100);
    const next = await store.hit('openid:a', 100);
    expect(next.count).toBe(1);
    expect(next.resetMs).toBeGreaterThan(0);
    expect(next.resetMs).toBeLessThanOrEqual(100);
  });

  it('shares an access_token per appid, with a lock only one holder gets', async () => {
    const cache = store.accessTokenCache('wx-app-1');
    expect(await cache.read()).toBeNull();
    await cache.write({ token: 'AT-1', expiresAt: clock.now() + 7_200_000 });
    expect(await cache.read()).toEqual({ token: 'AT-1', expiresAt: clock.now() + 7_200_000 });
    expect(await store.accessTokenCache('wx-app-2').read()).toBeNull();

    const release = await cache.lock(10 * MINUTE);
    expect(release).toEqual(expect.any(Function));
    expect(await cache.lock(10 * MINUTE)).toBeNull();
    expect(await store.accessTokenCache('wx-app-2').lock(10 * MINUTE)).toEqual(expect.any(Function));
    await release!();
    const again = await cache.lock(10 * MINUTE);
    expect(again).toEqual(expect.any(Function));
    await again!();
  });

  it('lets a lock lapse after its ttl (a holder that died), and a lapsed holder cannot release the next one', async () => {
    const cache = store.accessTokenCache('wx-app-1');
    const lapsed = await cache.lock(100);
    await pass(100);
    const next = await cache.lock(10 * MINUTE);
    expect(next).toEqual(expect.any(Function));
    await lapsed!();
    expect(await cache.lock(10 * MINUTE)).toBeNull();
    await next!();
    expect(await cache.lock(10 * MINUTE)).toEqual(expect.any(Function));
  });
});

describe('redis store', () => {
  it('names keys by hashes only (token hash, sha256 of the openid), each with a TTL', async () => {
    const client = redis.client();
    const prefix = `k${randomBytes(4).toString('hex')}:`;
    const store = createRedisStore({ redis: client, prefix });
    const h = id();
    await store.create(h, { ...session('o-alice-openid'), createdAt: Date.now() }, opts);
    const keys = await client.keys(`${prefix}*`);
    expect(keys.sort()).toEqual([`${prefix}o:${hashToken('o-alice-openid')}`, `${prefix}s:${h}`].sort());
    for (const key of keys) {
      expect(key).not.toMatch(/alice|key-of/);
      const pttl = await client.pttl(key);
      // Real time runs between create and PTTL: a minute of slack for a loaded machine.
      expect(pttl).toBeGreaterThan(HOUR - MINUTE);
      expect(pttl).toBeLessThanOrEqual(HOUR);
    }
  });

  it('sees what another process wrote: one Redis, two store objects', async () => {
    const prefix = `p${randomBytes(4).toString('hex')}:`;
    const a = createRedisStore({ redis: redis.client(), prefix });
    const b = createRedisStore({ redis: redis.client(), prefix });
    const h = id();
    await a.create(h, { ...session(), createdAt: Date.now() }, opts);
    expect((await b.get(h))?.openid).toBe('o-alice');
    expect(await b.revokeAll('o-alice')).toBe(1);
    expect(await a.get(h)).toBeNull();
    const release = await a.accessTokenCache('wx').lock(10 * MINUTE);
    expect(await b.accessTokenCache('wx').lock(10 * MINUTE)).toBeNull();
    await release!();
  });
  it('refuses an ioredis client with a keyPrefix (its scripts would see no sessions)', () => {
    const prefixed = new Redis(redis.path, { keyPrefix: 'app:', lazyConnect: true });
    expect(() => createRedisStore({ redis: prefixed })).toThrow(/keyPrefix/);
    prefixed.disconnect();
  });

  it('strips the arguments ioredis puts on an error: no session_key in what a logger would print', async () => {
    const client = redis.client();
    const store = createRedisStore({ redis: client, prefix: `e${randomBytes(4).toString('hex')}:` });
    await client.config('SET', 'maxmemory', '1');
    try {
      const err = await store.create(id(), { ...session(), session_key: 'SECRET-SESSION-KEY', createdAt: Date.now() }, opts).then(
        () => null,
        (e: unknown) => e,
      );
      expect(String(err)).toMatch(/OOM/);
      expect(JSON.stringify(err)).not.toContain('SECRET-SESSION-KEY');
      expect(JSON.stringify(err)).toMatch(/"command":{"name":"eval/); // the name stays, for the operator
    } finally {
      await client.config('SET', 'maxmemory', '0');
    }
  });
});

describe('memory store', () => {
  it('sweeps dead sessions on create, so never-read sessions do not pile up', async () => {
    const clock = manualClock();
    const store = createMemoryStore({ now: clock.now });
    for (let i = 0; i < 150; i++) await store.create(`old${i}`, session(`o${i}`), { ...opts, ttlMs: MINUTE });
    clock.advance(MINUTE);
    for (let i = 0; i < 100; i++) await store.create(`new${i}`, session(`n${i}`), opts);
    expect(store.size()).toBeLessThanOrEqual(100);
    expect(await store.get('new99')).not.toBeNull();
  });

  it('ends a hit window exactly windowMs after its first hit, on its clock', async () => {
    const clock = manualClock();
    const store = createMemoryStore({ now: clock.now });
    expect(await store.hit('openid:a', MINUTE)).toEqual({ count: 1, resetMs: MINUTE });
    clock.advance(MINUTE - 1);
    expect(await store.hit('openid:a', MINUTE)).toEqual({ count: 2, resetMs: 1 });
    clock.advance(1);
    expect(await store.hit('openid:a', MINUTE)).toEqual({ count: 1, resetMs: MINUTE });
  });

  it('drops ended hit windows but keeps the live ones: cleaning up is no way around the limit', async () => {
    const clock = manualClock();
    const store = createMemoryStore({ now: clock.now, maxEntries: 10 });
    await store.hit('openid:old', 1000);
    for (let i = 0; i < 3; i++) await store.hit('openid:a', MINUTE);
    clock.advance(1000);
    await store.hit('openid:b', MINUTE);
    expect((await store.hit('openid:a', MINUTE)).count).toBe(4);
    expect((await store.hit('openid:b', MINUTE)).count).toBe(2);
    expect((await store.hit('openid:old', 1000)).count).toBe(1);
  });

  it('ends a window behind a longer one too: a short window is not kept alive by the keys before it', async () => {
    const clock = manualClock();
    const store = createMemoryStore({ now: clock.now });
    await store.hit('openid:long', HOUR);
    for (let i = 0; i < 3; i++) await store.hit('openid:a', 1000);
    clock.advance(1000);
    expect(await store.hit('openid:a', 1000)).toEqual({ count: 1, resetMs: 1000 });
  });

  // Found by a mutation run: at the cap every hit used to drop the oldest live window, even a hit
  // on a key already counted, so a table kept full (many IPv6 addresses, say) kept resetting live
  // counts. Room is now made only for a new key.
  it('at its cap, a hit on a key it already counts drops no live window', async () => {
    const clock = manualClock();
    const store = createMemoryStore({ now: clock.now, maxEntries: 2 });
    await store.hit('openid:a', MINUTE);
    await store.hit('openid:b', MINUTE);
    expect((await store.hit('openid:b', MINUTE)).count).toBe(2);
    expect((await store.hit('openid:a', MINUTE)).count).toBe(2);
  });

  it('never holds more than maxEntries, dropping the oldest first', async () => {
    const store = createMemoryStore({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c', 'd']) await store.create(key, session(key), opts);
    expect(store.size()).toBe(3);
    expect(await store.get('a')).toBeNull();
    expect(await store.get('d')).not.toBeNull();
    expect(await store.list('a')).toEqual([]);
  });
});

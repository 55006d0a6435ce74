import { createMemoryStore, type Session } from '../../server/store';
import { manualClock } from './helpers';

const session = (openid = 'o-alice'): Session => ({ openid, session_key: 'k', createdAt: 0 });

describe('memory store', () => {
  it('sets, gets and deletes a session', async () => {
    const store = createMemoryStore();
    await store.set('h1', { ...session(), unionid: 'ou-alice' }, 1000);
    expect(await store.get('h1')).toEqual({ openid: 'o-alice', unionid: 'ou-alice', session_key: 'k', createdAt: 0 });
    expect(await store.get('h2')).toBeNull();
    await store.delete('h1');
    expect(await store.get('h1')).toBeNull();
    await expect(store.delete('unknown')).resolves.toBeUndefined();
  });

  it('returns copies, so callers cannot change what is stored', async () => {
    const store = createMemoryStore();
    const s = session();
    await store.set('h', s, 1000);
    s.openid = 'changed';
    (await store.get('h'))!.openid = 'changed too';
    expect((await store.get('h'))!.openid).toBe('o-alice');
  });

  it('expires an entry at its ttl and drops it on get', async () => {
    const clock = manualClock();
    const store = createMemoryStore({ now: clock.now });
    await store.set('h', session(), 1000);
    clock.advance(999);
    expect(await store.get('h')).not.toBeNull();
    clock.advance(1);
    expect(store.size()).toBe(1);
    expect(await store.get('h')).toBeNull();
    expect(store.size()).toBe(0);
  });

  it('sweeps expired entries on set, so never-read entries do not pile up', async () => {
    const clock = manualClock();
    const store = createMemoryStore({ now: clock.now });
    for (let i = 0; i < 150; i++) await store.set(`old${i}`, session(), 1000);
    clock.advance(1000);
    for (let i = 0; i < 100; i++) await store.set(`new${i}`, session(), 1000);
    expect(store.size()).toBeLessThanOrEqual(100);
    expect(await store.get('new99')).not.toBeNull();
  });

  it('never holds more than maxEntries, dropping the oldest written first', async () => {
    const store = createMemoryStore({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) await store.set(key, session(key), 60_000);
    await store.set('a', session('a2'), 60_000); // rewriting makes 'a' the newest
    await store.set('d', session('d'), 60_000);
    expect(store.size()).toBe(3);
    expect(await store.get('b')).toBeNull();
    expect((await store.get('a'))!.openid).toBe('a2');
    expect(await store.get('d')).not.toBeNull();
  });
});

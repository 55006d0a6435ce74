import { createAuth } from 'wx-login-kit';
import { createScriptedServer } from '../support/fake-wx';
import { settle } from '../support/timers';

/** Lets `ms` of fake time pass (a refresh timer is live, so "run all timers" would never end). */
async function within<T>(p: Promise<T>, ms = 1000): Promise<T> {
  p.catch(() => {});
  await jest.advanceTimersByTimeAsync(ms);
  return p;
}

const MIN = 60_000;

function setup() {
  const server = createScriptedServer();
  const auth = createAuth({ baseURL: 'https://api.example.com', wx: server.fake.wx });
  return { server, auth, fake: server.fake };
}

beforeEach(() => {
  jest.useFakeTimers();
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('wx-login-kit')]; // a fresh app: no instance registered
});
afterEach(() => jest.useRealTimers());

describe('getCode', () => {
  it('without a kept code calls wx.login, and never hands out the same code twice', async () => {
    const { auth, fake } = setup();
    const codes = await settle(Promise.all([auth.getCode(), auth.getCode(), auth.getCode()]));
    expect(new Set(codes).size).toBe(3);
    expect(fake.state.loginCalls).toBe(3);
  });

  it('hands out the kept code once, then fetches the next one in the background', async () => {
    const { auth, fake } = setup();
    const stop = auth.startCodeRefresh();
    await jest.advanceTimersByTimeAsync(10);
    expect(fake.state.loginCalls).toBe(1);
    const first = await auth.getCode(); // no wx.login needed
    expect(first).toBe('code-1');
    await jest.advanceTimersByTimeAsync(10);
    expect(fake.state.loginCalls).toBe(2); // the refill
    expect(await auth.getCode()).toBe('code-2');
    stop();
  });

  it('with {refill: false} fetches no next code until startCodeRefresh is called again', async () => {
    const { auth, fake } = setup();
    const stop = auth.startCodeRefresh();
    await jest.advanceTimersByTimeAsync(10);
    expect(await auth.getCode({ refill: false })).toBe('code-1');
    await jest.advanceTimersByTimeAsync(4 * MIN + 1000); // past code-1's refresh time
    fake.show(); // and an app show
    await jest.advanceTimersByTimeAsync(10);
    expect(fake.state.loginCalls).toBe(1);
    const stopAgain = auth.startCodeRefresh(); // the taker is done: cover the next tap
    expect(fake.state.loginCalls).toBe(2);
    stop();
    stopAgain();
  });

  it('with {refill: false} and no kept code it rejects instead of calling wx.login after the tap', async () => {
    const { auth, fake } = setup();
    await expect(auth.getCode({ refill: false })).rejects.toEqual({ errMsg: 'no code kept before the tap' });
    expect(fake.state.loginCalls).toBe(0);
  });

  it('{refill: true} is the default: with no kept code it calls wx.login', async () => {
    const { auth, fake } = setup();
    await expect(within(auth.getCode({ refill: true }))).resolves.toBe('code-1');
    expect(fake.state.loginCalls).toBe(1);
  });

  it('waits for a wx.login already under way instead of starting another', async () => {
    const { auth, fake } = setup();
    const stop = auth.startCodeRefresh(); // prefetch under way
    const code = await within(auth.getCode());
    expect(code).toBe('code-1');
    expect(fake.state.loginCalls).toBe(2); // the prefetch, then its refill; none for getCode itself
    stop();
  });

  it('never hands out a code older than codeRefreshInterval', async () => {
    const { auth, fake } = setup();
    const stop = auth.startCodeRefresh();
    await jest.advanceTimersByTimeAsync(10);
    // The app sat in the background: the clock moved, timers did not fire.
    jest.setSystemTime(Date.now() + 4 * MIN);
    const code = await within(auth.getCode());
    expect(code).not.toBe('code-1');
    expect(fake.state.loginCalls).toBeGreaterThanOrEqual(2);
    stop();
  });

  it('a login uses the kept code instead of a new wx.login', async () => {
    const { auth, fake, server } = setup();
    const stop = auth.startCodeRefresh();
    await jest.advanceTimersByTimeAsync(10);
    await within(auth.login());
    expect(server.fake.state.requests[0].data).toEqual({ code: 'code-1', platform: 'wechat' });
    stop();
    await jest.runOnlyPendingTimersAsync();
    expect(fake.state.loginCalls).toBe(2); // prefetch + refill after the login took it
  });
});

describe('startCodeRefresh', () => {
  it('calls wx.login at once and then every 4 minutes: 6 calls in 20 minutes on screen, none after stop', async () => {
    const { auth, fake } = setup();
    const stop = auth.startCodeRefresh();
    await jest.advanceTimersByTimeAsync(20 * MIN + 1000); // each refresh counts from its code's arrival, 10 ms after the call
    expect(fake.state.loginCalls).toBe(6); // t = 0, 4, 8, 12, 16, 20 min
    stop();
    await jest.advanceTimersByTimeAsync(60 * MIN);
    expect(fake.state.loginCalls).toBe(6);
  });

  it('is reference counted: two users share one timer; it stops when the last one stops', async () => {
    const { auth, fake } = setup();
    const stopA = auth.startCodeRefresh();
    const stopB = auth.startCodeRefresh();
    await jest.advanceTimersByTimeAsync(8 * MIN + 1000);
    expect(fake.state.loginCalls).toBe(3); // not 6
    stopA();
    stopA(); // harmless twice
    await jest.advanceTimersByTimeAsync(4 * MIN);
    expect(fake.state.loginCalls).toBe(4);
    stopB();
    await jest.advanceTimersByTimeAsync(20 * MIN);
    expect(fake.state.loginCalls).toBe(4);
    expect(fake.showListenerCount()).toBe(0);
  });

  it('started again within 4 minutes (a page shown again), keeps the code it has and refreshes it when it turns 4 minutes old', async () => {
    const { auth, fake } = setup();
    const stop = auth.startCodeRefresh();
    await jest.advanceTimersByTimeAsync(MIN); // code-1 arrived at 10 ms
    stop(); // the page is hidden
    await jest.advanceTimersByTimeAsync(MIN);
    const again = auth.startCodeRefresh(); // shown again: code-1 is 2 minutes old
    await jest.advanceTimersByTimeAsync(10);
    expect(fake.state.loginCalls).toBe(1);
    await jest.advanceTimersByTimeAsync(2 * MIN - 20);
    expect(fake.state.loginCalls).toBe(1);
    await jest.advanceTimersByTimeAsync(20);
    expect(fake.state.loginCalls).toBe(2);
    await jest.advanceTimersByTimeAsync(4 * MIN + 10); // code-2 arrived 10 ms after its call
    expect(fake.state.loginCalls).toBe(3); // and every 4 minutes after
    again();
  });

  it('on app show refreshes at once when the kept code went stale in the background, not when it is fresh', async () => {
    const { auth, fake } = setup();
    const stop = auth.startCodeRefresh();
    await jest.advanceTimersByTimeAsync(MIN);
    fake.show(); // fresh: nothing to do
    await jest.advanceTimersByTimeAsync(10);
    expect(fake.state.loginCalls).toBe(1);
    // 10 minutes in the background: timers were suspended, so only the clock moved.
    jest.setSystemTime(Date.now() + 10 * MIN);
    fake.show();
    expect(fake.state.loginCalls).toBe(2);
    await jest.advanceTimersByTimeAsync(10);
    await expect(auth.getCode()).resolves.toBe('code-2');
    stop();
  });

  it('while wx.login keeps failing it retries once per interval, not in a loop', async () => {
    const { auth, fake } = setup();
    const stop = auth.startCodeRefresh();
    await jest.advanceTimersByTimeAsync(10);
    fake.state.loginFailures = 1000; // offline from now on
    await jest.advanceTimersByTimeAsync(20 * MIN + 1000);
    expect(fake.state.loginCalls).toBe(6); // t = 0, then 4, 8, 12, 16, 20 min
    stop();
  });

  it('works with a wx that has no onAppShow/offAppShow (other platforms, old base libraries)', async () => {
    const { auth, fake } = setup();
    delete (fake.wx as Partial<typeof fake.wx>).onAppShow;
    delete (fake.wx as Partial<typeof fake.wx>).offAppShow;
    const stop = auth.startCodeRefresh();
    await jest.advanceTimersByTimeAsync(4 * MIN + 20);
    expect(fake.state.loginCalls).toBe(2);
    stop();
    await jest.advanceTimersByTimeAsync(8 * MIN);
    expect(fake.state.loginCalls).toBe(2);
  });

  it('a failed prefetch is not fatal: getCode falls back to wx.login', async () => {
    const { auth, fake } = setup();
    fake.state.loginFailures = 1;
    const stop = auth.startCodeRefresh();
    const code = await within(auth.getCode());
    expect(code).toBe('code-1');
    stop();
  });
});

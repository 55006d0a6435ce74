/**
 * uploadFile and downloadFile carry the token and recover from a 401 exactly as request does (one
 * mechanism for the three), and every call can be aborted at every stage.
 */
import { AbortError, createAuth, HTTPError, LoginError, NetworkError } from 'wx-login-kit';
import { createScriptedServer } from '../support/fake-wx';
import { settle } from '../support/timers';

const BASE = 'https://api.example.com';
type Kind = 'request' | 'uploadFile' | 'downloadFile';
const KINDS: Kind[] = ['uploadFile', 'downloadFile'];
const ALL: Kind[] = ['request', 'uploadFile', 'downloadFile'];

function setup(extra: Partial<Parameters<typeof createAuth>[0]> = {}) {
  const server = createScriptedServer();
  const auth = createAuth({ baseURL: BASE, wx: server.fake.wx, ...extra });
  const logins = () => server.fake.state.requests.filter((r) => r.url.endsWith('/auth/login')).length;
  const sent = (path: string) => server.fake.state.requests.filter((r) => r.url.endsWith(path));
  /** One call of `kind` to `path`; resolves the token the server saw. */
  const call = (kind: Kind, path: string, more: object = {}) => {
    const url = path;
    const p =
      kind === 'request'
        ? auth.request<{ token: string }>({ url, ...more })
        : kind === 'uploadFile'
          ? auth.uploadFile<{ token: string }>({ url, filePath: 'wxfile://tmp_avatar.png', name: 'avatar', ...more })
          : auth.downloadFile({ url, ...more });
    const token = p.then((res) => {
      if ('json' in res) return res.json!.token;
      if ('tempFilePath' in res) return (server.fake.state.files.get(res.tempFilePath) as { token: string }).token;
      return res.data.token;
    });
    token.catch(() => {}); // the tests await `raw` for rejections
    return Object.assign(token, { abort: p.abort, raw: p as Promise<unknown> });
  };
  return { server, auth, logins, sent, call, fake: server.fake };
}

/** What a call rejected with (undefined if it resolved). */
type Failure = Error & { statusCode?: number; code?: string; errMsg?: string };
const caught = (p: Promise<unknown>) => p.then(() => ({ name: "resolved", message: "it resolved" }) as Failure, (e: Failure) => e);

beforeEach(() => {
  jest.useFakeTimers();
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('wx-login-kit')]; // a fresh app: no instance registered
});
afterEach(() => jest.useRealTimers());

describe('uploadFile and downloadFile', () => {
  it('uploadFile sends the file with the token and resolves the body as text and as parsed JSON', async () => {
    const { auth, sent } = setup();
    const res = await settle(auth.uploadFile<{ path: string; token: string }>({ url: '/api/avatar', filePath: 'wxfile://tmp_1.png', name: 'avatar', formData: { kind: 'avatar' } }));
    expect(res.statusCode).toBe(200);
    expect(typeof res.data).toBe('string');
    expect(res.json).toEqual({ path: '/api/avatar', token: 'tok-1' });
    expect(JSON.parse(res.data)).toEqual(res.json);
    const [req] = sent('/api/avatar');
    expect(req).toMatchObject({ kind: 'uploadFile', method: 'POST', header: { Authorization: 'Bearer tok-1' }, data: { filePath: 'wxfile://tmp_1.png', name: 'avatar', formData: { kind: 'avatar' } } });
  });

  it('uploadFile gives json undefined when the body is not JSON', async () => {
    const { auth, server } = setup();
    await settle(auth.login());
    server.handler = () => ({ statusCode: 200, data: 'OK' });
    const res = await settle(auth.uploadFile({ url: '/api/avatar', filePath: 'f', name: 'file' }));
    expect(res).toMatchObject({ data: 'OK', statusCode: 200 });
    expect(res.json).toBeUndefined();
  });

  it('downloadFile fetches with the token and resolves tempFilePath', async () => {
    const { auth, sent, fake } = setup();
    const res = await settle(auth.downloadFile({ url: '/api/files/1' }));
    expect(res.statusCode).toBe(200);
    expect(fake.state.files.get(res.tempFilePath)).toEqual({ path: '/api/files/1', token: 'tok-1' });
    expect(sent('/api/files/1')[0]).toMatchObject({ kind: 'downloadFile', method: 'GET', header: { Authorization: 'Bearer tok-1' } });
  });

  it.each(KINDS)('%s: a non-2xx rejects HTTPError, no answer rejects NetworkError', async (kind) => {
    const { server, call } = setup();
    server.handler = (req) => (req.url.endsWith('/auth/login') ? { statusCode: 200, data: { token: 't' } } : req.url.endsWith('/500') ? { statusCode: 500, data: 'boom' } : { fail: `${kind}:fail timeout` });
    const http = await settle(caught(call(kind, '/500').raw));
    expect(http).toBeInstanceOf(HTTPError);
    expect(http.statusCode).toBe(500);
    const net = await settle(caught(call(kind, '/x').raw));
    expect(net).toBeInstanceOf(NetworkError);
    expect(net.errMsg).toBe(`${kind}:fail timeout`);
  });

  it.each(KINDS)('%s: the token only for trusted origins; auth:false sends none; caller headers and timeout kept', async (kind) => {
    const { call, sent, logins } = setup();
    // The scripted server answers 401 to both (no token): what matters is what was sent.
    await settle(caught(call(kind, 'https://cdn.other.com/f', { header: { 'X-Trace': '1' }, timeout: 5000 }).raw));
    await settle(caught(call(kind, '/public', { auth: false }).raw));
    expect(logins()).toBe(0);
    expect(sent('cdn.other.com/f')[0]).toMatchObject({ header: { 'X-Trace': '1' }, timeout: 5000 });
    expect(sent('cdn.other.com/f')[0].header).toEqual({ 'X-Trace': '1' });
    expect(sent('/public')[0].header).toEqual({});
  });

  it.each(KINDS)('%s: progress and headers reach the caller', async (kind) => {
    const { call } = setup();
    const progress: number[] = [];
    const headers: unknown[] = [];
    await settle(call(kind, '/f', { onProgressUpdate: (r: { progress: number }) => progress.push(r.progress), onHeadersReceived: (r: unknown) => headers.push(r) }));
    expect(progress).toEqual([50, 100]);
    expect(headers).toEqual([{ header: {} }]);
  });
});

describe('401 semantics, the same for every call', () => {
  it.each(KINDS)('%s (a): retries at most once; a second 401 rejects HTTPError 401', async (kind) => {
    const { server, call, logins, sent } = setup();
    await settle(call(kind, '/warm'));
    server.rejectAll = true;
    const err = await settle(caught(call(kind, '/f').raw));
    expect(err).toBeInstanceOf(HTTPError);
    expect(err.statusCode).toBe(401);
    expect(err.message).toMatch(/still unauthorized after a new login$/);
    expect(logins()).toBe(2);
    expect(sent('/f')).toHaveLength(2); // an upload retried sends the file again
  });

  it.each(KINDS)('%s (b): retries with the current token, no new login, when another call already logged in again', async (kind) => {
    const { server, call, logins } = setup();
    await settle(call(kind, '/warm'));
    server.live.delete('tok-1');
    server.delays['/slow'] = 5000;
    const [slow, fast] = await settle(Promise.all([call(kind, '/slow'), call('request', '/fast')]));
    expect([slow, fast]).toEqual(['tok-2', 'tok-2']);
    expect(logins()).toBe(2);
  });

  it('(c) a mix of request, upload and download 401s for one token shares ONE re-login', async () => {
    const { server, call, logins, fake } = setup();
    await settle(call('request', '/warm'));
    server.live.delete('tok-1');
    const tokens = await settle(Promise.all([call('request', '/a'), call('uploadFile', '/b'), call('downloadFile', '/c'), call('uploadFile', '/d'), call('downloadFile', '/e')]));
    expect(tokens).toEqual(['tok-2', 'tok-2', 'tok-2', 'tok-2', 'tok-2']);
    expect(logins()).toBe(2);
    expect(fake.state.loginCalls).toBe(2);
  });

  it.each(KINDS)('%s (d): a failed re-login rejects LoginError with its cause; the next call tries again', async (kind) => {
    const { server, call, logins } = setup({ loginRetries: 0 });
    await settle(call(kind, '/warm'));
    server.live.delete('tok-1');
    server.loginReplies.push({ statusCode: 500, data: {} });
    const err = await settle(caught(call(kind, '/f').raw));
    expect(err).toBeInstanceOf(LoginError);
    expect(err.code).toBe('HTTP');
    await expect(settle(call(kind, '/f'))).resolves.toBe('tok-2');
    expect(logins()).toBe(3); // the first, the failed re-login, the next call's
  });

  it('(e) the re-login budget is shared by all calls: 3 a minute across request, upload and download', async () => {
    const { server, call, logins } = setup();
    await settle(call('request', '/warm'));
    server.rejectAll = true;
    for (const kind of ALL) await expect(settle(call(kind, '/f').raw)).rejects.toMatchObject({ name: 'HTTPError', statusCode: 401 });
    expect(logins()).toBe(4);
    for (const kind of ALL) await expect(settle(call(kind, '/f').raw)).rejects.toMatchObject({ name: 'LoginError', code: 'RELOGIN_LIMIT' });
    expect(logins()).toBe(4);
  });
});

describe('abort', () => {
  const aborted = (e: unknown) => expect(e).toBeInstanceOf(AbortError);

  it.each(ALL)('%s: aborted while waiting for the first login: rejects AbortError, sends nothing; the shared login goes on', async (kind) => {
    const { auth, call, sent, logins } = setup();
    const other = auth.request<{ token: string }>({ url: '/other' });
    const mine = call(kind, '/mine');
    mine.abort();
    const err = await caught(mine.raw); // at once: no timer had to run
    aborted(err);
    expect(err.message).toBe(`[wx-login-kit] ${kind === 'uploadFile' ? 'POST' : 'GET'} ${BASE}/mine aborted; nothing more was sent`);
    const res = await settle(other);
    expect(res.data.token).toBe('tok-1');
    expect(sent('/mine')).toHaveLength(0);
    expect(logins()).toBe(1);
  });

  it.each(ALL)('%s: aborted during a re-login after its 401: nothing is re-sent, the re-login still serves the others', async (kind) => {
    const { server, call, sent, logins } = setup();
    await settle(call('request', '/warm'));
    server.live.delete('tok-1');
    server.delays['/auth/login'] = 1000;
    const mine = call(kind, '/mine');
    const other = call('request', '/other');
    await jest.advanceTimersByTimeAsync(20); // both 401s are in, the re-login is under way
    expect(logins()).toBe(2);
    mine.abort();
    aborted(await caught(mine.raw));
    await expect(settle(other)).resolves.toBe('tok-2');
    expect(sent('/mine')).toHaveLength(1);
    expect(logins()).toBe(2);
  });

  it.each(ALL)('%s: aborted in the very turn its 401 arrives: no re-login starts, nothing is re-sent', async (kind) => {
    const { server, call, sent, logins, fake } = setup();
    await settle(call('request', '/warm'));
    server.live.delete('tok-1');
    const mine = call(kind, '/mine');
    // The app aborts in a microtask queued just after WeChat delivered the 401: before the kit reads it.
    const send = fake.wx[kind]!;
    fake.wx[kind] = ((o: { url: string; success(res: { statusCode: number }): void }) =>
      send.call(fake.wx, {
        ...o,
        success: (res: { statusCode: number }) => {
          o.success(res);
          if (o.url.endsWith('/mine')) queueMicrotask(() => mine.abort());
        },
      } as never)) as never;
    aborted(await settle(caught(mine.raw)));
    expect(sent('/mine')).toHaveLength(1);
    expect(logins()).toBe(1);
  });

  it.each(ALL)('%s: aborted in flight: the task is aborted, rejects AbortError, no login, no retry', async (kind) => {
    const { server, call, sent, logins } = setup();
    await settle(call('request', '/warm'));
    server.delays['/mine'] = 5000;
    const mine = call(kind, '/mine');
    await jest.advanceTimersByTimeAsync(100);
    expect(sent('/mine')).toHaveLength(1);
    mine.abort();
    aborted(await settle(caught(mine.raw)));
    expect(sent('/mine')).toHaveLength(1);
    expect(logins()).toBe(1);
  });

  it.each(ALL)('%s: aborted after it settled: nothing changes', async (kind) => {
    const { call } = setup();
    const mine = call(kind, '/mine');
    const token = await settle(mine);
    mine.abort();
    await expect(mine).resolves.toBe(token);
    await expect(mine.raw).resolves.toBeDefined();
  });

  it('aborting every caller of a login does not cancel it: the token still arrives', async () => {
    const { auth, call } = setup();
    const calls = [call('request', '/a'), call('uploadFile', '/b'), call('downloadFile', '/c')];
    for (const c of calls) c.abort();
    for (const c of calls) aborted(await caught(c.raw));
    await jest.runAllTimersAsync();
    expect(auth.token).toBe('tok-1');
  });

  it('a call queued behind 10 others and aborted is never sent, and its turn passes on', async () => {
    const { server, call, sent } = setup();
    await settle(call('request', '/warm'));
    server.delays['/slow'] = 1000;
    const slow = Array.from({ length: 10 }, (_, i) => call(i % 2 ? 'uploadFile' : 'downloadFile', '/slow'));
    const queued = call('request', '/queued');
    const after = call('request', '/after');
    await jest.advanceTimersByTimeAsync(0);
    queued.abort();
    aborted(await caught(queued.raw));
    await settle(Promise.all([...slow, after]));
    expect(sent('/queued')).toHaveLength(0);
    expect(sent('/after')).toHaveLength(1);
    expect(server.fake.state.maxActive).toBe(10);
  });
});


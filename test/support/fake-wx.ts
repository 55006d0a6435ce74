/**
 * A faithful fake of the slice of `wx` the kit uses, for unit tests where the platform is the
 * boundary: callbacks are asynchronous (setTimeout, so tests drive them with fake timers), codes
 * are single use and live 5 minutes, storage keeps WeChat's limits and can be told to throw, and
 * past 10 concurrent wx.request the rest wait their turn, as WeChat does since base library 1.4.0.
 */
import type { WxLike } from 'wx-login-kit';
import { createWxStorage } from '../../scripts/wx-storage';

export interface FakeRequest {
  url: string;
  method: string;
  data: unknown;
  header: Record<string, string>;
  /** Absent for wx.request. */
  kind?: 'uploadFile' | 'downloadFile';
  /** The call's `timeout`, when it had one. */
  timeout?: number;
}
export type Reply =
  | { statusCode: number; data?: unknown; header?: Record<string, string>; delay?: number }
  | { fail: string; errno?: number; delay?: number };
export type Handler = (req: FakeRequest) => Reply | Promise<Reply>;

const CODE_TTL_MS = 5 * 60_000;
const MAX_REQUESTS = 10;

export function createFakeWx(handler: Handler, latency = 10) {
  // Each code carries the session_key WeChat issued with it; the latest one encrypts what a button hands over.
  const codes = new Map<string, { at: number; used: boolean; sessionKey: string }>();
  let latestSessionKey = '';
  const storage = createWxStorage();
  const showListeners = new Set<(res: unknown) => void>();
  let nextCode = 1;
  let active = 0;
  const queued: Array<() => void> = [];
  const state = {
    loginCalls: 0,
    loginFailures: 0, // the next N wx.login calls fail
    requests: [] as FakeRequest[],
    maxActive: 0,
    /** What each downloaded temporary file holds. */
    files: new Map<string, unknown>(),
    /** wx.getPrivacySetting's answer: has the user still to agree to the privacy guide? */
    needPrivacyAuthorization: false,
  };

  let nextFile = 0;
  let privacyListener: ((resolve: (res: { event: 'agree' | 'disagree'; buttonId?: string }) => void, info: { referrer: string }) => void) | undefined;
  const clone = (v: unknown) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

  /**
   * One network call of any kind, as WeChat runs them: at most 10 at once across request,
   * uploadFile and downloadFile (the rest wait), asynchronous callbacks, and a task with abort()
   * (fail `<kind>:fail abort`; a no-op once settled), onProgressUpdate (a progress event at 50%
   * and 100% for uploads and downloads) and onHeadersReceived.
   */
  function send(
    kind: 'request' | 'uploadFile' | 'downloadFile',
    opts: { success?: (res: never) => void; fail?: (err: never) => void },
    req: FakeRequest,
    answer: (reply: Extract<Reply, { statusCode: number }>) => object,
  ) {
    const progress = new Set<(res: object) => void>();
    const headers = new Set<(res: object) => void>();
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let started = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (started) {
        active--;
        queued.shift()?.();
      }
      fn();
    };
    const fail = (errMsg: string, errno: number) => finish(() => opts.fail?.({ errMsg, errno } as never));
    const task = {
      abort: () => {
        if (timer) clearTimeout(timer);
        fail(`${kind}:fail abort`, 1);
      },
      onProgressUpdate: (l: (res: object) => void) => void progress.add(l),
      onHeadersReceived: (l: (res: object) => void) => void headers.add(l),
    };
    const start = () => {
      if (settled) return void queued.shift()?.(); // aborted while queued: never sent; its turn passes on
      started = true;
      active++;
      state.maxActive = Math.max(state.maxActive, active);
      state.requests.push(req);
      void Promise.resolve(handler(req)).then((reply) => {
        if (settled) return;
        const total = 1000;
        const sent = kind === 'uploadFile' ? 'totalBytesSent' : 'totalBytesWritten';
        const expected = kind === 'uploadFile' ? 'totalBytesExpectedToSend' : 'totalBytesExpectedToWrite';
        const delay = reply.delay ?? latency;
        if (kind !== 'request') {
          for (const l of progress) l({ progress: 50, [sent]: total / 2, [expected]: total });
        }
        timer = setTimeout(() => {
          if ('fail' in reply) return fail(reply.fail, reply.errno ?? 5);
          for (const l of headers) l({ header: reply.header ?? {} });
          if (kind !== 'request') for (const l of progress) l({ progress: 100, [sent]: total, [expected]: total });
          finish(() => opts.success?.(answer(reply) as never));
        }, delay);
      });
    };
    const timeout = (opts as { timeout?: number }).timeout;
    if (timeout) req.timeout = timeout;
    if (active >= MAX_REQUESTS) queued.push(start);
    else start();
    return task;
  }

  const wx = {
    login(opts: WechatMiniprogram.LoginOption) {
      state.loginCalls++;
      const fail = state.loginFailures > 0;
      if (fail) state.loginFailures--;
      setTimeout(() => {
        if (fail) return opts.fail?.({ errMsg: 'login:fail timeout', errno: 1 } as WechatMiniprogram.LoginFailCallbackErr);
        const n = nextCode++;
        const code = `code-${n}`;
        latestSessionKey = `sk-${n}`;
        codes.set(code, { at: Date.now(), used: false, sessionKey: latestSessionKey });
        opts.success?.({ code, errMsg: 'login:ok' });
      }, latency);
    },

    request(opts: WechatMiniprogram.RequestOption) {
      return send('request', opts, { url: opts.url, method: (opts.method ?? 'GET').toUpperCase(), data: clone(opts.data), header: { ...(opts.header ?? {}) } }, (reply) => ({
        // wx.request hands a JSON body over parsed and anything else as text.
        data: reply.data === undefined ? '' : clone(reply.data),
        statusCode: reply.statusCode,
        header: reply.header ?? {},
        cookies: [],
        errMsg: 'request:ok',
      }));
    },

    /** Sends `{filePath, name, formData}` as the request's data; answers the body as TEXT, as WeChat does. */
    uploadFile(opts: WechatMiniprogram.UploadFileOption) {
      const data = { filePath: opts.filePath, name: opts.name, formData: clone(opts.formData) };
      return send('uploadFile', opts, { url: opts.url, method: 'POST', data, header: { ...(opts.header ?? {}) }, kind: 'uploadFile' }, (reply) => ({
        data: reply.data === undefined ? '' : typeof reply.data === 'string' ? reply.data : JSON.stringify(reply.data),
        statusCode: reply.statusCode,
        errMsg: 'uploadFile:ok',
      }));
    },

    /** Answers a temporary file path holding the body (kept in `state.files`). */
    downloadFile(opts: WechatMiniprogram.DownloadFileOption) {
      return send('downloadFile', opts, { url: opts.url, method: 'GET', data: undefined, header: { ...(opts.header ?? {}) }, kind: 'downloadFile' }, (reply) => {
        const tempFilePath = `wxfile://tmp_${++nextFile}`;
        state.files.set(tempFilePath, reply.data);
        return { tempFilePath, statusCode: reply.statusCode, errMsg: 'downloadFile:ok' };
      });
    },

    /** Base library 2.32.3+: `{needAuthorization, privacyContractName}`, asynchronously. */
    getPrivacySetting(opts: { success?: (res: { needAuthorization: boolean; privacyContractName: string }) => void }) {
      const needAuthorization = state.needPrivacyAuthorization;
      setTimeout(() => opts.success?.({ needAuthorization, privacyContractName: '《demo 小程序隐私保护指引》' }), latency);
    },
    /** The app's own popup: called when a privacy API needs the user's agreement. */
    onNeedPrivacyAuthorization(listener: (resolve: (res: { event: 'agree' | 'disagree'; buttonId?: string }) => void, info: { referrer: string }) => void) {
      privacyListener = listener;
    },
    /** Asks for agreement through the app's listener when needed; fails 104 on disagree or with no listener. */
    requirePrivacyAuthorize(opts: { success?: (res: object) => void; fail?: (err: object) => void }) {
      const fail = () => opts.fail?.({ errMsg: 'requirePrivacyAuthorize:fail privacy permission is not authorized', errno: 104 });
      if (!state.needPrivacyAuthorization) return void setTimeout(() => opts.success?.({ errMsg: 'requirePrivacyAuthorize:ok' }), latency);
      if (!privacyListener) return void setTimeout(fail, latency);
      privacyListener((res) => {
        if (res.event !== 'agree') return fail();
        state.needPrivacyAuthorization = false;
        opts.success?.({ errMsg: 'requirePrivacyAuthorize:ok' });
      }, { referrer: 'requirePrivacyAuthorize' });
    },
    getStorageSync: storage.getStorageSync,
    setStorageSync: storage.setStorageSync,
    removeStorageSync: storage.removeStorageSync,
    onAppShow(listener: (res: unknown) => void) {
      showListeners.add(listener);
    },
    offAppShow(listener: (res: unknown) => void) {
      showListeners.delete(listener);
    },
  };

  return {
    wx: wx as unknown as WxLike & Pick<typeof wx, 'getPrivacySetting' | 'onNeedPrivacyAuthorization' | 'requirePrivacyAuthorize'>,
    state,
    /** WeChat-like storage; set `storage.throws` to make setStorageSync fail. */
    storage,
    /** What WeChat's code2Session would say about a code; marks it used. */
    exchange(code: unknown): { verdict: 'ok' | 'invalid' | 'used'; sessionKey?: string } {
      const c = typeof code === 'string' ? codes.get(code) : undefined;
      if (!c || Date.now() - c.at > CODE_TTL_MS) return { verdict: 'invalid' };
      if (c.used) return { verdict: 'used' };
      c.used = true;
      return { verdict: 'ok', sessionKey: c.sessionKey };
    },
    /** What a legacy open-type button hands over: data "encrypted" with the latest session_key. */
    legacyDetail(kind = 'getUserInfo') {
      return { errMsg: `${kind}:ok`, encryptedData: `enc:${latestSessionKey}`, iv: 'iv-1' };
    },
    /** The app comes back to the foreground. */
    show() {
      for (const l of [...showListeners]) l({ path: 'pages/index/index', scene: 1001 });
    },
    showListenerCount: () => showListeners.size,
  };
}

/**
 * A scripted developer server for unit tests: POST /auth/login exchanges a single-use code for
 * `tok-N`; POST /auth/logout ends the session of the token it carries, /auth/logout-all every
 * session; every other path on the server needs a live token. With `inband`, it speaks the server
 * half's in-band contract: a request with `X-WX-Login-Code` and no Authorization logs in on the
 * way (401 `invalid_code` for a used or unknown code) and its answer carries `X-WX-Token` and
 * `X-WX-Token-Expires-In`; a token in `renew` gets its successor in those headers of its next 2xx
 * answer and stays live (its grace). Knobs script the ugly cases.
 */
export function createScriptedServer() {
  const live = new Set<string>();
  let n = 0;
  const server = {
    live,
    expiresIn: 3600 as number | undefined,
    /** Replies to the next login POSTs instead of a token, one per call. */
    loginReplies: [] as Reply[],
    /** Replies to the next POST /auth/phone or /auth/profile, one per call. */
    phoneReplies: [] as Reply[],
    /** Reject every token, even fresh ones. */
    rejectAll: false,
    /** Per-path delay in ms, to order answers. */
    delays: {} as Record<string, number>,
    /** Log in on the way when a request carries X-WX-Login-Code and no Authorization. */
    inband: false,
    /** Tokens whose next 2xx answer carries a successor (in-band renewal). */
    renew: new Set<string>(),
    /** Requests that carried a login code, and the number of codes the server exchanged on the way. */
    inbandLogins: 0,
    fake: null as unknown as ReturnType<typeof createFakeWx>,
    handler: (req: FakeRequest): Reply => {
      const path = req.url.replace(/^https?:\/\/[^/]+/, '').replace(/\?.*$/, '');
      const delay = server.delays[path];
      if (path === '/auth/login') {
        const scripted = server.loginReplies.shift();
        if (scripted) return scripted;
        const { verdict } = server.fake.exchange((req.data as { code?: unknown })?.code);
        if (verdict !== 'ok') return { statusCode: 401, data: { error: 'invalid_code' } };
        const token = `tok-${++n}`;
        live.add(token);
        return { statusCode: 200, data: server.expiresIn ? { token, expiresIn: server.expiresIn } : { token } };
      }
      if (path === '/auth/phone' || path === '/auth/profile') {
        const scripted = server.phoneReplies.shift();
        if (scripted) return { ...scripted, delay: scripted.delay ?? delay };
        const body = req.data as { code?: unknown; phoneCode?: unknown; encryptedData?: unknown };
        // A logged-in user's phone code, bound to the session of the token it came with.
        if (body.code === undefined && body.phoneCode !== undefined) {
          if (!live.has((req.header.Authorization ?? '').replace(/^Bearer /, ''))) return { statusCode: 401, data: { error: 'invalid_token' }, delay };
          return { statusCode: 200, data: { phoneNumber: '+86 13800138000', purePhoneNumber: '13800138000', countryCode: '86' }, delay };
        }
        const { verdict, sessionKey } = server.fake.exchange(body.code);
        if (verdict !== 'ok') return { statusCode: 401, data: { error: 'invalid_code' }, delay };
        if (body.encryptedData !== undefined && body.encryptedData !== `enc:${sessionKey}`) {
          return { statusCode: 400, data: { error: 'decrypt_failed' }, delay };
        }
        const token = `tok-${++n}`;
        live.add(token);
        return { statusCode: 200, data: { token, expiresIn: 7200, phoneNumber: '+86 13800138000', purePhoneNumber: '13800138000', countryCode: '86' }, delay };
      }
      const auth = req.header.Authorization ?? '';
      const code = Object.entries(req.header).find(([k]) => k.toLowerCase() === 'x-wx-login-code')?.[1];
      const mint = () => {
        const next = `tok-${++n}`;
        live.add(next);
        return { 'X-WX-Token': next, 'X-WX-Token-Expires-In': String(server.expiresIn ?? 7200) };
      };
      if (server.inband && !auth && code !== undefined) {
        server.inbandLogins++;
        if (server.fake.exchange(code).verdict !== 'ok') return { statusCode: 401, data: { error: 'invalid_code' }, delay };
        const header = mint();
        return { statusCode: 200, data: { path, token: header['X-WX-Token'] }, header, delay };
      }
      const token = auth.replace(/^Bearer /, '');
      if (server.rejectAll || !live.has(token)) return { statusCode: 401, data: { error: 'invalid_token' }, delay };
      // The server half's session routes: this session, or every one (the fake has one user).
      if (path === '/auth/logout') {
        live.delete(token);
        return { statusCode: 200, data: { ok: true }, delay };
      }
      if (path === '/auth/logout-all') {
        const revoked = live.size;
        live.clear();
        return { statusCode: 200, data: { revoked }, delay };
      }
      if (server.renew.delete(token)) return { statusCode: 200, data: { path, token }, header: mint(), delay };
      return { statusCode: 200, data: { path, token }, delay };
    },
  };
  server.fake = createFakeWx((req) => server.handler(req));
  return server;
}

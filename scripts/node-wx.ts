/**
 * A `wx` for running the demo app in Node: `wx.login` asks the WeChat API emulator for a code
 * (as WeChat's client would), `wx.request` does real HTTP, storage keeps WeChat's limits.
 * Callbacks are asynchronous and follow WeChat's contract: `request` calls `success` for every
 * HTTP status and `fail` only when there was no answer.
 */
import { createWxStorage } from './wx-storage';

export type WxTrace =
  | { kind: 'wx.login'; code?: string; errMsg: string }
  | { kind: 'wx.request'; method: string; url: string; statusCode?: number; errMsg?: string; authorized: boolean; data?: unknown };

export interface NodeWxOptions {
  /** Base URL of the WeChat API emulator. */
  emulatorBase: string;
  appid: string;
  /** The simulated WeChat user. */
  user: string;
  /** What `wx.getExtConfigSync()` returns (the demo reads its baseURL there). */
  extConfig?: Record<string, unknown>;
  onTrace?: (event: WxTrace) => void;
}

const MAX_REQUESTS = 10;

export function createNodeWx(opts: NodeWxOptions) {
  const storage = createWxStorage();
  const showListeners = new Set<(res: unknown) => void>();
  const counts = { login: 0, request: 0 };
  let active = 0;
  const queued: Array<() => void> = [];
  const trace = (e: WxTrace) => opts.onTrace?.(e);

  async function fetchJSON(url: string, init: RequestInit, timeoutMs: number) {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let data: unknown = text;
    try {
      data = text ? JSON.parse(text) : text;
    } catch {
      // wx.request hands non-JSON bodies over as text.
    }
    const header: Record<string, string> = {};
    res.headers.forEach((v, k) => (header[k] = v));
    return { data, statusCode: res.status, header, cookies: res.headers.getSetCookie() };
  }

  const wx = {
    login(o: WechatMiniprogram.LoginOption) {
      counts.login++;
      fetchJSON(`${opts.emulatorBase}/emulator/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ appid: opts.appid, user: opts.user }),
      }, o.timeout ?? 10_000).then(
        (res) => {
          const code = (res.data as { code?: string }).code;
          if (res.statusCode !== 200 || !code) throw new Error(`emulator answered ${res.statusCode}`);
          trace({ kind: 'wx.login', code, errMsg: 'login:ok' });
          o.success?.({ code, errMsg: 'login:ok' });
        },
      ).catch((err: Error) => {
        const errMsg = `login:fail ${err.message}`;
        trace({ kind: 'wx.login', errMsg });
        o.fail?.({ errMsg, errno: 1 } as WechatMiniprogram.LoginFailCallbackErr);
      });
    },

    request(o: WechatMiniprogram.RequestOption) {
      const method = (o.method ?? 'GET').toUpperCase();
      const header = { ...(o.header ?? {}) } as Record<string, string>;
      const authorized = Object.keys(header).some((k) => k.toLowerCase() === 'authorization');
      const fail = (errMsg: string, errno: number) => {
        trace({ kind: 'wx.request', method, url: o.url, errMsg, authorized, data: o.data });
        o.fail?.({ errMsg, errno } as WechatMiniprogram.RequestFailCallbackErr);
      };
      // Past 10 in flight WeChat queues the rest (base library 1.4.0+).
      if (active >= MAX_REQUESTS) {
        queued.push(() => wx.request(o));
        return;
      }
      counts.request++;
      active++;
      let body: string | undefined;
      if (o.data !== undefined && method !== 'GET') {
        body = typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
        if (!Object.keys(header).some((k) => k.toLowerCase() === 'content-type')) header['content-type'] = 'application/json';
      }
      fetchJSON(o.url, { method, headers: header, body }, o.timeout ?? 60_000)
        .then(
          (res) => {
            active--;
            queued.shift()?.();
            trace({ kind: 'wx.request', method, url: o.url, statusCode: res.statusCode, authorized, data: o.data });
            o.success?.({ ...res, errMsg: 'request:ok' } as unknown as WechatMiniprogram.RequestSuccessCallbackResult);
          },
          (err: Error) => {
            active--;
            queued.shift()?.();
            fail(err.name === 'TimeoutError' ? 'request:fail timeout' : `request:fail ${err.message}`, 600001);
          },
        );
    },

    getStorageSync: storage.getStorageSync,
    setStorageSync: storage.setStorageSync,
    removeStorageSync: storage.removeStorageSync,
    getExtConfigSync: () => ({ ...(opts.extConfig ?? {}) }),
    onAppShow: (l: (res: unknown) => void) => showListeners.add(l),
    offAppShow: (l: (res: unknown) => void) => showListeners.delete(l),
  };

  return {
    wx,
    storage,
    counts,
    /**
     * What WeChat hands an open-type button when the user allows, e.g. getPhoneNumber's
     * `{code, encryptedData, iv}`, encrypted with the session_key of the user's latest wx.login.
     */
    async openData(kind: 'getPhoneNumber' | 'getRealtimePhoneNumber' | 'getUserInfo'): Promise<Record<string, unknown>> {
      const res = await fetchJSON(`${opts.emulatorBase}/emulator/open-data`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ appid: opts.appid, user: opts.user, kind }),
      }, 10_000);
      if (res.statusCode !== 200) throw new Error(`emulator open-data answered ${res.statusCode}`);
      return res.data as Record<string, unknown>;
    },
    /** The app comes back to the foreground. */
    show() {
      for (const l of [...showListeners]) l({ path: 'pages/index/index', scene: 1001 });
    },
  };
}

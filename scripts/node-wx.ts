/**
 * A `wx` for running the demo app in Node: `wx.login` asks the WeChat API emulator for a code
 * (as WeChat's client would), `wx.request` does real HTTP, storage keeps WeChat's limits.
 * Callbacks are asynchronous and follow WeChat's contract: `request` calls `success` for every
 * HTTP status and `fail` only when there was no answer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createWxStorage } from './wx-storage';

export type WxTrace =
  | { kind: 'wx.login'; code?: string; errMsg: string }
  | { kind: 'sent'; api: 'request' | 'uploadFile' | 'downloadFile'; url: string }
  | {
      kind: 'wx.request';
      api: 'request' | 'uploadFile' | 'downloadFile';
      method: string;
      url: string;
      statusCode?: number;
      errMsg?: string;
      /** Sent with an Authorization header. */
      authorized: boolean;
      /** Sent with a wx.login code in X-WX-Login-Code (an in-band login). */
      loginCode: boolean;
      data?: unknown;
    };

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

/**
 * An HTTP answer as the platforms hand it (wx.request, tt.request, my.request): the body parsed as
 * JSON when it is JSON (dataType 'json'), else as text; the headers; the Set-Cookie values.
 */
export async function fetchAnswer(url: string, init: RequestInit, timeoutMs: number): Promise<{ status: number; headers: Record<string, string>; cookies: string[]; data: unknown }> {
  const signal = init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  const res = await fetch(url, { ...init, signal });
  const text = await res.text();
  let data: unknown = text;
  try {
    data = text ? JSON.parse(text) : text;
  } catch {
    // Not JSON: handed over as text.
  }
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k] = v));
  return { status: res.status, headers, cookies: res.headers.getSetCookie(), data };
}

export function createNodeWx(opts: NodeWxOptions) {
  const storage = createWxStorage();
  const showListeners = new Set<(res: unknown) => void>();
  const counts = { login: 0, request: 0, uploadFile: 0, downloadFile: 0 };
  /** What wx.getPrivacySetting answers: has the user still to agree to the privacy guide? */
  const privacy = { needAuthorization: false };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wx-login-kit-demo-'));
  let nextFile = 0;
  let active = 0;
  const queued: Array<() => void> = [];
  const trace = (e: WxTrace) => opts.onTrace?.(e);

  async function fetchJSON(url: string, init: RequestInit, timeoutMs: number) {
    const { status, headers, cookies, data } = await fetchAnswer(url, init, timeoutMs);
    return { data, statusCode: status, header: headers, cookies };
  }

  /**
   * One network call as WeChat runs it: at most 10 at once across request, uploadFile and
   * downloadFile (the rest wait their turn), `success` for every HTTP status, `fail` only when
   * there was no answer, and a task with `abort()` (fail `<api>:fail abort`) and `onProgressUpdate`.
   */
  function call(
    api: 'request' | 'uploadFile' | 'downloadFile',
    o: { url: string; data?: unknown; success?: (res: never) => void; fail?: (err: never) => void },
    method: string,
    header: Record<string, string>,
    send: (signal: AbortSignal, progress: (res: object) => void) => Promise<{ statusCode: number }>,
  ) {
    const authorized = Object.keys(header).some((k) => k.toLowerCase() === 'authorization');
    const loginCode = Object.keys(header).some((k) => k.toLowerCase() === 'x-wx-login-code');
    const controller = new AbortController();
    const listeners = new Set<(res: object) => void>();
    let settled = false;
    let started = false;
    const done = () => {
      settled = true;
      if (started) {
        active--;
        queued.shift()?.();
      }
    };
    const fail = (errMsg: string) => {
      if (settled) return;
      done();
      trace({ kind: 'wx.request', api, method, url: o.url, errMsg, authorized, loginCode, data: o.data });
      o.fail?.({ errMsg, errno: 600001 } as never);
    };
    const start = () => {
      if (settled) return void queued.shift()?.();
      started = true;
      active++;
      counts[api]++;
      const answered = send(controller.signal, (res) => listeners.forEach((l) => l(res)));
      // The call has left (fetch started): no answer can have come back yet.
      trace({ kind: 'sent', api, url: o.url });
      answered.then(
        (res) => {
          if (settled) return;
          done();
          trace({ kind: 'wx.request', api, method, url: o.url, statusCode: res.statusCode, authorized, loginCode, data: o.data });
          o.success?.(res as never);
        },
        (err: Error) => fail(controller.signal.aborted ? `${api}:fail abort` : err.name === 'TimeoutError' ? `${api}:fail timeout` : `${api}:fail ${err.message}`),
      );
    };
    // Past 10 in flight WeChat queues the rest (base library 1.4.0+).
    if (active >= MAX_REQUESTS) queued.push(start);
    else start();
    return {
      abort() {
        controller.abort();
        if (!started) fail(`${api}:fail abort`);
      },
      onProgressUpdate: (l: (res: object) => void) => void listeners.add(l),
      onHeadersReceived: () => undefined,
    };
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
      let body: string | undefined;
      if (o.data !== undefined && method !== 'GET') {
        body = typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
        if (!Object.keys(header).some((k) => k.toLowerCase() === 'content-type')) header['content-type'] = 'application/json';
      }
      return call('request', o, method, header, async (signal) => {
        const res = await fetchJSON(o.url, { method, headers: header, body, signal }, o.timeout ?? 60_000);
        return { ...res, errMsg: 'request:ok' };
      });
    },

    /** A real multipart POST of the file at `filePath` (field `name`) plus `formData`; `data` is the body as text. */
    uploadFile(o: WechatMiniprogram.UploadFileOption) {
      const header = { ...(o.header ?? {}) } as Record<string, string>;
      return call('uploadFile', o, 'POST', header, async (signal, progress) => {
        const form = new FormData();
        for (const [k, v] of Object.entries(o.formData ?? {})) form.append(k, String(v));
        const bytes = fs.readFileSync(o.filePath);
        const type = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' }[path.extname(o.filePath).toLowerCase()] ?? 'application/octet-stream';
        form.append(o.name, new Blob([new Uint8Array(bytes)], { type }), path.basename(o.filePath));
        const res = await fetch(o.url, { method: 'POST', headers: header, body: form, signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeout ?? 60_000)]) });
        progress({ progress: 100, totalBytesSent: bytes.length, totalBytesExpectedToSend: bytes.length });
        return { data: await res.text(), statusCode: res.status, errMsg: 'uploadFile:ok' };
      });
    },

    /** A real GET saved to a temporary file; progress as the body arrives. */
    downloadFile(o: WechatMiniprogram.DownloadFileOption) {
      const header = { ...(o.header ?? {}) } as Record<string, string>;
      return call('downloadFile', o, 'GET', header, async (signal, progress) => {
        const res = await fetch(o.url, { headers: header, signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeout ?? 60_000)]) });
        const total = Number(res.headers.get('content-length') ?? 0);
        const chunks: Uint8Array[] = [];
        let written = 0;
        for await (const chunk of (res.body ?? []) as unknown as AsyncIterable<Uint8Array>) {
          chunks.push(chunk as Uint8Array);
          written += (chunk as Uint8Array).length;
          progress({ progress: total ? Math.round((written / total) * 100) : 0, totalBytesWritten: written, totalBytesExpectedToWrite: total });
        }
        const tempFilePath = o.filePath ?? path.join(tmp, `tmp_${++nextFile}`);
        fs.writeFileSync(tempFilePath, Buffer.concat(chunks));
        return { tempFilePath, ...(o.filePath ? { filePath: o.filePath } : {}), statusCode: res.status, errMsg: 'downloadFile:ok' };
      });
    },

    /** Base library 2.32.3+; answered asynchronously, as WeChat does. */
    getPrivacySetting(o: { success?: (res: { needAuthorization: boolean; privacyContractName: string }) => void }) {
      void Promise.resolve().then(() => o.success?.({ needAuthorization: privacy.needAuthorization, privacyContractName: '《wx-login-kit demo 隐私保护指引》' }));
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
    privacy,
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

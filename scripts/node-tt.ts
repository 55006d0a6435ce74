/**
 * A Douyin `tt` for running a BUILT mini program in Node (npm run check:examples): `tt.login` gets
 * a code from the Douyin emulator (as Douyin's client would from its server), `tt.request` does
 * real HTTP, storage is WeChat-shaped. Shaped as @douyin-microapp/typings 1.3.1 declares it (the
 * types below are read from it), with asynchronous callbacks:
 * - tt.login({force?}) -> success {errMsg: 'login:ok', code, anonymousCode, isLogin}; fail {errMsg, errNo?}
 *   (api/login.d.ts, api/types.d.ts; no `timeout` option);
 * - tt.request({url, header, method, data, dataType}) -> success {errMsg, statusCode, header, data}
 *   for EVERY HTTP status, as WeChat's; fail {errMsg, errNo?} only when there was no answer; a
 *   task with abort() (api/request.d.ts). Content-type defaults to application/json; data of a
 *   GET/HEAD/DELETE/OPTIONS goes into the query string;
 * - tt.get/set/removeStorageSync(key[, data]) positional, 1 MB a key (api/storage.d.ts);
 * - tt.getEnvInfoSync().microapp.appId (api/get-env-info-sync.d.ts), tt.getExtConfigSync(),
 *   tt.onAppShow / tt.offAppShow.
 * Only what the examples call: no uploadFile/downloadFile here.
 */
import type { getEnvInfoSync } from '@douyin-microapp/typings/api/get-env-info-sync';
import type { login } from '@douyin-microapp/typings/api/login';
import type { request } from '@douyin-microapp/typings/api/request';
import { fetchAnswer } from './node-wx';
import { createWxStorage } from './wx-storage';

/** One call the platform made, as the check counts them. */
export type PlatformTrace =
  | { kind: 'login'; api: string; code?: string; error?: string }
  /** my.getPhoneNumber handed over a response. */
  | { kind: 'phone'; api: string }
  | {
      kind: 'request';
      api: string;
      method: string;
      url: string;
      /** The HTTP status, when there was an answer. */
      status?: number;
      /** What `fail` got, when it was called. */
      error?: string;
      /** Sent with an Authorization header. */
      authorized: boolean;
      /** The body sent, as the app passed it. */
      data?: unknown;
    };

export interface NodePlatformOptions {
  appid: string;
  /** The simulated user. */
  user: string;
  /** What `getExtConfigSync()` returns (the examples read their baseURL there). */
  extConfig?: Record<string, unknown>;
  onTrace?: (event: PlatformTrace) => void;
}

/** `url` and `body` of a request: data of a method without a body goes into the query string. */
export function encodeRequest(url: string, method: string, data: unknown, headers: Record<string, string>): { url: string; body?: string } {
  if (data === undefined || data === null) return { url };
  if (['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(method)) {
    if (typeof data !== 'object') return { url };
    const query = new URLSearchParams(Object.entries(data as Record<string, unknown>).map(([k, v]) => [k, String(v)])).toString();
    return { url: query ? `${url}${url.includes('?') ? '&' : '?'}${query}` : url };
  }
  const type = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
  if (typeof data === 'string') return { url, body: data };
  if (type.includes('x-www-form-urlencoded')) return { url, body: new URLSearchParams(data as Record<string, string>).toString() };
  return { url, body: JSON.stringify(data) };
}

type LoginOption = Parameters<typeof login>[0];
type RequestOption = Parameters<typeof request>[0];
type EnvInfo = ReturnType<typeof getEnvInfoSync>;

/** `codeOf` plays Douyin's server: the emulator's `login(appid, user)` (emulator/douyin.ts). */
export function createNodeTt(opts: NodePlatformOptions, codeOf: (appid: string, user: string) => { code: string; anonymousCode: string }) {
  const storage = createWxStorage();
  const shows = new Set<(res: unknown) => void>();
  const trace = (e: PlatformTrace) => opts.onTrace?.(e);
  const later = (fn: () => void) => void setImmediate(fn);

  const tt = {
    login(o: LoginOption): void {
      later(() => {
        try {
          const { code, anonymousCode } = codeOf(opts.appid, opts.user);
          trace({ kind: 'login', api: 'tt.login', code });
          o.success?.({ errMsg: 'login:ok', code, anonymousCode, isLogin: true });
        } catch (err) {
          const errMsg = `login:fail ${(err as Error).message}`;
          trace({ kind: 'login', api: 'tt.login', error: errMsg });
          o.fail?.({ errMsg });
        }
      });
    },

    request(o: RequestOption): { abort(): void } {
      const method = (o.method ?? 'GET').toUpperCase();
      const header = { ...((o.header as Record<string, string>) ?? {}) };
      if (!Object.keys(header).some((k) => k.toLowerCase() === 'content-type')) header['content-type'] = 'application/json';
      const authorized = Object.keys(header).some((k) => k.toLowerCase() === 'authorization');
      const { url, body } = encodeRequest(o.url, method, o.data, header);
      const controller = new AbortController();
      let settled = false;
      const fail = (errMsg: string) => {
        if (settled) return;
        settled = true;
        trace({ kind: 'request', api: 'tt.request', method, url: o.url, error: errMsg, authorized, data: o.data });
        o.fail?.({ errMsg });
      };
      fetchAnswer(url, { method, headers: header, body, signal: controller.signal }, 60_000).then(
        (res) => {
          if (settled) return;
          settled = true;
          trace({ kind: 'request', api: 'tt.request', method, url: o.url, status: res.status, authorized, data: o.data });
          o.success?.({ errMsg: 'request:ok', statusCode: res.status, header: res.headers, data: res.data as object });
        },
        (err: Error) => fail(controller.signal.aborted ? 'request:fail abort' : `request:fail ${err.message}`),
      );
      return {
        abort() {
          controller.abort();
          later(() => fail('request:fail abort'));
        },
      };
    },

    getStorageSync: storage.getStorageSync,
    setStorageSync: storage.setStorageSync,
    removeStorageSync: storage.removeStorageSync,
    getEnvInfoSync: (): EnvInfo => ({
      microapp: { mpVersion: '1.0.0', envType: 'development', appId: opts.appid },
      plugin: {},
      common: { USER_DATA_PATH: 'ttfile://user', location: undefined, launchFrom: undefined, schema: undefined },
    }),
    getExtConfigSync: () => ({ ...(opts.extConfig ?? {}) }),
    onAppShow: (l: (res: unknown) => void) => void shows.add(l),
    offAppShow: (l: (res: unknown) => void) => void shows.delete(l),
  };
  return { tt, storage };
}

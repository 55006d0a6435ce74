/**
 * An Alipay `my` for running a BUILT mini program in Node (npm run check:examples):
 * `my.getAuthCode` gets an auth code from the Alipay emulator (as Alipay's client would from its
 * server), `my.request` does real HTTP. Shaped as @mini-types/my 3.0.14 (lib.my.d.ts) and Alipay's
 * docs say, with asynchronous callbacks (the same shapes as test/support/fake-my.ts):
 * - my.getAuthCode({scopes}) -> success {authCode, authErrorScopes, authSuccessScopes};
 *   fail {error, errorMessage} (https://opendocs.alipay.com/mini/api/openapi-authorize);
 * - my.request({url, method, data, headers (or header), timeout = 30000, dataType = 'json'}) ->
 *   success {data, status, headers, statusCode, header} for a 2xx; an HTTP error status goes to
 *   `fail` as {error: 19, errorMessage: 'http status error', status, data, headers}; a body that is
 *   not JSON under dataType 'json' fails {error: 14, errorMessage: 'JSON parse data error'}; no
 *   answer {error: 12 (network) | 13 (timeout) | 9 (abort), errorMessage}
 *   (https://opendocs.alipay.com/mini/api/owycmh, its error code table and FAQ);
 * - storage in object form: getStorageSync({key}) -> {data} (null when missing),
 *   setStorageSync({key, data}) -> {success: true}, over 200 KB a key {success: false, error: 14,
 *   errorMessage} and no throw (https://opendocs.alipay.com/mini/api/cog0du);
 * - my.getPhoneNumber({success, fail}) -> success {response}: the string the Alipay emulator's
 *   phoneResponse seals for the user (https://opendocs.alipay.com/mini/api/getphonenumber);
 * - my.getAccountInfoSync().miniProgram.appId, my.getExtConfigSync(), my.onAppShow / offAppShow.
 * Only what the examples call: no uploadFile/downloadFile here.
 */
import { fetchAnswer } from './node-wx';
import { encodeRequest, type NodePlatformOptions } from './node-tt';

const KEY_LIMIT = 200 * 1024;

type Fail = { error: number; errorMessage: string; status?: number; data?: unknown; headers?: Record<string, string> };
interface GetAuthCodeOption {
  scopes?: string | string[];
  success?(res: { authCode: string; authErrorScopes: Record<string, string>; authSuccessScopes: string[] }): void;
  fail?(err: Fail): void;
}
interface RequestOption {
  url: string;
  method?: string;
  data?: unknown;
  headers?: Record<string, string>;
  header?: Record<string, string>;
  timeout?: number;
  dataType?: 'json' | 'text' | 'base64' | 'arraybuffer';
  success?(res: { data: unknown; status: number; headers: Record<string, string>; statusCode: number; header: Record<string, string> }): void;
  fail?(err: Fail): void;
}

/**
 * `authCodeOf` plays Alipay's server: the emulator's `authCode(appId, user)` (emulator/alipay.ts);
 * `phoneResponseOf` its `phoneResponse(appId, user)`, what my.getPhoneNumber hands the app.
 */
export function createNodeMy(opts: NodePlatformOptions, authCodeOf: (appId: string, user: string) => string, phoneResponseOf: (appId: string, user: string) => string) {
  const store = new Map<string, string>();
  const shows = new Set<(res: unknown) => void>();
  const trace = opts.onTrace ?? (() => {});
  const later = (fn: () => void) => void setImmediate(fn);

  const my = {
    getAuthCode(o: GetAuthCodeOption = {}): void {
      later(() => {
        const scopes = ([] as string[]).concat(o.scopes ?? 'auth_base');
        try {
          const authCode = authCodeOf(opts.appid, opts.user);
          trace({ kind: 'login', api: 'my.getAuthCode', code: authCode });
          o.success?.({ authCode, authErrorScopes: {}, authSuccessScopes: scopes });
        } catch (err) {
          trace({ kind: 'login', api: 'my.getAuthCode', error: (err as Error).message });
          o.fail?.({ error: 11, errorMessage: (err as Error).message });
        }
      });
    },

    getPhoneNumber(o: { success?(res: { response: string }): void; fail?(err: Fail): void } = {}): void {
      later(() => {
        trace({ kind: 'phone', api: 'my.getPhoneNumber' });
        o.success?.({ response: phoneResponseOf(opts.appid, opts.user) });
      });
    },

    request(o: RequestOption): { abort(): void } {
      const method = (o.method ?? 'GET').toUpperCase();
      // `headers` is the documented name; the typings also take `header`.
      const headers = { ...(o.headers ?? o.header ?? {}) };
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      const authorized = Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
      const { url, body } = encodeRequest(o.url, method, o.data, headers);
      const controller = new AbortController();
      let settled = false;
      const settle = (status: number | undefined, err?: Fail) => {
        settled = true;
        trace({ kind: 'request', api: 'my.request', method, url: o.url, status, error: err && `${err.error} ${err.errorMessage}`, authorized, data: o.data });
      };
      const fail = (err: Fail, status?: number) => {
        if (settled) return;
        settle(status, err);
        o.fail?.(err);
      };
      fetchAnswer(url, { method, headers, body, signal: controller.signal }, o.timeout ?? 30_000).then(
        (res) => {
          if (settled) return;
          if (res.status < 200 || res.status > 299) return fail({ error: 19, errorMessage: 'http status error', status: res.status, data: res.data, headers: res.headers }, res.status);
          if ((o.dataType ?? 'json') === 'json' && typeof res.data === 'string' && res.data !== '') return fail({ error: 14, errorMessage: 'JSON parse data error' }, res.status);
          settle(res.status);
          o.success?.({ data: res.data, status: res.status, headers: res.headers, statusCode: res.status, header: res.headers });
        },
        (err: Error) =>
          fail(controller.signal.aborted ? { error: 9, errorMessage: 'request:fail abort' } : err.name === 'TimeoutError' ? { error: 13, errorMessage: '超时' } : { error: 12, errorMessage: `网络出错 ${err.message}` }),
      );
      return {
        abort() {
          controller.abort();
          later(() => fail({ error: 9, errorMessage: 'request:fail abort' }));
        },
      };
    },

    getStorageSync: ({ key }: { key: string }) => ({ data: store.has(key) ? (JSON.parse(store.get(key)!) as unknown) : null }),
    setStorageSync({ key, data }: { key: string; data: unknown }) {
      const text = JSON.stringify(data);
      if (text.length > KEY_LIMIT) return { success: false, error: 14, errorMessage: 'data长度超限' };
      store.set(key, text);
      return { success: true };
    },
    removeStorageSync({ key }: { key: string }) {
      store.delete(key);
      return { success: true };
    },
    getAccountInfoSync: () => ({ miniProgram: { appId: opts.appid, envVersion: 'develop', version: '' } }),
    getExtConfigSync: () => ({ ...(opts.extConfig ?? {}) }),
    onAppShow: (l: (res: unknown) => void) => void shows.add(l),
    offAppShow: (l: (res: unknown) => void) => void shows.delete(l),
  };
  return { my, store };
}

import type { WxLike, WxObject } from './wx.js';

/** A fail result of Alipay's APIs: `{error, errorMessage}` (no `errMsg`). */
interface MyFail {
  error?: number;
  errorMessage?: string;
}
type Callbacks<T> = { success?(res: T): void; fail?(err: MyFail): void };

/**
 * The slice of Alipay's `my` the kit calls, as @mini-types/my declares it (the kit's type test
 * checks that `my` is assignable to this).
 */
export interface MyLike {
  /** https://opendocs.alipay.com/mini/api/openapi-authorize */
  getAuthCode(o: { scopes?: string } & Callbacks<{ authCode: string }>): void;
  /** https://opendocs.alipay.com/mini/api/owycmh: `headers` in, `status`/`headers` out. */
  request(o: WxObject & Callbacks<{ data: unknown; status?: number; statusCode?: number; headers?: WxObject; header?: WxObject }>): unknown;
  /** https://opendocs.alipay.com/mini/api/kmq4hc: needs `fileName` and `fileType`. */
  uploadFile(o: WxObject & Callbacks<{ data: string; statusCode: number }>): unknown;
  /** https://opendocs.alipay.com/mini/api/xr054r: the file is `apFilePath`. */
  downloadFile(o: WxObject & Callbacks<{ apFilePath?: string; tempFilePath?: string; statusCode?: number }>): unknown;
  /** https://opendocs.alipay.com/mini/api/cog0du: object arguments, and a failure is returned, not thrown. */
  getStorageSync(o: { key: string }): { data?: unknown } | undefined;
  setStorageSync(o: { key: string; data: unknown }): { success?: boolean; error?: number; errorMessage?: string } | void;
  removeStorageSync(o: { key: string }): unknown;
  onAppShow?(listener: () => void): void;
  offAppShow?(listener: () => void): void;
}

/**
 * Alipay's `my` behind the `wx` interface the kit speaks, so that everything `createAuth` does
 * works unchanged: `my.getAuthCode({scopes: 'auth_base'})` (silent; its `authCode` is the code the
 * login POST carries), `my.request` with `headers` (an answer of any HTTP status is an answer:
 * Alipay hands a non-2xx to `fail` with its `status`, which goes to `success` here, so a 401 still
 * means a re-login), `my.uploadFile` with `fileName` (and `fileType` `'image'` unless given),
 * `my.downloadFile`'s `apFilePath`, storage in object form with a failure thrown as WeChat's does,
 * and fail results `{error, errorMessage}` as `{errMsg, errno}`.
 */
export function fromAlipay(my: MyLike): WxLike {
  type O = { success?(res: never): void; fail?(err: never): void } & WxObject;
  /** `my`'s callbacks for a kit call: `answer` shapes a success; a fail with a status is an answer too. */
  const callbacks = (o: O, answer: (res: never) => unknown) => ({
    success: (res: never) => o.success!(answer(res) as never),
    fail: (err: MyFail & { status?: number }) => (err.status ? o.success!(answer(err as never) as never) : o.fail!({ errMsg: err.errorMessage || `error ${err.error}`, errno: err.error } as never)),
  });
  const send = (kind: 'request' | 'uploadFile' | 'downloadFile', extra: WxObject, answer: (res: never) => unknown) => (o: O) =>
    my[kind](Object.assign({}, extra, o, { headers: o.header }, callbacks(o, answer)) as never);
  return {
    login: (o) => my.getAuthCode(Object.assign({ scopes: 'auth_base' }, callbacks(o as O, (res: { authCode: string }) => ({ code: res.authCode })))),
    request: send('request', {}, (res: { data: unknown; status?: number; statusCode?: number; headers?: WxObject; header?: WxObject }) => ({
      data: res.data,
      statusCode: res.status || res.statusCode,
      header: res.headers || res.header || {},
      cookies: [],
    })) as unknown as WxLike['request'],
    uploadFile: ((o: O) => send('uploadFile', { fileName: o.name, fileType: 'image' }, (res: never) => res)(o)) as unknown as WxLike['uploadFile'],
    downloadFile: send('downloadFile', {}, (res: { apFilePath?: string; tempFilePath?: string; statusCode?: number }) => ({
      tempFilePath: res.apFilePath || res.tempFilePath,
      statusCode: res.statusCode || 200,
    })) as unknown as WxLike['downloadFile'],
    getStorageSync: (key) => (my.getStorageSync({ key }) || {}).data,
    setStorageSync(key, data) {
      const res = my.setStorageSync({ key, data });
      if (res && res.success === false) throw res;
    },
    removeStorageSync: (key) => my.removeStorageSync({ key }),
    // The kit's app-show listener reads no argument.
    onAppShow: my.onAppShow && ((l) => my.onAppShow!(l as () => void)),
    offAppShow: my.offAppShow && ((l) => my.offAppShow!(l as () => void)),
  };
}

/**
 * The slice of WeChat's `wx` API that the kit's public types mention, declared here so that they
 * never depend on miniprogram-api-typings: with `skipLibCheck` (Taro's and uni-app's default) and
 * no typings installed, a type that names `WechatMiniprogram.*` silently becomes `any`. These are
 * structural subsets of the official shapes: `wx` from miniprogram-api-typings 3.x to 5.x (and
 * uni's and Taro's `wx`) is assignable to {@link WxLike}.
 * https://developers.weixin.qq.com/miniprogram/dev/api/network/request/wx.request.html
 */

/** A JSON-like object: request `data`, `header`, the login POST body. */
export type WxObject = Record<string, unknown>;

/** `wx.request` options the kit passes through (documented fields; callbacks excluded). */
export interface WxRequestOption {
  /** Absolute, or (in `auth.request`) relative to `baseURL`. */
  url: string;
  /** Body, or the query string of a GET. Objects are sent as JSON unless `content-type` says otherwise. */
  data?: string | WxObject | ArrayBuffer;
  header?: WxObject;
  /** @default 'GET'. `PATCH`: Douyin and Alipay take it; WeChat's docs do not list it. */
  method?: 'OPTIONS' | 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'TRACE' | 'CONNECT' | 'PATCH';
  /** ms. @default 60000 (or `networkTimeout.request` of app.json) */
  timeout?: number;
  /** `'json'` parses the answer as JSON; anything else (WeChat's docs write `'其他'`) does not. @default 'json' */
  dataType?: string;
  /** @default 'text' */
  responseType?: 'text' | 'arraybuffer';
  enableHttp2?: boolean;
  enableQuic?: boolean;
  enableCache?: boolean;
  enableChunked?: boolean;
  enableHttpDNS?: boolean;
  httpDNSServiceId?: string;
  forceCellularNetwork?: boolean;
  redirect?: 'follow' | 'manual';
  useHighPerformanceMode?: boolean;
}

/**
 * `wx.uploadFile` options (callbacks excluded): a multipart POST of the local file `filePath` as
 * field `name`. https://developers.weixin.qq.com/miniprogram/dev/api/network/upload/wx.uploadFile.html
 */
export interface WxUploadFileOption {
  /** Absolute, or (in `auth.uploadFile`) relative to `baseURL`. */
  url: string;
  /** A local path: a temporary file from chooseMedia, chooseAvatar, ... */
  filePath: string;
  /** The multipart field name of the file. */
  name: string;
  header?: WxObject;
  /** Other multipart fields. */
  formData?: WxObject;
  /** ms. @default 60000 (or `networkTimeout.uploadFile` of app.json) */
  timeout?: number;
}

/**
 * `wx.downloadFile` options (callbacks excluded): a GET saved to a temporary file (or `filePath`).
 * https://developers.weixin.qq.com/miniprogram/dev/api/network/download/wx.downloadFile.html
 */
export interface WxDownloadFileOption {
  /** Absolute, or (in `auth.downloadFile`) relative to `baseURL`. */
  url: string;
  header?: WxObject;
  /** Where to save the file (a `wx.env.USER_DATA_PATH` path); a temporary file when absent. */
  filePath?: string;
  /** ms. @default 60000 (or `networkTimeout.downloadFile` of app.json) */
  timeout?: number;
  enableHttp2?: boolean;
  enableQuic?: boolean;
}

/** What `wx.uploadFile` gives `success`: the server's body as text. */
export interface WxUploadFileResult {
  data: string;
  statusCode: number;
}

/** What `wx.downloadFile` gives `success`. */
export interface WxDownloadFileResult {
  /** The temporary file (absent when `filePath` was given). */
  tempFilePath: string;
  /** The `filePath` asked for, if any. */
  filePath?: string;
  statusCode: number;
}

/**
 * The task a `wx.request`/`uploadFile`/`downloadFile` call returns: `abort()` and listeners.
 * Progress: `{progress (%), totalBytesSent, totalBytesExpectedToSend}` for uploads,
 * `{progress, totalBytesWritten, totalBytesExpectedToWrite}` for downloads.
 */
export interface WxTask {
  abort?(): void;
  onProgressUpdate?(listener: (res: never) => void): void;
  onHeadersReceived?(listener: (res: { header: WxObject }) => void): void;
}

/** A `wx` fail result: `{errMsg, errno?}`. */
export interface WxFail {
  errMsg: string;
  errno?: number;
}

/**
 * The part of the `wx` object the kit calls. Pass your own as `options.wx` in tests; in a mini
 * program the global `wx` is used.
 */
export interface WxLike {
  // Callbacks in method syntax: TypeScript compares those bivariantly, so WeChat's own typings of
  // every version (whose results carry more fields, and whose dataType is narrower in 3.x) fit.
  login(option: { timeout?: number; success?(res: { code: string }): void; fail?(err: WxFail): void }): void;
  request(option: WxRequestOption & { success?(res: WxResponse): void; fail?(err: WxFail): void }): unknown;
  /** Needed by `auth.uploadFile` only. */
  uploadFile?(option: WxUploadFileOption & { success?(res: WxUploadFileResult): void; fail?(err: WxFail): void }): unknown;
  /** Needed by `auth.downloadFile` only. */
  downloadFile?(option: WxDownloadFileOption & { success?(res: WxDownloadFileResult): void; fail?(err: WxFail): void }): unknown;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, data: unknown): void;
  removeStorageSync(key: string): void;
  onAppShow?(listener: (res: unknown) => void): void;
  offAppShow?(listener: (res: unknown) => void): void;
  /** The app's appid for the login POST (`miniProgram.appId`); optional. */
  getAccountInfoSync?(): { miniProgram: { appId: string } };
}

/** What `wx.request` gives `success`, narrowed to what the kit reads and returns. */
export interface WxResponse<T = unknown> {
  data: T;
  statusCode: number;
  header: Record<string, string>;
  cookies: string[];
}

/**
 * A component event as handlers receive it (a subset of miniprogram-api-typings' `CustomEvent`).
 * https://developers.weixin.qq.com/miniprogram/dev/framework/view/wxml/event.html
 */
export interface WxEvent<T> {
  type: string;
  timeStamp: number;
  detail: T;
}

import type { MyLike } from './alipay.js';
import { NetworkError, WxLoginKitError } from './errors.js';
import type { WxDownloadFileOption, WxFail, WxLike, WxRequestOption, WxTask, WxUploadFileOption } from './wx.js';

// The globals a build provides: Douyin's `tt` and QQ's `qq` are shaped like WeChat's `wx`; Alipay's `my` is not.
declare const tt: WxLike & { getEnvInfoSync(): { microapp: { appId: string } } };
declare const qq: WxLike;
declare const my: MyLike & { getAccountInfoSync(): { miniProgram: { appId: string } } };

/** What the kit runs on: the API it calls (shaped like `wx`), the platform's name and the app's appid. */
export interface Platform {
  wx: WxLike;
  /** `'wechat'`, `'douyin'`, `'alipay'` or `'qq'`: the global the build provides (`wx`, `tt`, `my`, `qq`). */
  platform: string;
  /** From the platform's account-info API; undefined where it has none. */
  appid?: string;
}

/**
 * Adapters of the platforms not shaped like `wx`, set by their own entry (`wx-login-kit/alipay`
 * sets `my`): WeChat's bundle carries none of their code.
 */
export const adapters: { my?: (my: MyLike) => WxLike } = {};

/** `read()`, or undefined when it throws: an account-info API missing from an old base library. */
const attempt = (read: () => string): string | undefined => {
  try {
    return read();
  } catch (e) {
    return undefined;
  }
};

/**
 * Finds the platform from the global the build provides: `tt` (Douyin), `my` (Alipay, through the
 * adapter its entry set), `qq` (QQ, shaped like `wx`), else `wx` (WeChat; also what uni-app injects
 * on mp-weixin); `given` (options.wx) replaces the API found. Undefined when there is none of them and nothing is given;
 * throws {@link WxLoginKitError} on Alipay when the kit was not imported from `wx-login-kit/alipay`.
 * - WeChat appid: https://developers.weixin.qq.com/miniprogram/dev/api/open-api/account-info/wx.getAccountInfoSync.html
 * - Douyin: https://developer.open-douyin.com/docs/resource/zh-CN/mini-app/develop/api/foundation/tt-get-env-info-sync
 * - Alipay: https://opendocs.alipay.com/mini/api/openapi-getaccountinfosync
 * - QQ: `qq.getAccountInfoSync()`, as WeChat's (uni-app's API table lists it for QQ; no QQ page found)
 */
export function findPlatform(given?: WxLike): Platform | undefined {
  // tt and my first: a Douyin client may also define a `wx` alias (mpvue#1555), WeChat neither.
  if (typeof tt == 'object') return { wx: given || tt, platform: 'douyin', appid: attempt(() => tt.getEnvInfoSync().microapp.appId) };
  if (typeof my == 'object') {
    if (!given && !adapters.my) throw new WxLoginKitError("on Alipay import 'wx-login-kit/alipay' (wx-login-kit/uni does it in an mp-alipay build)");
    return { wx: given || adapters.my!(my), platform: 'alipay', appid: attempt(() => my.getAccountInfoSync().miniProgram.appId) };
  }
  const qqApi = typeof qq == 'object' ? qq : undefined;
  const api = given || qqApi || (typeof wx == 'object' ? (wx as unknown as WxLike) : undefined);
  if (api) return { wx: api, platform: qqApi ? 'qq' : 'wechat', appid: attempt(() => api.getAccountInfoSync!().miniProgram.appId) };
  return undefined;
}

/**
 * `wx.login` as a promise: resolves the `code`, rejects with the fail result `{errMsg}`. With a
 * timeout (10 s), so a login never hangs on a wx.login that does not call back.
 */
export function wxLogin(wx: WxLike): Promise<string> {
  return new Promise((resolve, reject) => wx.login({ timeout: 1e4, success: (res) => resolve(res.code), fail: reject }));
}

/**
 * `wx.request`, `wx.uploadFile` or `wx.downloadFile` as a promise. Like WeChat it resolves for
 * EVERY HTTP status; it rejects {@link NetworkError} only when there was no answer at all (an
 * abort included; `method` names the call in it). `onTask` gets the task the call returned (abort, progress).
 */
export function wxSend<R>(
  wx: WxLike,
  kind: 'request' | 'uploadFile' | 'downloadFile',
  method: string,
  options: WxRequestOption | WxUploadFileOption | WxDownloadFileOption,
  onTask?: (task: WxTask) => void,
): Promise<R> {
  return new Promise((resolve, reject) => {
    const send = wx[kind] as (o: object) => WxTask | undefined;
    const fail = (err: WxFail) => reject(new NetworkError(method, options.url, err));
    if (!send) return fail({ errMsg: `wx.${kind} is missing from options.wx` });
    const task = send.call(wx, Object.assign({}, options, { success: resolve, fail }));
    if (task && onTask) onTask(task);
  });
}

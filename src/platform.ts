import { NetworkError } from './errors.js';
import type { WxDownloadFileOption, WxFail, WxLike, WxRequestOption, WxTask, WxUploadFileOption } from './wx.js';

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

import { NetworkError } from './errors.js';
import type { WxFail, WxLike, WxRequestOption, WxResponse } from './wx.js';

/**
 * `wx.login` as a promise: resolves the `code`, rejects with the fail result `{errMsg}`. With a
 * timeout (10 s), so a login never hangs on a wx.login that does not call back.
 */
export function wxLogin(wx: WxLike): Promise<string> {
  return new Promise((resolve, reject) => wx.login({ timeout: 1e4, success: (res) => resolve(res.code), fail: reject }));
}

/**
 * `wx.request` as a promise. Like `wx.request` it resolves for EVERY HTTP status; it rejects
 * {@link NetworkError} only when there was no answer at all.
 */
export function wxRequest<T>(wx: WxLike, options: WxRequestOption): Promise<WxResponse<T>> {
  return new Promise((resolve, reject) => {
    wx.request(
      Object.assign({}, options, {
        // wx.request's own result: {data, statusCode, header, cookies, errMsg, ...}.
        success: resolve as (res: WxResponse) => void,
        fail: (err: WxFail) => reject(new NetworkError(options.method || 'GET', options.url, err)),
      }),
    );
  });
}

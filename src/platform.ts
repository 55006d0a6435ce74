import { NetworkError } from './errors';
import type { WxLike, WxResponse } from './options';

/** `wx.login` as a promise: resolves the `code`, rejects with the fail result `{errMsg, errno?}`. */
export function wxLogin(wx: WxLike): Promise<string> {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (res) => (typeof res.code === 'string' && res.code ? resolve(res.code) : reject({ errMsg: `${res.errMsg || 'login:ok'} but no code` })),
      fail: reject,
    });
  });
}

/**
 * `wx.request` as a promise. Like `wx.request` it resolves for EVERY HTTP status; it rejects
 * {@link NetworkError} only when there was no answer at all.
 */
export function wxRequest<T>(
  wx: WxLike,
  options: Omit<WechatMiniprogram.RequestOption, 'success' | 'fail' | 'complete'>,
): Promise<WxResponse<T>> {
  const method = (options.method ?? 'GET').toUpperCase();
  return new Promise((resolve, reject) => {
    wx.request({
      ...options,
      success: (res) =>
        resolve({ data: res.data as T, statusCode: res.statusCode, header: res.header ?? {}, cookies: res.cookies ?? [] }),
      fail: (err) => reject(new NetworkError(method, options.url, err)),
    });
  });
}

/** Runs at most `max` tasks at once: WeChat allows 10 concurrent `wx.request`. */
export function createLimiter(max: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return function limit<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        active++;
        task()
          .then(resolve, reject)
          .finally(() => {
            active--;
            waiting.shift()?.();
          });
      };
      if (active < max) run();
      else waiting.push(run);
    });
  };
}

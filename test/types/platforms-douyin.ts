/**
 * Douyin's own typings (@douyin-microapp/typings): every call the kit makes on `tt` (it takes tt
 * as `wx`), written as the kit makes it, type-checks against them. `tt` as a whole is not a
 * `WxLike`: its request `method` has PATCH but no TRACE/CONNECT, its `header` and `data` are
 * `object`; tt.login takes no `timeout` (the kit's 10 s one is ignored there, see the README).
 */
import { createAuth, type WxLike } from 'wx-login-kit';

const header: Record<string, string> = { Authorization: 'Bearer t' };
tt.login({ success: (res) => res.code, fail: (err) => err.errMsg });
tt.request({
  url: 'https://api.example.com/api/me',
  method: 'POST',
  header,
  data: { code: 'c' },
  success: (res) => [res.statusCode, res.header, res.data],
  fail: (err) => err.errMsg,
}).abort();
tt.uploadFile({ url: 'https://api.example.com/a', filePath: 'ttfile://tmp/a.png', name: 'avatar', header, formData: {}, success: (res) => [res.data, res.statusCode] });
tt.downloadFile({ url: 'https://api.example.com/f', header, success: (res) => [res.tempFilePath, res.statusCode] });
tt.setStorageSync('wx-login-kit:token', { token: 't', expiresAt: 1 });
tt.getStorageSync('wx-login-kit:token');
tt.removeStorageSync('wx-login-kit:token');
tt.onAppShow(() => {});
tt.offAppShow(() => {});
export const appid: string = tt.getEnvInfoSync().microapp.appId;

// What the kit declares tt as, and what an app passes as options.wx on Douyin, with a cast.
export const auth = createAuth({ baseURL: 'https://api.example.com', wx: tt as unknown as WxLike });

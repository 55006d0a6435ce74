/**
 * Type test with miniprogram-api-typings present (compiled against 3.0 and 5.2 by
 * `npm run test:types`): WeChat's own `wx` and `wx.request` options fit the kit's declarations.
 */
import { createAuth, type WxRequestOption } from 'wx-login-kit';

export const auth = createAuth({ baseURL: 'https://api.example.com', wx });
export const withGlobal = createAuth({ baseURL: 'https://api.example.com' });

export function passThrough(options: WechatMiniprogram.RequestOption): Promise<unknown> {
  const { success, fail, complete, ...rest } = options;
  void success;
  void fail;
  void complete;
  const mine: WxRequestOption = rest;
  return auth.request(mine);
}

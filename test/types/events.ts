/**
 * Type test with miniprogram-api-typings 3.1+ (the first with `CustomEvent`): WeChat's events fit
 * the kit's event types.
 */
import type { GetRealtimePhoneNumberEvent, LoginButtonFailDetail, LoginButtonFailEvent } from 'wx-login-kit';

export function fromWeChat(e: WechatMiniprogram.CustomEvent<LoginButtonFailDetail>): LoginButtonFailEvent {
  return e;
}
export function realtime(e: WechatMiniprogram.CustomEvent<{ errMsg: string; code?: string }>): GetRealtimePhoneNumberEvent {
  return e;
}

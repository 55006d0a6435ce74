/**
 * Event types for open-type buttons that miniprogram-api-typings 5.2 lacks, and the events of
 * `<login-button>`. Types only: nothing here exists at run time.
 */
import type { WxLoginKitError } from './errors.js';
import type { OpenTypeFailReason } from './open-type.js';
import type { WxEvent, WxObject } from './wx.js';

/**
 * `bindgetrealtimephonenumber` of `<button open-type="getRealtimePhoneNumber">` (base library 2.32.3+).
 * `code` is present only when the user allowed; exchange it on the server with
 * phonenumber.getPhoneNumber. https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/getRealtimePhoneNumber.html
 */
export type GetRealtimePhoneNumberEvent = WxEvent<{
  errMsg: string;
  code?: string;
  errno?: number;
}>;

/**
 * `bindchooseavatar` of `<button open-type="chooseAvatar">` (base library 2.21.2+): `avatarUrl`
 * is a temporary file path; upload it with wx.uploadFile.
 * https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/userProfile.html
 */
export type ChooseAvatarEvent = WxEvent<{ avatarUrl: string }>;

/** `bind:success` of `<login-button>`: the server's answer, e.g. `{token, expiresIn, purePhoneNumber, ...}`. */
export type LoginButtonSuccessEvent<T extends WxObject = WxObject> = WxEvent<T>;

/**
 * `bind:fail` detail of `<login-button>`. Nothing was sent for `denied`, `privacy`, `quota` and
 * `unsupported` (see {@link OpenTypeFailReason}; WeChat's `errMsg` and `errno` are kept); `network`
 * when there was no answer (`NetworkError`) or `wx.login` failed (`LoginError` code `WX_LOGIN`),
 * `server` for an HTTP error (`HTTPError`).
 */
export type LoginButtonFailDetail =
  | { reason: OpenTypeFailReason; errMsg: string; errno?: number }
  | { reason: 'network' | 'server'; error: WxLoginKitError };

/** `bind:fail` of `<login-button>`. */
export type LoginButtonFailEvent = WxEvent<LoginButtonFailDetail>;

/**
 * `bind:fail` detail of `<login-profile>`: `nickname` when WeChat's review rejected the nickname
 * (it was cleared); a failed chooseAvatar tap with WeChat's `errMsg`/`errno`; or `network`/`server`
 * with the kit's error when saving failed.
 */
export type LoginProfileFailDetail =
  | { reason: 'nickname' }
  | { reason: OpenTypeFailReason; errMsg: string; errno?: number }
  | { reason: 'network' | 'server'; error: WxLoginKitError };

/** `bind:fail` of `<login-profile>`. */
export type LoginProfileFailEvent = WxEvent<LoginProfileFailDetail>;

/**
 * wx-login-kit: the WeChat Mini Program login flow, done right.
 * Everything public is exported here; everything else is internal.
 */
export { createAuth } from './auth.js';
export type { AbortablePromise, Auth, AuthEvents, CallOptions, DownloadFileOptions, RequestOptions, UploadFileOptions, UploadFileResult } from './auth.js';
export { getAuth, getDefaultAuth } from './registry.js';
export { DEFAULTS } from './options.js';
export type { AuthOptions, LoginResult } from './options.js';
export type {
  WxDownloadFileOption,
  WxDownloadFileResult,
  WxEvent,
  WxFail,
  WxLike,
  WxObject,
  WxRequestOption,
  WxResponse,
  WxTask,
  WxUploadFileOption,
  WxUploadFileResult,
} from './wx.js';
export { WxLoginKitError, LoginError, HTTPError, NetworkError, AbortError } from './errors.js';
export type { LoginErrorCode } from './errors.js';
export type {
  ChooseAvatarEvent,
  GetRealtimePhoneNumberEvent,
  LoginButtonFailDetail,
  LoginButtonFailEvent,
  LoginButtonSuccessEvent,
  LoginProfileFailDetail,
  LoginProfileFailEvent,
} from './events.js';
export type { OpenTypeFailReason } from './open-type.js';
// Not exported: the token store, code keeper, emitter and URL helpers are internals of createAuth;
// <login-button> and <login-profile> are used from WXML (usingComponents), not imported.

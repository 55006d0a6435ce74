/**
 * wx-login-kit: the WeChat Mini Program login flow, done right.
 * Everything public is exported here; everything else is internal.
 */
export { createAuth, getDefaultAuth } from './auth';
export type { Auth, AuthEvents, RequestOptions } from './auth';
export { DEFAULTS } from './options';
export type { AuthOptions, LoginResult, WxLike, WxResponse } from './options';
export { WxLoginKitError, LoginError, HTTPError, NetworkError } from './errors';
export type { LoginErrorCode } from './errors';
export type {
  ChooseAvatarEvent,
  GetRealtimePhoneNumberEvent,
  LoginButtonFailDetail,
  LoginButtonFailEvent,
  LoginButtonSuccessEvent,
} from './events';
// Not exported: the token store, code keeper, emitter and URL helpers are internals of createAuth;
// <login-button> is used from WXML (usingComponents), not imported.

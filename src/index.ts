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

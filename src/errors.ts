/**
 * Errors thrown by wx-login-kit. Every message starts with `[wx-login-kit]`,
 * says what failed and what to do, and never contains a token.
 */

/** Base class: `err instanceof WxLoginKitError` catches everything the kit throws. */
export class WxLoginKitError extends Error {
  override name: 'WxLoginKitError' | 'LoginError' | 'HTTPError' | 'NetworkError' | 'AbortError' = 'WxLoginKitError';
  /** What led to this error: a `wx` fail result `{errMsg}`, another kit error, or `undefined`. */
  cause: unknown;

  constructor(message: string, cause?: unknown) {
    super('[wx-login-kit] ' + message);
    this.cause = cause;
  }
}

/**
 * Why a login failed:
 * - `WX_LOGIN`: `wx.login` failed (its fail result is `cause`).
 * - `NETWORK`: the login POST got no answer (`cause` is a {@link NetworkError}).
 * - `HTTP`: the server answered the login POST with a non-2xx (`cause` is an {@link HTTPError}).
 * - `BAD_RESPONSE`: the login answer had no usable token (nothing was stored).
 * - `BAD_RESPONSE` is also the code when the `loginData` adapter throws (its error is `cause`).
 * - `RELOGIN_LIMIT`: more automatic re-logins after 401 than `reloginLimit` allows in `reloginWindow`.
 * - `ABORTED`: `logout()` was called while the login ran (during `wx.login`, the POST, a backoff
 *   wait or parsing); nothing was stored and no further login POST sent.
 */
export type LoginErrorCode = 'WX_LOGIN' | 'NETWORK' | 'HTTP' | 'BAD_RESPONSE' | 'RELOGIN_LIMIT' | 'ABORTED';

/** A login did not produce a token. See {@link LoginErrorCode} for `code`. */
export class LoginError extends WxLoginKitError {
  override name = 'LoginError' as const;
  readonly code: LoginErrorCode;

  constructor(code: LoginErrorCode, message: string, cause?: unknown) {
    super(message, cause);
    this.code = code;
  }
}

/** The server answered with a status outside 2xx, or was still unauthorized after the one retry. */
export class HTTPError<T = unknown> extends WxLoginKitError {
  override name = 'HTTPError' as const;
  readonly statusCode: number;
  /** The answer body as `wx.request` gave it (parsed JSON, or text). */
  readonly data: T;

  constructor(method: string, url: string, statusCode: number, data: T, detail = '') {
    super(`${method} ${path(url)} answered HTTP ${statusCode}${detail}`);
    this.statusCode = statusCode;
    this.data = data;
  }
}

/** `wx.request` failed before any HTTP answer (offline, DNS, timeout, app backgrounded). */
export class NetworkError extends WxLoginKitError {
  override name = 'NetworkError' as const;
  /** `errMsg` of `wx.request`'s fail result, e.g. `request:fail timeout`. */
  readonly errMsg: string;
  /** `errno` of `wx.request`'s fail result, when the base library gives one. */
  readonly errno?: number;

  constructor(method: string, url: string, err: { errMsg: string; errno?: number }) {
    super(`${method} ${path(url)} got no answer (${err.errMsg}); check the network`, err);
    this.errMsg = err.errMsg || '';
    this.errno = err.errno;
  }
}

/**
 * The caller aborted the call (`promise.abort()`): nothing more was sent, and a login other calls
 * share went on.
 */
export class AbortError extends WxLoginKitError {
  override name = 'AbortError' as const;

  constructor(method: string, url: string) {
    super(`${method} ${path(url)} aborted; nothing more was sent`);
  }
}

// A query string can carry anything the caller put there; messages keep the URL up to it.
const path = (url: string) => url.split(/[?#]/)[0];

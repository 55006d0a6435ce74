/**
 * Errors thrown by wx-login-kit. Every message starts with `[wx-login-kit]`,
 * says what failed and what to do, and never contains a token.
 */

/** Base class: `err instanceof WxLoginKitError` catches everything the kit throws. */
export class WxLoginKitError extends Error {
  override name: 'WxLoginKitError' | 'LoginError' | 'HTTPError' | 'NetworkError' = 'WxLoginKitError';
  /** What led to this error: an `errMsg` object from `wx`, another kit error, or `undefined`. */
  cause: unknown;

  constructor(message: string, cause?: unknown) {
    super(`[wx-login-kit] ${message}`);
    this.cause = cause;
    // Keep `instanceof` working when compiled to ES5-style classes.
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/**
 * Why a login failed:
 * - `WX_LOGIN`: `wx.login` failed (its `errMsg` is in `cause`).
 * - `NETWORK`: the login POST never got an answer (`cause` is a {@link NetworkError}).
 * - `HTTP`: the server answered the login POST with a non-2xx (`cause` is an {@link HTTPError}).
 * - `BAD_RESPONSE`: the login answer had no usable token (nothing was stored).
 * - `RELOGIN_LIMIT`: more automatic re-logins after 401 than `reloginLimit` allows in `reloginWindow`.
 */
export type LoginErrorCode = 'WX_LOGIN' | 'NETWORK' | 'HTTP' | 'BAD_RESPONSE' | 'RELOGIN_LIMIT';

/** A login did not produce a token. See {@link LoginErrorCode} for `code`. */
export class LoginError extends WxLoginKitError {
  override name = 'LoginError' as const;
  readonly code: LoginErrorCode;

  constructor(code: LoginErrorCode, message: string, cause?: unknown) {
    super(message, cause);
    this.code = code;
  }
}

/** The server answered with a status outside 2xx (or an unauthorized answer survived the one retry). */
export class HTTPError<T = unknown> extends WxLoginKitError {
  override name = 'HTTPError' as const;
  readonly statusCode: number;
  /** The parsed answer body, as `wx.request` gave it. */
  readonly data: T;

  constructor(method: string, url: string, statusCode: number, data: T, detail = '') {
    super(`${method} ${stripQuery(url)} answered HTTP ${statusCode}${detail}`);
    this.statusCode = statusCode;
    this.data = data;
  }
}

/** `wx.request` failed before any HTTP answer (offline, DNS, timeout, app backgrounded). */
export class NetworkError extends WxLoginKitError {
  override name = 'NetworkError' as const;
  /** `errMsg` from `wx.request`'s fail callback, e.g. `request:fail timeout`. */
  readonly errMsg: string;
  /** `errno` from `wx.request`'s fail callback, when the base library gives one. */
  readonly errno?: number;

  constructor(method: string, url: string, err: { errMsg?: string; errno?: number }) {
    const errMsg = String(err.errMsg ?? 'request:fail');
    super(`${method} ${stripQuery(url)} got no answer (${errMsg}); check the network and that the domain is in the request allow-list`, err);
    this.errMsg = errMsg;
    this.errno = err.errno;
  }
}

// A query string can carry anything the caller put there; messages keep only the path.
function stripQuery(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}

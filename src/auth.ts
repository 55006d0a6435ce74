import { createCodeKeeper } from './code-keeper.js';
import { createEmitter } from './emitter.js';
import { AbortError, HTTPError, LoginError, WxLoginKitError } from './errors.js';
import { DEFAULTS, type AuthOptions, type ResolvedOptions } from './options.js';
import { findPlatform, wxSend } from './platform.js';
import { register } from './registry.js';
import { createTokenStore } from './token-store.js';
import { originOf, resolveURL } from './url.js';
import type {
  WxDownloadFileOption,
  WxDownloadFileResult,
  WxObject,
  WxRequestOption,
  WxResponse,
  WxTask,
  WxUploadFileOption,
  WxUploadFileResult,
} from './wx.js';

/**
 * Events of {@link Auth.on}: `login` gets the new token; `error` every login or storage failure
 * and a logout POST that failed (`NetworkError`, `HTTPError`).
 */
export interface AuthEvents {
  login: string;
  logout: undefined;
  error: WxLoginKitError;
}

/** What `request`, `uploadFile` and `downloadFile` take besides the platform's options. */
export interface CallOptions {
  /** `false`: send no token and skip login and 401 handling. @default true */
  auth?: boolean;
  /** The answer's headers, before its body (`task.onHeadersReceived`). */
  onHeadersReceived?: (res: { header: WxObject }) => void;
}

/** `wx.request` options for {@link Auth.request}; `url` may be relative to `baseURL`. */
export type RequestOptions = WxRequestOption & CallOptions;

/** `wx.uploadFile` options for {@link Auth.uploadFile}; `url` may be relative to `baseURL`. */
export type UploadFileOptions = WxUploadFileOption &
  CallOptions & {
    /** Upload progress: `progress` in %, bytes sent and expected. */
    onProgressUpdate?: (res: { progress: number; totalBytesSent: number; totalBytesExpectedToSend: number }) => void;
  };

/** `wx.downloadFile` options for {@link Auth.downloadFile}; `url` may be relative to `baseURL`. */
export type DownloadFileOptions = WxDownloadFileOption &
  CallOptions & {
    /** Download progress: `progress` in %, bytes written and expected. */
    onProgressUpdate?: (res: { progress: number; totalBytesWritten: number; totalBytesExpectedToWrite: number }) => void;
  };

/** What {@link Auth.uploadFile} resolves: the server's body as text (`data`) and, when it is JSON, parsed (`json`). */
export interface UploadFileResult<T = unknown> extends WxUploadFileResult {
  json: T | undefined;
}

/**
 * A call's promise with `abort()`, as WeChat's tasks have (and `Taro.request`'s and
 * `uni.request`'s promises). `abort()` rejects it with {@link AbortError} at once: before the call
 * was sent (waiting for a login) nothing is sent; in flight the task is aborted; after it settled
 * nothing happens. A login that other calls share goes on.
 */
export type AbortablePromise<T> = Promise<T> & { abort(): void };

export type Auth = ReturnType<typeof createAuth>;

/**
 * Creates the login kit for one server. See {@link AuthOptions} for options and defaults. The
 * instance is registered under `options.name` (default `'default'`) for {@link getAuth} and
 * `<login-button>`, in every copy of the kit the app bundles. Throws {@link WxLoginKitError} when `baseURL` or a `trustedOrigins` entry is not an absolute
 * http(s) URL, or there is no `wx`.
 * Flow: https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/login.html
 */
export function createAuth(options: AuthOptions) {
  const o = resolveOptions(options);
  const wx = o.wx;
  const trusted = [o.baseURL].concat(o.trustedOrigins).map((url) => {
    const origin = originOf(url);
    if (!origin) throw new WxLoginKitError(`baseURL and trustedOrigins must be like https://api.example.com, not "${url}"`);
    return origin;
  });
  const events = createEmitter<AuthEvents>();
  const codes = createCodeKeeper(wx, o.codeRefreshInterval);
  const store = createTokenStore(wx, o.storageKey, o.globalDataKey, (err) =>
    events.emit('error', new WxLoginKitError('storage failed; the token is in memory only', err)),
  );
  let inflight: Promise<string> | null = null;
  let relogins: number[] = [];
  // Bumped by logout(): a login that started before it must not bring the token back.
  let epoch = 0;
  // Ends the backoff wait of the login under way: logout() must not wait for a retry to lose.
  let wake = () => {};
  // The server rejected our token: until a new one is saved, logins count against the budget.
  let rejected = false;
  // In-band login: requests waiting for the login under way that offer to carry its code. Each
  // sends it and returns its answer, or returns nothing once aborted. Emptied when the login ends.
  let carriers: Array<(code: string) => Promise<WxResponse> | undefined> = [];
  // Off, or the server answered an in-band login without a token: the login POST from now on.
  let classic = !o.inbandLogin;

  /**
   * The current token while it is within its `expiresAt`, else null. An expired one is dropped
   * from memory, globalData and storage: pages reading globalData never send a dead token.
   */
  const fresh = (): string | null => {
    const t = store.current;
    if (t && t.expiresAt !== null && Date.now() >= t.expiresAt) store.clear();
    return store.current && store.current.token;
  };
  /** Hands a failure to the `error` event, then to the caller. */
  const report = (err: WxLoginKitError) => (events.emit('error', err), err);
  const save = (token: string, expiresIn?: number) => {
    const ms = expiresIn! * 1000;
    rejected = false;
    // Stop using it `expiryMargin` before the server does, or halfway for short-lived tokens.
    store.save({ token, expiresAt: ms > 0 ? Date.now() + ms - Math.min(o.expiryMargin, ms / 2) : null });
    events.emit('login', token);
    return token;
  };
  /**
   * Stores the token an answer brings in `X-WX-Token` (+ `X-WX-Token-Expires-In`, s), after an
   * in-band login or a renewal; returns it, if any. Names in any case: WeChat passes them on as
   * the server sent them.
   */
  const adopt = (res: { header?: WxObject }) => {
    const h: Record<string, string> = {};
    for (const k in res.header) h[k.toLowerCase()] = res.header[k] as string;
    return h['x-wx-token'] && save(h['x-wx-token'], +h['x-wx-token-expires-in']);
  };

  /**
   * One attempt: a code, then a token from the answer of a request that carried it (in-band), else
   * from the login POST. Throws LoginError; `live` throws once logged out.
   */
  async function loginOnce(live: () => void): Promise<string> {
    const path = o.loginPath;
    live();
    const code = await codes.getCode().catch((err) => {
      throw new LoginError('WX_LOGIN', `wx.login failed (${err && err.errMsg})`, err);
    });
    live();
    let carried: Promise<WxResponse> | undefined;
    if (!classic) carriers.some((offer) => (carried = offer(code)));
    if (carried) {
      const res = await carried.catch(() => ({}));
      live();
      const token = adopt(res);
      if (token) return token;
      // No token in the answer (a server that does not log in on the way, or refused to), or no
      // answer: this login and every later one go by POST, with a new code. No loop.
      classic = true;
      return loginOnce(live);
    }
    // A non-2xx rejects HTTPError, no answer NetworkError: the cause, and the message after "login".
    const res = await call<WxResponse>('request', { url: path, method: 'POST', data: o.loginData(code, { platform: o.platform, appid: o.appid }), auth: false }).catch((err: HTTPError) => {
      throw new LoginError(err.statusCode ? 'HTTP' : 'NETWORK', err.message.replace('[wx-login-kit]', 'login'), err);
    });
    // wx.request hands JSON over parsed: a string here is an answer that was not JSON.
    const parsed = o.parseLogin(res.data);
    if (!parsed || typeof parsed.token !== 'string' || !parsed.token) {
      throw new LoginError('BAD_RESPONSE', `login answer of ${path} has no token (got ${typeof res.data}); nothing stored`);
    }
    live();
    return save(parsed.token, parsed.expiresIn);
  }

  /**
   * loginOnce, retried with backoff after a wx.login failure, a network error or a 5xx; never after
   * a 4xx. The logout epoch is read once, here: a logout() at any stage, the backoff wait included,
   * ends the login with ABORTED.
   */
  async function loginWithRetries(): Promise<string> {
    const started = epoch;
    const aborted = () => new LoginError('ABORTED', 'logout() during the login; nothing stored');
    const live = () => {
      if (started !== epoch) throw aborted();
    };
    for (let attempt = 0; ; attempt++) {
      try {
        return await loginOnce(live);
      } catch (err) {
        // Anything else that throws here is the loginData or parseLogin adapter.
        const e = started !== epoch ? aborted() : err instanceof LoginError ? err : new LoginError('BAD_RESPONSE', `loginData/parseLogin threw (${err})`, err);
        const transient = e.code === 'HTTP' ? (e.cause as HTTPError).statusCode > 499 : e.code === 'WX_LOGIN' || e.code === 'NETWORK';
        if (!transient || attempt >= o.loginRetries) throw report(e);
        await new Promise<void>((resolve) => setTimeout((wake = resolve), o.retryDelay * 2 ** attempt));
      }
    }
  }

  /** A fresh login now. Concurrent callers share one: one wx.login, one POST. */
  function login(): Promise<string> {
    if (!inflight) {
      const p = (inflight = loginWithRetries());
      // Only this login's own slot: logout() may have let a newer one start.
      const clear = () => inflight === p && ((inflight = null), (carriers = []));
      p.then(clear, clear);
    }
    return inflight;
  }

  /** The current unexpired token, else a login. */
  function ensureLogin(): Promise<string> {
    const token = fresh();
    return token ? Promise.resolve(token) : login();
  }

  /**
   * The token to retry with after an unauthorized answer to a request sent with `sent`. If another
   * request logged in again already, its token; else drop `sent` and log in once for every request
   * rejected with it, within the re-login budget.
   */
  function recover(sent: string): Promise<string> {
    const current = store.current;
    if (current && current.token !== sent) return ensureLogin();
    store.clear();
    rejected = true;
    return relogin();
  }

  /** A login after the server rejected our token: shared, and at most `reloginLimit` per `reloginWindow`. */
  function relogin(): Promise<string> {
    if (inflight) return inflight;
    const now = Date.now();
    relogins = relogins.filter((t) => now - t < o.reloginWindow);
    if (relogins.length >= o.reloginLimit) {
      return Promise.reject(report(new LoginError('RELOGIN_LIMIT', `${o.reloginLimit} re-logins in ${o.reloginWindow} ms, still rejected; check the server`)));
    }
    relogins.push(now);
    return login();
  }

  /**
   * One mechanism for every call to the server (request, uploadFile, downloadFile): the token for
   * trusted origins, the login it waits for, the 401 recovery, abort and progress.
   */
  function call<R extends { statusCode: number; data?: unknown; header?: WxObject }>(
    kind: 'request' | 'uploadFile' | 'downloadFile',
    options: (WxRequestOption | WxUploadFileOption | WxDownloadFileOption) & CallOptions & { onProgressUpdate?: (res: never) => void },
    result: (raw: R) => R = (raw) => raw,
    // logout(): this token, no login, and an unauthorized answer is the end it wanted, not a retry.
    fixed?: string,
  ): AbortablePromise<R> {
    const url = resolveURL(o.baseURL, options.url);
    const method = kind === 'uploadFile' ? 'POST' : (options as WxRequestOption).method || 'GET';
    let task: WxTask | undefined;
    let abort!: (err: AbortError) => void;
    const aborted = new Promise<never>((_, reject) => (abort = reject));
    let stopped: AbortError | undefined;
    /** Throws once aborted: nothing is sent, and no login starts, after abort(). */
    const live = () => {
      if (stopped) throw stopped;
    };
    const send = (token?: string, code?: string) => {
      live();
      const header: WxObject = Object.assign({}, options.header);
      if (token || code) {
        // Ours replaces a caller's header of the same name, whatever its case.
        for (const k in header) if (k.toLowerCase() === o.tokenHeader.toLowerCase()) delete header[k];
        if (token) header[o.tokenHeader] = o.tokenScheme ? o.tokenScheme + ' ' + token : token;
        // The code, and the app it is for (a server of several apps needs them; one app ignores them).
        else Object.assign(header, { 'x-wx-login-code': code, 'x-wx-login-platform': o.platform }, o.appid && { 'x-wx-login-appid': o.appid });
      }
      // No queue of our own: since base library 1.4.0 WeChat queues calls past its 10 concurrent.
      return wxSend<R>(wx, kind, method, Object.assign({}, options, { url, header }), (t) => {
        task = t;
        if (options.onProgressUpdate && t.onProgressUpdate) t.onProgressUpdate(options.onProgressUpdate);
        if (options.onHeadersReceived && t.onHeadersReceived) t.onHeadersReceived(options.onHeadersReceived);
      }).then(result);
    };
    const check = (res: R, detail?: string) => {
      if (res.statusCode < 200 || res.statusCode > 299 || detail) throw new HTTPError(method, url, res.statusCode, res.data, detail);
      return res;
    };
    // isUnauthorized reads a wx.request answer: give the others the same shape.
    const unauthorized = (res: R) => o.isUnauthorized(Object.assign({ header: {}, cookies: [] }, res) as unknown as WxResponse);

    /**
     * Sends with the token `need` resolves. A request that waits for a login offers to carry its
     * code (in-band login): if the login picks it, its own answer stands when it brought the token
     * or is a 2xx; otherwise it is sent again with the token. An answer to the token we hold may
     * bring its successor (in-band renewal). Resolves the answer and the token.
     */
    async function attempt(need: Promise<string> | string): Promise<[R, string]> {
      let carried: Promise<R> | undefined;
      if (need === inflight && kind === 'request') carriers.push((code) => (stopped ? undefined : (carried = send(undefined, code))) as Promise<WxResponse> | undefined);
      const token = await Promise.race([need, aborted]);
      let res = carried && (await carried);
      // `classic` is still off only when the carried answer brought the token (see loginOnce).
      if (!res || (res.statusCode > 299 && classic)) {
        res = await send(token);
        // Only a successor of the token held now: an answer to an older one is older news.
        if (res.statusCode < 300 && fresh() === token) adopt(res);
      }
      return [res, token];
    }

    async function run(): Promise<R> {
      if (options.auth === false || trusted.indexOf(originOf(url) as string) < 0) return check(await send());
      let [res, token] = await attempt(fixed || (rejected ? relogin() : ensureLogin()));
      if (!unauthorized(res)) return check(res);
      if (fixed) return res;
      live();
      [res] = await attempt(recover(token));
      return check(res, unauthorized(res) ? ', still unauthorized after a new login' : '');
    }
    const p = Promise.race([run(), aborted]) as unknown as AbortablePromise<R>;
    // After the call settled this changes nothing: the race is decided, and aborting a finished
    // task is a no-op in WeChat.
    p.abort = () => {
      abort((stopped = stopped || new AbortError(method, url)));
      if (task && task.abort) task.abort();
    };
    return p;
  }

  const auth = {
    /**
     * The current unexpired token, or `null`. An expired token found here (or by any call) is
     * dropped from globalData and storage too.
     */
    get token(): string | null {
      return fresh();
    },

    /**
     * Call in `App.onLaunch`: resolves a stored unexpired token with no network, else logs in, and
     * mirrors the token into `app.globalData[globalDataKey]`. `app`: the App (`this` in a native
     * or uni-app options-API `onLaunch`, `Taro.getApp()` in Taro); without it, `getApp()` when
     * there is one. Safe not to await: a failure goes to the `error` event and never surfaces as
     * an unhandled rejection.
     */
    launch(app?: object): Promise<string> {
      if (!app && typeof getApp === 'function') app = getApp();
      if (app) store.attach(app as { globalData?: WxObject });
      const p = ensureLogin();
      p.catch(() => {});
      return p;
    },

    /** A fresh login now; concurrent callers share one. Rejects {@link LoginError}. */
    login,
    /** The current unexpired token, else a login. Rejects {@link LoginError}. */
    ensureLogin,

    /**
     * `wx.request` with the token. Resolves `{data, statusCode, header, cookies}` for a 2xx.
     * Rejects {@link HTTPError} for another status, {@link NetworkError} when there was no answer,
     * {@link LoginError} when no token could be had, {@link AbortError} after `abort()`. After an
     * unauthorized answer (see `isUnauthorized`) it logs in again once and retries once; calls
     * rejected with the same token share that one login.
     */
    request<T = unknown>(options: RequestOptions): AbortablePromise<WxResponse<T>> {
      return call<WxResponse<T>>('request', options);
    },

    /**
     * `wx.uploadFile` with the token, and everything `request` does (401 recovery, abort, errors).
     * Resolves WeChat's result `{data, statusCode, ...}` plus `json` for a 2xx: `data` is the body
     * text, `json` it parsed (`undefined` when it is not JSON). A retry after a 401 sends the file
     * again from `filePath`. Uploads never carry an in-band login code (their result has no headers).
     * https://developers.weixin.qq.com/miniprogram/dev/api/network/upload/wx.uploadFile.html
     */
    uploadFile<T = unknown>(options: UploadFileOptions): AbortablePromise<UploadFileResult<T>> {
      return call<UploadFileResult<T>>('uploadFile', options, (res) => {
        try {
          res.json = JSON.parse(res.data);
        } catch (e) {
          // not JSON: `data` has the text
        }
        return res;
      });
    },

    /**
     * `wx.downloadFile` with the token, and everything `request` does (401 recovery, abort,
     * errors). Resolves `{tempFilePath, filePath?, statusCode}` for a 2xx.
     * https://developers.weixin.qq.com/miniprogram/dev/api/network/download/wx.downloadFile.html
     */
    downloadFile(options: DownloadFileOptions): AbortablePromise<WxDownloadFileResult> {
      return call<WxDownloadFileResult>('downloadFile', options);
    },

    /**
     * A login code that is unused and younger than `codeRefreshInterval`, else a new `wx.login`.
     * Never the same code twice. `{refill: false}`: do not fetch the next code until you call
     * `startCodeRefresh()` again (for codes sent with encryptedData). Rejects with `wx.login`'s
     * fail result `{errMsg}`.
     */
    getCode: codes.getCode,

    /** Keeps a fresh code while something (a login button) needs one; call the returned function to stop. */
    startCodeRefresh: codes.start,

    /** Stores a token obtained elsewhere (e.g. a phone login answer) like a login does; `expiresIn` in seconds. */
    setToken: save as (token: string, expiresIn?: number) => void,

    /**
     * Logs out, and a login under way loses: it rejects {@link LoginError} `ABORTED` at once (its
     * backoff wait included), stores nothing and sends no further login POST. The token is
     * forgotten (memory, globalData, storage) and `logout` emitted before anything is sent; then,
     * when there was a token, one POST with it to `logoutPath` (`{everywhere: true}`:
     * `logoutAllPath`, every session of the user) ends it on the server. That POST is fire and
     * forget: never retried, never a login; an unauthorized answer means the session was over
     * already; a failure (offline, another non-2xx) goes to the `error` event only.
     */
    logout(options?: { everywhere?: boolean }): void {
      const had = store.current;
      const path = options && options.everywhere ? o.logoutAllPath : o.logoutPath;
      epoch++;
      wake();
      inflight = null;
      carriers = [];
      rejected = false;
      store.clear();
      events.emit('logout', undefined);
      if (had && path) call('request', { url: path, method: 'POST' }, undefined, had.token).catch(report);
    },

    /** Subscribes to `login`, `logout` or `error`; returns the unsubscribe function. */
    on: events.on,

    /** The options in force, defaults filled in. */
    options: o as Readonly<ResolvedOptions>,
  };
  register(o.name, auth);
  return auth;
}

function resolveOptions(options: AuthOptions): ResolvedOptions {
  const o = Object.assign({}, DEFAULTS) as ResolvedOptions;
  for (const k in options) {
    const v = options[k as keyof AuthOptions];
    if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  }
  const found = findPlatform(options.wx);
  if (!found) throw new WxLoginKitError('no wx, tt or my: pass options.wx outside a mini program');
  return Object.assign(o, found);
}

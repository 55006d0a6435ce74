import { createCodeKeeper } from './code-keeper';
import { createEmitter } from './emitter';
import { HTTPError, LoginError, WxLoginKitError } from './errors';
import { DEFAULTS, type AuthOptions, type ResolvedOptions, type WxLike, type WxResponse } from './options';
import { createLimiter, wxRequest } from './platform';
import { createTokenStore, type StoredToken } from './token-store';
import { originOf, resolveURL } from './url';

/** Events of {@link Auth.on}: `login` gets the new token, `error` every login or storage failure. */
export interface AuthEvents {
  login: string;
  logout: undefined;
  error: WxLoginKitError;
}

/** `wx.request` options for {@link Auth.request}; `url` may be relative to `baseURL`. */
export type RequestOptions = Omit<WechatMiniprogram.RequestOption, 'success' | 'fail' | 'complete'> & {
  /** `false`: send no token and skip login and 401 handling. @default true */
  auth?: boolean;
};

export type Auth = ReturnType<typeof createAuth>;

let defaultAuth: Auth | null = null;

/**
 * The auth instance most recently made by {@link createAuth}: how `<login-button>` finds your
 * app's instance with no wiring. Throws when none was made yet.
 */
export function getDefaultAuth(): Auth {
  if (!defaultAuth) throw new WxLoginKitError('no auth instance yet: call createAuth({ baseURL }) in app.ts before any page or <login-button> loads');
  return defaultAuth;
}

/**
 * Creates the login kit for one server. See {@link AuthOptions} for options and defaults.
 * Throws {@link WxLoginKitError} when `baseURL` is not an absolute http(s) URL or there is no `wx`.
 * Flow: https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/login.html
 */
export function createAuth(options: AuthOptions) {
  const o = resolveOptions(options);
  const { wx } = o;
  const trusted = new Set([o.baseURL, ...o.trustedOrigins].map((u) => originOf(u)));
  const loginURL = resolveURL(o.baseURL, o.loginPath);
  const events = createEmitter<AuthEvents>();
  const limit = createLimiter(o.maxConcurrent);
  const codes = createCodeKeeper(wx, o.codeRefreshInterval);
  const store = createTokenStore(wx, o.storageKey, o.globalDataKey, (err) =>
    events.emit('error', new WxLoginKitError('could not write the token to storage (wx.setStorageSync failed, storage full?); the kit keeps it in memory for this run', err)),
  );
  let inflight: Promise<string> | null = null;
  let relogins: number[] = [];

  const isFresh = (t: StoredToken | null): t is StoredToken =>
    t !== null && (t.expiresAt === null || Date.now() < t.expiresAt - o.expiryMargin);

  const send = <T>(req: RequestOptions & { url: string }) => limit(() => wxRequest<T>(wx, req));

  store.restore();

  /** One attempt: a code, the login POST, a token. Throws LoginError. */
  async function loginOnce(): Promise<string> {
    let code: string;
    try {
      code = await codes.getCode();
    } catch (err) {
      throw new LoginError('WX_LOGIN', `wx.login failed (${errMsgOf(err)}); will retry, then give up until the next request`, err);
    }
    let res: WxResponse;
    try {
      res = await send({ url: loginURL, method: 'POST', data: o.loginData(code), header: { 'content-type': 'application/json' } });
    } catch (err) {
      throw new LoginError('NETWORK', `login POST ${o.loginPath} got no answer (${errMsgOf(err)})`, err);
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const cause = new HTTPError('POST', loginURL, res.statusCode, res.data);
      const hint = res.statusCode >= 500 ? 'the server failed' : 'the server refused the code; check its logs and its AppID/AppSecret';
      throw new LoginError('HTTP', `login POST ${o.loginPath} answered HTTP ${res.statusCode}: ${hint}`, cause);
    }
    let parsed: ReturnType<typeof o.parseLogin> = null;
    let parseErr: unknown;
    try {
      parsed = o.parseLogin(res.data);
    } catch (err) {
      parseErr = err;
    }
    if (!parsed || typeof parsed.token !== 'string' || parsed.token === '') {
      throw new LoginError(
        'BAD_RESPONSE',
        `login answer of ${o.loginPath} has no token: expected JSON {token: string, expiresIn?: number (s)}, got ${describe(res.data)}; nothing was stored`,
        parseErr,
      );
    }
    const { token, expiresIn } = parsed;
    store.save({ token, expiresAt: typeof expiresIn === 'number' && expiresIn > 0 ? Date.now() + expiresIn * 1000 : null });
    events.emit('login', token);
    return token;
  }

  /** loginOnce with backoff retries for transient failures (wx.login, network, 5xx), never for a 4xx. */
  async function loginWithRetries(): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await loginOnce();
      } catch (err) {
        const e = err as LoginError;
        const transient = e.code !== 'BAD_RESPONSE' && (e.code !== 'HTTP' || (e.cause as HTTPError).statusCode >= 500);
        if (!transient || attempt >= o.loginRetries) {
          events.emit('error', e);
          throw e;
        }
        await new Promise((resolve) => setTimeout(resolve, o.retryDelay * 2 ** attempt));
      }
    }
  }

  /** A fresh login now. Concurrent callers share one: one wx.login, one POST. */
  function login(): Promise<string> {
    inflight ??= loginWithRetries().finally(() => {
      inflight = null;
    });
    return inflight;
  }

  /** The current unexpired token, else a login. */
  function ensureLogin(): Promise<string> {
    const current = store.current;
    return isFresh(current) ? Promise.resolve(current.token) : login();
  }

  /**
   * After an unauthorized answer to a request sent with `sent`: the token to retry with.
   * Another request may have logged in again already (use its token); else drop `sent` and log
   * in once for everyone who got unauthorized with it, within the re-login budget.
   */
  function recover(sent: string): Promise<string> {
    const current = store.current;
    if (current && current.token !== sent) return ensureLogin();
    if (current) store.clear();
    if (inflight) return inflight;
    const now = Date.now();
    relogins = relogins.filter((t) => now - t < o.reloginWindow);
    if (relogins.length >= o.reloginLimit) {
      const err = new LoginError(
        'RELOGIN_LIMIT',
        `the server rejected fresh tokens ${o.reloginLimit} times within ${o.reloginWindow} ms; not logging in again until that passes. Check how the server validates tokens`,
      );
      events.emit('error', err);
      return Promise.reject(err);
    }
    relogins.push(now);
    return login();
  }

  async function request<T = unknown>(options: RequestOptions): Promise<WxResponse<T>> {
    const { auth: useAuth = true, ...rest } = options;
    const url = resolveURL(o.baseURL, rest.url);
    const method = (rest.method ?? 'GET').toUpperCase();
    const withToken = (token: string | null) => {
      const header: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(rest.header ?? {})) if (k.toLowerCase() !== o.tokenHeader.toLowerCase()) header[k] = v;
      if (token !== null) header[o.tokenHeader] = o.tokenScheme ? `${o.tokenScheme} ${token}` : token;
      return send<T>({ ...rest, url, header });
    };
    const check = (res: WxResponse<T>) => {
      if (res.statusCode < 200 || res.statusCode >= 300) throw new HTTPError(method, url, res.statusCode, res.data);
      return res;
    };

    if (!useAuth || !trusted.has(originOf(url))) return check(await withToken(null));

    let token = await ensureLogin();
    let res = await withToken(token);
    if (!o.isUnauthorized(res)) return check(res);
    token = await recover(token);
    res = await withToken(token);
    if (o.isUnauthorized(res)) {
      throw new HTTPError(method, url, res.statusCode, res.data, ' (unauthorized) again with a fresh token; not retrying');
    }
    return check(res);
  }

  const auth = {
    /** The current unexpired token, or `null`. */
    get token(): string | null {
      const current = store.current;
      return isFresh(current) ? current.token : null;
    },

    /**
     * Call in `App.onLaunch` with `this`: mirrors the token into `app.globalData[globalDataKey]`,
     * resolves a stored unexpired token with no network, else logs in. Safe not to await: a failure
     * goes to the `error` event and never surfaces as an unhandled rejection.
     */
    launch(app: { globalData?: Record<string, unknown> }): Promise<string> {
      store.attach(app);
      const p = ensureLogin();
      p.catch(() => {});
      return p;
    },

    login,
    ensureLogin,

    /**
     * `wx.request` with the token. Resolves `{data, statusCode, header, cookies}` for a 2xx.
     * Rejects {@link HTTPError} for another status, {@link NetworkError} when there was no answer,
     * {@link LoginError} when no token could be had. After an unauthorized answer (see
     * `isUnauthorized`) it logs in again once and retries once.
     */
    request,

    /**
     * A login code that is unused and younger than `codeRefreshInterval`, else a new `wx.login`.
     * Never the same code twice. `{refill: false}`: do not fetch the next code until you call
     * `startCodeRefresh()` again (for codes sent with encryptedData). Rejects with `wx.login`'s
     * fail result `{errMsg}`.
     */
    getCode: codes.getCode,

    /** Keeps a fresh code while something (a login button) needs one; call the returned function to stop. */
    startCodeRefresh: codes.start,

    /** Stores a token obtained elsewhere (e.g. a phone login answer) like a login does. */
    setToken(token: string, expiresIn?: number) {
      store.save({ token, expiresAt: expiresIn && expiresIn > 0 ? Date.now() + expiresIn * 1000 : null });
      events.emit('login', token);
    },

    /** Forgets the token: memory, globalData and storage. Does not call your server. */
    logout() {
      store.clear();
      events.emit('logout', undefined);
    },

    /** Subscribes; returns the unsubscribe function. */
    on: events.on,

    /** The resolved options (read only), for components that need `phonePath` and friends. */
    options: o as Readonly<ResolvedOptions>,
  };
  defaultAuth = auth;
  return auth;
}

function resolveOptions(options: AuthOptions): ResolvedOptions {
  if (!options || typeof options.baseURL !== 'string' || !originOf(options.baseURL)) {
    throw new WxLoginKitError('options.baseURL must be an absolute http(s) URL such as https://api.example.com');
  }
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const platform: WxLike | undefined = options.wx ?? (typeof wx === 'undefined' ? undefined : wx);
  if (!platform) throw new WxLoginKitError('no wx object: run inside a mini program or pass options.wx');
  for (const origin of options.trustedOrigins ?? []) {
    if (!originOf(origin)) throw new WxLoginKitError(`trustedOrigins entry "${origin}" is not an origin like https://cdn.example.com`);
  }
  return { ...DEFAULTS, ...given, wx: platform } as ResolvedOptions;
}

function errMsgOf(err: unknown): string {
  const e = err as { errMsg?: unknown; message?: unknown } | null;
  return String(e?.errMsg ?? e?.message ?? 'unknown error');
}

// Says what the login answer was without echoing it: it may hold a token or personal data.
function describe(data: unknown): string {
  if (typeof data === 'string') return `text that is not JSON (${data.length} chars)`;
  if (data === null || typeof data !== 'object') return String(typeof data);
  const keys = Object.keys(data);
  return keys.length ? `an object with keys [${keys.slice(0, 8).join(', ')}] and no string "token"` : 'an empty object';
}

/**
 * The apps a `wxLogin` serves, per platform, and one login adapter each: the code exchange
 * (wx.login code / tt.login code / my.getAuthCode authCode / qq.login code -> openid) and how its
 * failures are answered. The plugin sees only {@link LoginApp}; the platforms' own clients are
 * ./wechat (also QQ's: its code2Session is WeChat's), ./douyin and ./alipay.
 *
 * Two ways to configure, one normalized form ({@link normalizeApps}):
 * - the single-app form `{appid, secret}`: one WeChat app, sessions keyed as before `apps`
 *   existed (the openid alone: existing Redis data keeps working), `request.auth` `{openid, unionid?}`;
 * - `apps: [...]`: any number of WeChat, Douyin, Alipay and QQ apps; a session is keyed by platform,
 *   appid and openid, so one openid string in two apps is two users, and `request.auth` says
 *   which app: `{platform, appid, openid, unionid?}`.
 */
import { createAccessTokenClient, type AccessTokenClient } from './access-token';
import { AlipayApiError, AlipayUnreachableError, createAlipayClient, type AlipayClient } from './alipay';
import { DouyinApiError, DouyinUnreachableError, createDouyinClient, type DouyinClient } from './douyin';
import type { SessionStore } from './store';
import { createWechatClient, WechatApiError, WechatUnreachableError, type WechatClient } from './wechat';

/** The mini program platforms a login can come from. */
export type Platform = 'wechat' | 'douyin' | 'alipay' | 'qq';
export const PLATFORMS: readonly Platform[] = ['wechat', 'douyin', 'alipay', 'qq'];

/** A WeChat mini program (mp.weixin.qq.com > 开发管理 > 开发设置). */
export interface WechatAppOptions {
  platform: 'wechat';
  /** AppID, e.g. 'wx' + 16 hex digits. */
  appid: string;
  /** AppSecret. Never logged, never in an answer or an error message. */
  secret: string;
  /** WeChat's API, or the emulator's base URL in tests. @default the plugin's `apiBase` ('https://api.weixin.qq.com') */
  apiBase?: string;
}

/** A Douyin (tt) mini program (developer.open-douyin.com > 控制台 > 小程序详情 > 开发 > 开发配置). */
export interface DouyinAppOptions {
  platform: 'douyin';
  /** AppID, e.g. 'tt' + 16 hex digits. */
  appid: string;
  /** App Secret. Never logged, never in an answer or an error message. */
  secret: string;
  /** Douyin's API, or the Douyin emulator's base URL in tests. @default 'https://developer.toutiao.com' */
  apiBase?: string;
}

/**
 * An Alipay mini program (open.alipay.com > 开发设置 > 接口加签方式 / 接口内容加密方式). Needs the
 * optional peer `alipay-sdk` (4.x).
 */
export interface AlipayAppOptions {
  platform: 'alipay';
  /** The mini program's app_id, e.g. '2021000000000001'. */
  appid: string;
  /** The app's RSA2 private key: PEM (PKCS#1 or PKCS#8) or the bare base64 Alipay's key tool prints. Never logged. */
  privateKey: string;
  /** Bare base64 private key only: its encoding. @default 'PKCS1' */
  keyType?: 'PKCS1' | 'PKCS8';
  /** Alipay's public key for this app (not the app's own): every answer and phone response must verify with it. */
  alipayPublicKey: string;
  /**
   * The app's AES content key (接口内容加密方式, base64): decrypts my.getPhoneNumber's response.
   * Without it, POST /auth/phone answers 400 for this app. Never logged.
   */
  aesKey?: string;
  /** Alipay's gateway, or the Alipay emulator's in tests. @default 'https://openapi.alipay.com/gateway.do' */
  gateway?: string;
}

/**
 * A QQ mini program (q.qq.com > 开发 > 开发设置). Its login is WeChat's shape: `qq.login` gives a
 * code, code2Session (api.q.qq.com/sns/jscode2session) exchanges it. QQ has no phone-number button.
 */
export interface QqAppOptions {
  platform: 'qq';
  /** AppID, e.g. '1110000000' (digits). */
  appid: string;
  /** AppSecret. Never logged, never in an answer or an error message. */
  secret: string;
  /** QQ's API, or an emulator's base URL in tests. @default 'https://api.q.qq.com' */
  apiBase?: string;
}

/** One entry of `apps`. */
export type AppOptions = WechatAppOptions | DouyinAppOptions | AlipayAppOptions | QqAppOptions;

/** Who a login code stands for, as the platform told it. */
export interface Identity {
  openid: string;
  /** WeChat: with an Open Platform account; Douyin and QQ: when they give one; Alipay: never. */
  unionid?: string;
  /** WeChat, Douyin and QQ: the key of this login's encrypted data. Alipay has none. Server side only. */
  session_key?: string;
  /** Douyin, when the login sent an anonymousCode: the device's id before the login. */
  anonymousOpenid?: string;
}

/** How a failure is answered: `{error, message, ...extra}` with `status` and `headers`. */
export interface Failure {
  status: number;
  error: string;
  message: string;
  headers?: Record<string, string>;
  extra?: Record<string, unknown>;
}

/** One app and its login: what the plugin needs of a platform. */
export interface LoginApp {
  readonly platform: Platform;
  readonly appid: string;
  /** What the mini program calls to get a login code, for messages: 'wx.login', 'tt.login', 'my.getAuthCode', 'qq.login'. */
  readonly loginCall: string;
  /**
   * Exchanges a login code (and, Douyin only, its anonymous_code).
   * @throws the platform client's errors; {@link LoginApp.failure} says how to answer them
   */
  exchange(code: string, anonymousCode?: string): Promise<Identity>;
  /** How an error of `exchange` is answered; undefined for an error that is not the platform's (rethrown: a bug). */
  failure(err: unknown): Failure | undefined;
  /** Log fields for a failed exchange: the platform's error code, nothing else. */
  logFields(err: unknown): Record<string, unknown>;
  /** The platform client. QQ's (a WechatClient for code2Session only) stays inside its adapter. */
  readonly wechat?: WechatClient;
  readonly douyin?: DouyinClient;
  readonly alipay?: AlipayClient & { aesKey?: string };
}

/** Where each platform's API is by default. */
export const PLATFORM_DEFAULTS = {
  wechatApiBase: 'https://api.weixin.qq.com',
  douyinApiBase: 'https://developer.toutiao.com',
  alipayGateway: 'https://openapi.alipay.com/gateway.do',
  qqApiBase: 'https://api.q.qq.com',
} as const;

/** What the plugin hands the adapters. */
export interface AppContext {
  /** The single-app form's / default WeChat API base. */
  apiBase: string;
  timeoutMs: number;
  now: () => number;
  fetch?: typeof fetch;
  store: SessionStore;
}

const FIX = 'Pass either { appid, secret } for one WeChat app, or apps: [{ platform, appid, ... }, ...].';

function configError(message: string): Error {
  return new Error(`[wx-login-kit] wxLogin: ${message}`);
}

function checkUrl(url: string, what: string, example: string): void {
  try {
    new URL(url);
  } catch {
    // A malformed base would put a secret-bearing URL into fetch's error.
    throw configError(`${what} must be an absolute URL such as ${example}.`);
  }
}

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/**
 * The options' apps, checked, in one form: `{appid, secret}` gives one WeChat app (`single`: the
 * key layout and `request.auth` of before `apps`), `apps` gives its entries.
 * @throws Error saying what is missing and what to do: both forms at once, neither, an entry
 *   without its platform's fields, an unknown platform, or the same (platform, appid) twice
 */
export function normalizeApps(opts: { appid?: string; secret?: string; apps?: readonly AppOptions[] }): { single: boolean; apps: AppOptions[] } {
  if (opts.apps === undefined) {
    if (!opts.appid || !opts.secret) {
      throw new Error('[wx-login-kit] wxLogin needs appid and secret (mp.weixin.qq.com > 开发管理 > 开发设置).');
    }
    return { single: true, apps: [{ platform: 'wechat', appid: opts.appid, secret: opts.secret }] };
  }
  if (opts.appid !== undefined || opts.secret !== undefined) {
    throw configError(`got both apps and appid/secret. ${FIX} A WeChat app goes in apps as { platform: 'wechat', appid, secret }.`);
  }
  if (!Array.isArray(opts.apps) || opts.apps.length === 0) throw configError(`apps must be a non-empty array. ${FIX}`);
  const seen = new Set<string>();
  return {
    single: false,
    apps: opts.apps.map((entry, i) => {
      const at = `apps[${i}]`;
      const app = entry as Partial<Record<string, unknown>> | null;
      if (typeof app !== 'object' || app === null) throw configError(`${at} must be an object { platform, appid, ... }.`);
      if (!PLATFORMS.includes(app.platform as Platform)) {
        throw configError(`${at}.platform must be one of ${PLATFORMS.map((p) => `'${p}'`).join(', ')} (got ${JSON.stringify(app.platform)}).`);
      }
      if (!nonEmpty(app.appid)) throw configError(`${at} (${String(app.platform)}) needs its appid.`);
      const needs = app.platform === 'alipay' ? ['privateKey', 'alipayPublicKey'] : ['secret'];
      const missing = needs.filter((field) => !nonEmpty(app[field]));
      if (missing.length > 0) {
        const where =
          app.platform === 'alipay'
            ? 'open.alipay.com > 开发设置 > 接口加签方式 (the app private key, and the Alipay public key)'
            : app.platform === 'douyin'
              ? 'developer.open-douyin.com > 小程序详情 > 开发 > 开发配置'
              : app.platform === 'qq'
                ? 'q.qq.com > 开发 > 开发设置'
                : 'mp.weixin.qq.com > 开发管理 > 开发设置';
        throw configError(`${at} (${String(app.platform)} ${app.appid}) needs ${missing.join(' and ')}: see ${where}.`);
      }
      if (app.aesKey !== undefined && !nonEmpty(app.aesKey)) throw configError(`${at} (alipay ${app.appid}): aesKey, when given, must be the base64 content key.`);
      const key = `${String(app.platform)}\0${app.appid}`;
      if (seen.has(key)) throw configError(`${at} repeats ${String(app.platform)} app ${app.appid}: list each (platform, appid) once.`);
      seen.add(key);
      return entry;
    }),
  };
}

/** The WeChat login: code2Session; failures answered as before `apps` existed. */
function wechatApp(opts: WechatAppOptions, ctx: AppContext): LoginApp {
  const apiBase = opts.apiBase ?? ctx.apiBase;
  checkUrl(apiBase, 'apiBase', PLATFORM_DEFAULTS.wechatApiBase);
  const accessTokens = createAccessTokenClient({
    apiBase,
    appid: opts.appid,
    secret: opts.secret,
    now: ctx.now,
    timeoutMs: ctx.timeoutMs,
    fetch: ctx.fetch,
    cache: ctx.store.accessTokenCache(opts.appid),
  });
  const wechat = createWechatClient({ apiBase, appid: opts.appid, secret: opts.secret, timeoutMs: ctx.timeoutMs, fetch: ctx.fetch, accessTokens });
  return {
    platform: 'wechat',
    appid: opts.appid,
    loginCall: 'wx.login',
    wechat,
    exchange: (code) => wechat.code2Session(code),
    failure: wechatFailure,
    logFields: (err) => ({ errcode: err instanceof WechatApiError ? err.errcode : undefined, reason: (err as Error).name }),
  };
}

/** How each WeChat failure (code2Session, getuserphonenumber) is answered to the mini program. */
export function wechatFailure(err: unknown): Failure | undefined {
  if (err instanceof WechatUnreachableError) {
    return { status: 502, error: 'wechat_unreachable', message: 'Could not reach WeChat to check the login code. Retry shortly.' };
  }
  if (!(err instanceof WechatApiError)) return undefined;
  switch (err.errcode) {
    case 40029:
    case 40163:
      return {
        status: 401,
        error: 'invalid_code',
        message: 'WeChat rejected the login code (expired, already used, or issued to another app). Call wx.login again for a fresh code.',
      };
    case 45011:
      return {
        status: 429,
        error: 'rate_limited',
        message:
          err.api === 'code2Session'
            ? 'Too many logins for this user in the last minute. Retry after 60 seconds with a fresh wx.login code.'
            : `WeChat's per-minute quota of ${err.api} is spent. Retry after 60 seconds.`,
        headers: { 'Retry-After': '60' },
        extra: { retryAfter: 60 },
      };
    case -1:
      return { status: 503, error: 'wechat_busy', message: 'WeChat is busy. Retry in a second.', headers: { 'Retry-After': '1' } };
    case 40226:
      return { status: 403, error: 'user_blocked', message: 'WeChat flagged this user as high risk; login is refused.' };
    default:
      return {
        status: 502,
        error: 'wechat_error',
        message: `WeChat refused ${err.api} with errcode ${err.errcode}; check the server's appid and secret.`,
        extra: { errcode: err.errcode },
      };
  }
}

/** The answers shared by Douyin's, Alipay's and QQ's failures (platform-neutral names; WeChat keeps its own). */
const neutral = {
  invalidCode: (platform: string, loginCall: string): Failure => ({
    status: 401,
    error: 'invalid_code',
    message: `${platform} rejected the login code (expired, already used, or issued to another app). Call ${loginCall} again for a fresh code.`,
  }),
  busy: (platform: string): Failure => ({ status: 503, error: 'platform_busy', message: `${platform} is busy. Retry in a second.`, headers: { 'Retry-After': '1' } }),
  unreachable: (platform: string): Failure => ({ status: 502, error: 'platform_unreachable', message: `Could not reach ${platform} to check the login code. Retry shortly.` }),
  refused: (platform: string, what: string, advice: string): Failure => ({ status: 502, error: 'platform_error', message: `${platform} refused ${what}; ${advice}.` }),
};

/** The Douyin login: jscode2session (./douyin). */
function douyinApp(opts: DouyinAppOptions, ctx: AppContext): LoginApp {
  const apiBase = opts.apiBase ?? PLATFORM_DEFAULTS.douyinApiBase;
  checkUrl(apiBase, `apiBase of Douyin app ${opts.appid}`, PLATFORM_DEFAULTS.douyinApiBase);
  const douyin = createDouyinClient({ apiBase, appid: opts.appid, secret: opts.secret, timeoutMs: ctx.timeoutMs, fetch: ctx.fetch });
  return {
    platform: 'douyin',
    appid: opts.appid,
    loginCall: 'tt.login',
    douyin,
    async exchange(code, anonymousCode) {
      const { openid, unionid, session_key, anonymous_openid } = await douyin.code2Session(code, anonymousCode);
      const identity: Identity = { openid, session_key };
      if (unionid !== undefined) identity.unionid = unionid;
      if (anonymous_openid !== undefined) identity.anonymousOpenid = anonymous_openid;
      return identity;
    },
    failure(err) {
      if (err instanceof DouyinUnreachableError) return neutral.unreachable('Douyin');
      if (!(err instanceof DouyinApiError)) return undefined;
      switch (err.kind) {
        case 'invalid_code':
          return neutral.invalidCode('Douyin', 'tt.login');
        case 'busy':
          return neutral.busy('Douyin');
        case 'config':
          return neutral.refused('Douyin', `code2Session with err_no ${err.err_no}`, "check the server's appid and secret of this Douyin app");
        default:
          return neutral.refused('Douyin', `code2Session with err_no ${err.err_no}`, 'check the request and the server configuration');
      }
    },
    logFields: (err) => ({ err_no: err instanceof DouyinApiError ? err.err_no : undefined, reason: (err as Error).name }),
  };
}

/** The Alipay login: alipay.system.oauth.token over alipay-sdk (./alipay). Its access_token is not kept. */
function alipayApp(opts: AlipayAppOptions): LoginApp {
  const gateway = opts.gateway ?? PLATFORM_DEFAULTS.alipayGateway;
  checkUrl(gateway, `gateway of Alipay app ${opts.appid}`, PLATFORM_DEFAULTS.alipayGateway);
  const client = createAlipayClient({
    appId: opts.appid,
    privateKey: opts.privateKey,
    keyType: opts.keyType,
    alipayPublicKey: opts.alipayPublicKey,
    gateway,
  });
  return {
    platform: 'alipay',
    appid: opts.appid,
    loginCall: 'my.getAuthCode',
    alipay: { ...client, aesKey: opts.aesKey },
    async exchange(code) {
      // Only the openid: the access_token serves alipay.user.info.share, which the login does not call.
      const { openid } = await client.exchangeAuthCode(code);
      return { openid };
    },
    failure(err) {
      if (err instanceof AlipayUnreachableError) return neutral.unreachable('Alipay');
      if (!(err instanceof AlipayApiError)) return undefined;
      if (err.sub_code === 'isv.code-invalid') return neutral.invalidCode('Alipay', 'my.getAuthCode');
      if (err.code === '20000') return neutral.busy('Alipay');
      return neutral.refused('Alipay', `alipay.system.oauth.token with ${err.sub_code || err.code}`, "check the server's appid, privateKey and alipayPublicKey of this Alipay app");
    },
    logFields: (err) => ({ sub_code: err instanceof AlipayApiError ? err.sub_code : undefined, reason: (err as Error).name }),
  };
}

/** A key store that refuses: QQ's client is for code2Session only, and must never ask WeChat (or QQ) for an access token. */
const noAccessTokens: AccessTokenClient = {
  get: () => Promise.reject(new Error('[wx-login-kit] a QQ app has no access token: the kit calls only its code2Session.')),
  refresh: () => Promise.reject(new Error('[wx-login-kit] a QQ app has no access token: the kit calls only its code2Session.')),
};

/**
 * The QQ login: QQ's code2Session is WeChat's (same query, same `{errcode, errmsg, openid,
 * session_key, unionid}`; QQ adds errcode 0 and `uin` on success, and empty openid/session_key
 * beside the errcode on errors), so WeChat's client does it against QQ's API base.
 * QQ's doc: q.qq.com/wiki, 服务端 API > 登录 > code2Session (errcodes -1 busy, 0 ok, 40029 invalid code, 45011 limit).
 * The client is not exposed (`wechat` is WeChat's only: app.wxLogin.wechat, the phone flows).
 */
function qqApp(opts: QqAppOptions, ctx: AppContext): LoginApp {
  const apiBase = opts.apiBase ?? PLATFORM_DEFAULTS.qqApiBase;
  checkUrl(apiBase, `apiBase of QQ app ${opts.appid}`, PLATFORM_DEFAULTS.qqApiBase);
  const qq = createWechatClient({ apiBase, appid: opts.appid, secret: opts.secret, timeoutMs: ctx.timeoutMs, fetch: ctx.fetch, accessTokens: noAccessTokens });
  return {
    platform: 'qq',
    appid: opts.appid,
    loginCall: 'qq.login',
    exchange: (code) => qq.code2Session(code),
    failure(err) {
      if (err instanceof WechatUnreachableError) return neutral.unreachable('QQ');
      if (!(err instanceof WechatApiError)) return undefined;
      switch (err.errcode) {
        case 40029:
        case 40163:
          return neutral.invalidCode('QQ', 'qq.login');
        case -1:
          return neutral.busy('QQ');
        case 45011:
          return {
            status: 429,
            error: 'rate_limited',
            message: 'Too many logins for this user in the last minute. Retry after 60 seconds with a fresh qq.login code.',
            headers: { 'Retry-After': '60' },
            extra: { retryAfter: 60 },
          };
        default:
          // e.g. -1009, which QQ answers with an empty openid and session_key.
          return neutral.refused('QQ', `code2Session with errcode ${err.errcode}`, "check the server's appid and secret of this QQ app");
      }
    },
    logFields: (err) => ({ errcode: err instanceof WechatApiError ? err.errcode : undefined, reason: (err as Error).name }),
  };
}

/** The login adapter of one (normalized) app. */
export function createLoginApp(opts: AppOptions, ctx: AppContext): LoginApp {
  switch (opts.platform) {
    case 'wechat':
      return wechatApp(opts, ctx);
    case 'douyin':
      return douyinApp(opts, ctx);
    case 'alipay':
      return alipayApp(opts);
    case 'qq':
      return qqApp(opts, ctx);
  }
}

/**
 * Which app a request names: `platform` and `appid` may each be left out when the rest is enough
 * to tell one app (with one app, both). Resolves to the app, or to a message for a 400
 * unknown_app. The message does not list the apps served: a server of many apps would hand its
 * list to anyone who asks.
 */
export function resolveApp(apps: readonly LoginApp[], platform: unknown, appid: unknown): LoginApp | string {
  const matches = apps.filter((a) => (platform === undefined || a.platform === platform) && (appid === undefined || a.appid === appid));
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) {
    const named = [platform === undefined ? '' : `platform ${String(platform)}`, appid === undefined ? '' : `appid ${String(appid)}`].filter(Boolean).join(', ');
    return `This server has no app ${named}: check the platform and appid the mini program sends.`;
  }
  return 'This server serves several apps: name yours with platform and appid.';
}

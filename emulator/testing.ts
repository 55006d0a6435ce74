/**
 * `wx-login-kit/emulator`: WeChat's server API on loopback, to test your own server without
 * WeChat (Node only, dev-time; it needs fastify, which your server has).
 *
 *   const wechat = await startWechatEmulator();
 *   await app.register(wxLogin, { appid: wechat.appid, secret: wechat.secret, apiBase: wechat.apiBase });
 *   const code = await wechat.loginCode('o_test_alice');   // what wx.login would give alice
 *   // POST /auth/login {code} -> {token}; request.auth.openid is 'o_test_alice'
 *
 * It hands a login code for any openid to whoever asks: it listens on 127.0.0.1 only and refuses
 * to start under NODE_ENV=production.
 */
import { buildEmulator, type Emulator } from './index';

/** The appid the emulator knows by default (WeChat's are 'wx' and 16 hex digits). */
export const EMULATOR_APPID = 'wx00000000e0a1a7';
/** Its AppSecret: known, so a test and the server under test can share it. Never a real secret. */
export const EMULATOR_SECRET = 'emulator-secret-not-for-production';

export interface WechatEmulatorOptions {
  /** @default EMULATOR_APPID */
  appid?: string;
  /** @default EMULATOR_SECRET */
  secret?: string;
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
}

export interface WechatEmulator {
  /** Pass it to `wxLogin` as `apiBase`, e.g. 'http://127.0.0.1:49152'. */
  apiBase: string;
  appid: string;
  secret: string;
  /**
   * A fresh `wx.login` code (single use, 5 minutes) whose code2Session gives `openid`.
   * @throws Error when openid is not 1-64 characters of [A-Za-z0-9_-] (the plugin would refuse it)
   */
  loginCode(openid: string): Promise<string>;
  /**
   * A getPhoneNumber `detail.code` for `openid`, whose getuserphonenumber gives `phoneNumber`
   * (a mainland number without +86; default one derived from the openid). Call `loginCode`
   * for the openid first, as the button does.
   */
  phoneCode(openid: string, phoneNumber?: string): Promise<string>;
  /** The emulator itself: `failNext(errcode, count)` makes the next code2Session calls fail. */
  emulator: Emulator;
  close(): Promise<void>;
}

const OPENID = /^[A-Za-z0-9_-]{1,64}$/;

async function post(apiBase: string, path: string, payload: object): Promise<Record<string, unknown>> {
  const res = await fetch(apiBase + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`[wx-login-kit] emulator ${path}: ${String(body.error)}`);
  return body;
}

/**
 * Starts the emulator on 127.0.0.1.
 * @throws Error under NODE_ENV=production
 */
export async function startWechatEmulator(opts: WechatEmulatorOptions = {}): Promise<WechatEmulator> {
  if (process.env.NODE_ENV === 'production') {
    throw new Error('[wx-login-kit] the WeChat emulator gives anyone a login code for any user; it does not start under NODE_ENV=production.');
  }
  const appid = opts.appid ?? EMULATOR_APPID;
  const secret = opts.secret ?? EMULATOR_SECRET;
  // Read at each exchange: a test names openids as it goes.
  const openids: Record<string, string> = {};
  const phones: Record<string, string> = {};
  const emulator = buildEmulator({ apps: { [appid]: secret }, openids, phones });
  const apiBase = await emulator.app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  return {
    apiBase,
    appid,
    secret,
    async loginCode(openid) {
      if (!OPENID.test(openid)) throw new Error(`[wx-login-kit] loginCode: an openid is 1-64 characters of [A-Za-z0-9_-], not "${openid}".`);
      openids[openid] = openid;
      return (await post(apiBase, '/emulator/login', { appid, user: openid })).code as string;
    },
    async phoneCode(openid, phoneNumber) {
      if (phoneNumber !== undefined) phones[openid] = phoneNumber;
      return (await post(apiBase, '/emulator/open-data', { appid, user: openid, kind: 'getRealtimePhoneNumber' })).code as string;
    },
    emulator,
    close: () => emulator.app.close(),
  };
}

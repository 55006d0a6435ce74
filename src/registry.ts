import type { Auth } from './auth.js';
import { WxLoginKitError } from './errors.js';

/**
 * Where `createAuth` registers its instance so that `<login-button>` finds it.
 *
 * Not a module variable: an app often runs two copies of the kit. Taro and uni-app bundle the
 * ES module build into `vendors.js`/`common/vendor.js`, while the native button component keeps
 * its own CommonJS file; a module variable would exist once per copy and the button would never
 * see the app's instance. The global object is the one thing every copy shares, and a
 * `Symbol.for` key is the same symbol in every copy. (Not `wx`: uni-app hands bundled code its own
 * copy of `wx`.) WeChat's base library polyfills `globalThis` (core-js) where the engine lacks it:
 * https://developers.weixin.qq.com/miniprogram/dev/framework/runtime/js-support.html
 */
const KEY = Symbol.for('wx-login-kit');
declare const my: object;
declare const tt: object;

function instances(): Record<string, Auth | undefined> {
  // Without globalThis, the platform's own object (one per app too): WeChat's wx, Alipay's my, Douyin's tt.
  const root = (typeof globalThis == 'object' ? globalThis : typeof wx == 'object' ? wx : typeof my == 'object' ? my : tt) as unknown as Record<symbol, Record<string, Auth> | undefined>;
  return root[KEY] || (root[KEY] = {});
}

/**
 * Registers `auth` under `name`. A name already taken is replaced, with a warning: two instances
 * under one name are usually two `createAuth` calls where one was meant, and `<login-button>`
 * would silently talk to the second.
 */
export function register(name: string, auth: Auth): void {
  const all = instances();
  if (all[name]) console.warn(`[wx-login-kit] a second createAuth named "${name}" replaced the first; give each its own name`);
  all[name] = auth;
}

/**
 * The instance `createAuth({ name })` made, from any copy of the kit in the app; `name` defaults
 * to `'default'`, the name of an instance made without one. Throws {@link WxLoginKitError} when
 * there is none yet.
 */
export function getAuth(name = 'default'): Auth {
  const auth = instances()[name];
  if (!auth) throw new WxLoginKitError(`no auth instance named "${name}": call createAuth({ baseURL, name: '${name}' }) first`);
  return auth;
}

/** The instance made without a `name`: `getAuth('default')`. Throws {@link WxLoginKitError} when there is none yet. */
export function getDefaultAuth(): Auth {
  return getAuth();
}

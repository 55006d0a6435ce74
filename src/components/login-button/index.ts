import type { Auth } from '../../auth.js';
import { LoginError } from '../../errors.js';
import { failReason, isKitError, openTypeMethods } from '../../open-type.js';
import { getAuth } from '../../registry.js';
import type { WxEvent } from '../../wx.js';

/**
 * `<login-button>`: phone-number (or legacy profile) login that works on the first tap.
 *
 * It uses the auth instance your app made with `createAuth` (the one named by its `auth` property,
 * default `'default'`), found through the registry every copy of the kit shares, keeps a fresh
 * `wx.login` code while it is attached and its page is shown, and on the open-type event POSTs
 * `{code, phoneCode?, encryptedData?, iv?}` to `path` (default `phonePath`, or `profilePath` for
 * `getUserInfo`). A token in the answer is stored like a login. When the kit already has a token
 * and the tap gives a phone `code`, it POSTs `{phoneCode}` with the token instead: the number is
 * bound to the user's session, and no kept code is spent.
 *
 * Events: `success` with the server's answer; `fail` with `{reason: 'denied', errMsg}` when the
 * user said no (nothing is sent), or `{reason: 'network' | 'server', error}`.
 * https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/getPhoneNumber.html
 *
 * On Alipay (`my`) the same file registers Alipay's component (index.axml, `props`, events as
 * `onSuccess`/`onFail` props): see {@link alipayButton}.
 */
type Detail = { code?: string; encryptedData?: string; iv?: string; errMsg?: string; errno?: number; detail?: Detail };

/** What a tap handed over, by platform: WeChat's phone `code` (as phoneCode), encryptedData + iv, or Alipay's `response`. */
type Tap = { phoneCode?: string; encryptedData?: string; iv?: string; response?: string };

/** Alipay's `my.getPhoneNumber` (https://opendocs.alipay.com/mini/api/getphonenumber): `response` is a JSON string the server checks. */
declare const my: { getPhoneNumber(o: { success(res: { response: string }): void; fail(err: { error?: number; errorMessage?: string }): void }): void } | undefined;

/** Douyin's global (src/platform.ts). */
declare const tt: object | undefined;

const keepers = new WeakMap<object, () => void>();

/** Keeps a fresh code for `self` while on screen (reference counted inside the kit). */
function keepCode(self: object, auth: () => Auth, on: boolean): void {
  const stop = keepers.get(self);
  if (on && !stop) keepers.set(self, auth().startCodeRefresh());
  if (!on && stop) {
    stop();
    keepers.delete(self);
  }
}

/** What {@link submit} needs of a component, whichever platform's. */
interface Shell {
  auth: Auth;
  /** The `path` property; empty means the auth options' `phonePath` or `profilePath`. */
  path: string;
  profile: boolean;
  loading(on: boolean): void;
  emit(name: 'success' | 'fail', detail: object): void;
  /** Restarts keeping (a fresh code now, for the next tap), if the component keeps one. */
  rekeep(): void;
}

/**
 * POSTs what the tap handed over and emits `success` (the server's answer; a token in it is stored
 * like a login) or `fail` `{reason: 'network' | 'server', error}`.
 */
async function submit(shell: Shell, tap: Tap): Promise<void> {
  const { auth, profile } = shell;
  shell.loading(true);
  try {
    const url = shell.path || (profile ? auth.options.profilePath : auth.options.phonePath);
    // A phone code (WeChat) or an Alipay response names the number by itself: a logged-in user's
    // tap binds it to the session of the token, `{phoneCode}` / `{response}` with the token, no
    // login code spent, no new session (the server half's POST /auth/phone with a Bearer token;
    // WeChat's getuserphonenumber checks the openid, Alipay signs the response for the app).
    const own: Record<string, string> | undefined = tap.phoneCode ? { phoneCode: tap.phoneCode } : tap.response !== undefined ? { response: tap.response } : undefined;
    const bind = !!own && !!auth.token;
    let data: Record<string, string>;
    if (bind) data = own!;
    else {
      // encryptedData (legacy, and Douyin's): the code must be one kept from BEFORE the tap, since
      // a wx.login now may refresh the login state and break decryption; and no refill until the
      // server has used it. With a phone code or a response the login code only names the user.
      data = Object.assign({ code: await auth.getCode({ refill: !!own }), platform: auth.options.platform }, tap as Record<string, string>);
      // The app the code is for, as the login POST says it (a server of several apps needs it).
      if (auth.options.appid) data.appid = auth.options.appid;
    }
    // Not binding, the login code is the credential: no token needed, so no login first.
    const res = await auth.request<{ token?: unknown; expiresIn?: unknown }>({ url, method: 'POST', data, auth: bind });
    const { token, expiresIn } = res.data ?? {};
    if (typeof token === 'string' && token) auth.setToken(token, typeof expiresIn === 'number' ? expiresIn : undefined);
    shell.emit('success', res.data);
  } catch (err) {
    const error = isKitError(err)
      ? err
      : new LoginError('WX_LOGIN', `no login code (${(err as { errMsg?: string }).errMsg}); nothing was sent, ask the user to tap again`, err);
    shell.emit('fail', { reason: error.name === 'HTTPError' ? 'server' : 'network', error });
  } finally {
    shell.loading(false);
    shell.rekeep();
  }
}

function authorized(d: Detail): boolean {
  return typeof d.code === 'string' || typeof d.encryptedData === 'string';
}

/** WeChat's (and Douyin's: index.ttml) component. */
function wechatButton(): void {
  Component({
    options: { multipleSlots: false },
    properties: {
      /** `getPhoneNumber`, `getRealtimePhoneNumber` or `getUserInfo` (legacy: WeChat now answers an anonymous "微信用户"). */
      openType: { type: String, value: 'getPhoneNumber' },
      /** Name of the auth instance to use (`createAuth({ name })`), for apps with several. @default 'default' */
      auth: { type: String, value: 'default' },
      /** Server endpoint; empty means the auth options' `phonePath` or `profilePath`. */
      path: { type: String, value: '' },
      type: { type: String, value: 'default' },
      size: { type: String, value: 'default' },
      plain: { type: Boolean, value: false },
      disabled: { type: Boolean, value: false },
    },
    // privacy: the user has not agreed to the privacy guide yet; the tap then agrees and authorizes at once.
    data: { loading: false, privacy: false },
    lifetimes: {
      attached() {
        this.keepCode(true);
        this.checkPrivacy();
      },
      detached() {
        this.keepCode(false);
      },
    },
    pageLifetimes: {
      show() {
        this.keepCode(true);
        this.checkPrivacy();
      },
      hide() {
        this.keepCode(false);
      },
    },
    // instance(), checkPrivacy() and onAgreePrivacy() are shared with the other component.
    methods: {
      ...openTypeMethods,

      keepCode(on: boolean) {
        keepCode(this, () => this.instance(), on);
      },

      async onAuthorize(e: WxEvent<Detail>) {
        // A request is running: ignore taps (the button is also disabled, so WeChat shows no dialog).
        if (this.data.loading) return;
        // Skyline on devices may nest the payload one level deeper.
        const outer: Detail = e.detail ?? {};
        const d: Detail = authorized(outer) || !outer.detail ? outer : outer.detail;
        // Success is "code or encryptedData present"; a failure's reason comes from errno, then errMsg.
        if (!authorized(d)) {
          const errno = d.errno ?? outer.errno;
          const raw = { errMsg: String(d.errMsg ?? outer.errMsg ?? ''), errno };
          this.triggerEvent('fail', Object.assign({ reason: failReason(raw) }, raw));
          return;
        }
        const auth: Auth = this.instance();
        const profile = this.data.openType === 'getUserInfo';
        // WeChat's phone code (detail.code) is what the server half exchanges; Douyin's newer code
        // flow it does not take yet, so on Douyin the tap's encryptedData + iv go, as before 3.51.0.
        const phoneCode = !profile && auth.options.platform === 'wechat' ? d.code : undefined;
        await submit(
          {
            auth,
            path: this.data.path,
            profile,
            loading: (on) => this.setData({ loading: on }),
            emit: (name, detail) => this.triggerEvent(name, detail),
            rekeep: () => keepers.has(this) && (this.keepCode(false), this.keepCode(true)),
          },
          phoneCode ? { phoneCode } : { encryptedData: d.encryptedData, iv: d.iv },
        );
      },
    },
  });
}

/** An Alipay component instance: `props` (defaults merged with what the page passed), `data`, `setData`. */
interface AlipayInstance {
  props: Record<string, unknown> & { auth: string; path: string };
  data: { loading: boolean };
  setData(patch: object): void;
}

/** Alipay's event object for `this.props.onXxx(event)`: `detail`, and the element's `id` and `data-*` as Alipay's own events carry them (Taro finds its node by them). */
function alipayEvent(props: Record<string, unknown>, type: string, detail: object) {
  const dataset: Record<string, unknown> = {};
  for (const key in props) if (key.startsWith('data-')) dataset[key.slice(5).replace(/-(\w)/g, (_, c: string) => c.toUpperCase())] = props[key];
  const target = { id: props.id, dataset };
  return { type, detail, target, currentTarget: target };
}

/**
 * Alipay's component (index.axml; base library 2.8.5+ for `pageEvents`): the phone number only,
 * through `<button open-type="getAuthorize" scope="phoneNumber">` and then `my.getPhoneNumber`,
 * whose `response` is POSTed `{code, response, platform, appid}` (a logged-in user's: `{response}`
 * with the token). Events go to the page's `onSuccess`/`onFail` props, with the same details as
 * WeChat's. Alipay's response is sealed with the app's AES key, not a session key: the kept code
 * only names the user. https://opendocs.alipay.com/mini/api/getphonenumber ,
 * https://opendocs.alipay.com/mini/component/button , Alipay's 组件对象 doc (AlipayDocs/open-docs, mini/framework/自定义组件/组件对象.md)
 */
function alipayButton() {
  const instance = (self: AlipayInstance) => getAuth(self.props.auth || undefined);
  const emit = (self: AlipayInstance, name: string, detail: object) => {
    const handler = self.props[`on${name[0].toUpperCase()}${name.slice(1)}`];
    if (typeof handler === 'function') handler(alipayEvent(self.props, name, detail));
  };
  const keep = (on: boolean) =>
    function (this: AlipayInstance) {
      keepCode(this, () => instance(this), on);
    };
  return {
    props: { openType: 'getPhoneNumber', auth: 'default', path: '', type: 'default', size: 'default', plain: false, disabled: false },
    data: { loading: false },
    didMount: keep(true),
    didUnmount: keep(false),
    pageEvents: { onShow: keep(true), onHide: keep(false) },
    methods: {
      /** `onGetAuthorize`: the user allowed; my.getPhoneNumber gives the sealed `response`. */
      onGetAuthorize(this: AlipayInstance) {
        if (this.data.loading) return;
        my!.getPhoneNumber({
          success: (res) =>
            submit(
              {
                auth: instance(this),
                path: this.props.path,
                profile: false,
                loading: (on) => this.setData({ loading: on }),
                emit: (name, detail) => emit(this, name, detail),
                rekeep: () => keepers.has(this) && (keep(false).call(this), keep(true).call(this)),
              },
              { response: res.response },
            ),
          // Not an enterprise app, no product binding, ...: errorMessage tells (no errno: Alipay's numbers are not WeChat's).
          fail: (err) => emit(this, 'fail', { reason: failReason({ errMsg: err.errorMessage }), errMsg: String(err.errorMessage || `error ${err.error}`) }),
        });
      },
      /** `onError`: the user said no, or the client could not ask ({type: 'getAuthorize', errorMessage}). */
      onAuthError(this: AlipayInstance, e: { detail?: { errorMessage?: string; errMsg?: string } }) {
        const errMsg = String((e && e.detail && (e.detail.errorMessage || e.detail.errMsg)) || '');
        emit(this, 'fail', { reason: failReason({ errMsg }), errMsg });
      },
    },
  };
}

// Alipay's client defines `my` (and neither `wx` nor `tt`); Douyin's `tt` takes WeChat's component.
const alipay = typeof my == 'object' && typeof tt != 'object' && typeof wx != 'object';
if (alipay) Component(alipayButton() as never);
else wechatButton();

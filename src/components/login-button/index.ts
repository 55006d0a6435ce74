import { LoginError } from '../../errors.js';
import { failReason, isKitError, openTypeMethods } from '../../open-type.js';
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
 */
type Detail = { code?: string; encryptedData?: string; iv?: string; errMsg?: string; errno?: number; detail?: Detail };

const keepers = new WeakMap<object, () => void>();

function authorized(d: Detail): boolean {
  return typeof d.code === 'string' || typeof d.encryptedData === 'string';
}

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


    /** Keeps a fresh code while on screen (reference counted inside the kit). */
    keepCode(on: boolean) {
      const stop = keepers.get(this);
      if (on && !stop) keepers.set(this, this.instance().startCodeRefresh());
      if (!on && stop) {
        stop();
        keepers.delete(this);
      }
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
      const auth = this.instance();
      const profile = this.data.openType === 'getUserInfo';
      this.setData({ loading: true });
      try {
        const url = this.data.path || (profile ? auth.options.profilePath : auth.options.phonePath);
        // WeChat's phone code (detail.code) is what the server half exchanges; Douyin's newer code
        // flow it does not take yet, so on Douyin the tap's encryptedData + iv go, as before 3.51.0.
        const phoneCode = !profile && auth.options.platform === 'wechat' ? d.code : undefined;
        // A logged-in user's phone code binds to the session of the token: `{phoneCode}` with the
        // token, no login code spent, no code2Session, no new session (the server half's
        // POST /auth/phone with a Bearer token; WeChat's getuserphonenumber checks the openid).
        const bind = !!phoneCode && !!auth.token;
        let data: Record<string, string>;
        if (bind) data = { phoneCode: phoneCode! };
        else {
          // encryptedData alone (legacy): the code must be one kept from BEFORE the tap, since a
          // wx.login now may refresh the login state and break decryption; and no refill until the
          // server has used it. With a phone code the login code only names the user: any will do.
          data = { code: await auth.getCode({ refill: !!phoneCode }), platform: auth.options.platform };
          // The app the code is for, as the login POST says it (a server of several apps needs it).
          if (auth.options.appid) data.appid = auth.options.appid;
          if (phoneCode) data.phoneCode = phoneCode;
          if (d.encryptedData) data.encryptedData = d.encryptedData;
          if (d.iv) data.iv = d.iv;
        }
        // Not binding, the login code is the credential: no token needed, so no login first.
        const res = await auth.request<{ token?: unknown; expiresIn?: unknown }>({ url, method: 'POST', data, auth: bind });
        const { token, expiresIn } = res.data ?? {};
        if (typeof token === 'string' && token) auth.setToken(token, typeof expiresIn === 'number' ? expiresIn : undefined);
        this.triggerEvent('success', res.data);
      } catch (err) {
        const error =
          isKitError(err)
            ? err
            : new LoginError('WX_LOGIN', `no login code (${(err as { errMsg?: string }).errMsg}); nothing was sent, ask the user to tap again`, err);
        this.triggerEvent('fail', { reason: error.name === 'HTTPError' ? 'server' : 'network', error });
      } finally {
        this.setData({ loading: false });
        if (keepers.has(this)) {
          // Cover the next tap: restart keeping, which fetches a fresh code now.
          this.keepCode(false);
          this.keepCode(true);
        }
      }
    },
  },
});

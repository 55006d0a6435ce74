/**
 * What the components (<login-button>, <login-profile>) share about WeChat's open-type buttons:
 * why a tap failed, whether the user must still agree to the privacy guide, and kit errors told
 * by name. Not exported from the package: each component bundles what it uses.
 */
import type { Auth } from './auth.js';
import type { WxLoginKitError } from './errors.js';
import { getAuth } from './registry.js';
import type { WxLike } from './wx.js';

/**
 * Why an open-type tap gave no data, for the `fail` event's `reason`:
 * - `denied`: the user said no (and the default for a failure nothing else explains);
 * - `privacy`: the privacy guide is not agreed (errno 104 "privacy permission is not authorized"),
 *   the API is not declared in it (112 "api scope is not declared in the privacy agreement"), or
 *   the app's privacy APIs are banned (1025 "appid privacy api banned");
 * - `quota`: the phone-number quota is used up (1400001 "appid no enough quota");
 * - `unsupported`: this account, client or base library cannot do it (102 "jsapi has no permission",
 *   1421102 "user getPhoneNumber is blocked", or an errMsg saying "no permission"/"not supported").
 * errno 103 is left to errMsg: the privacy guide uses it for "refused the privacy popup", the errno
 * table for "jsapi user authorize denied".
 * https://developers.weixin.qq.com/miniprogram/dev/framework/usability/PublicErrno.html
 * https://developers.weixin.qq.com/miniprogram/dev/framework/user-privacy/PrivacyAuthorize.html
 * https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/getPhoneNumber.html
 */
export type OpenTypeFailReason = 'denied' | 'privacy' | 'quota' | 'unsupported';

const BY_ERRNO: Record<number, OpenTypeFailReason> = { 104: 'privacy', 112: 'privacy', 1025: 'privacy', 1400001: 'quota', 102: 'unsupported', 1421102: 'unsupported' };
// errMsg wording differs across clients and versions: matched only when errno says nothing.
const BY_ERRMSG: Array<[RegExp, OpenTypeFailReason]> = [
  [/privacy/i, 'privacy'],
  [/quota|1400001/i, 'quota'],
  [/not supported|unsupported|no permission|not available|api unauthorized/i, 'unsupported'],
];

/** The reason of a failed open-type event: errno first, errMsg second, else `denied`. */
export function failReason(d: { errno?: unknown; errMsg?: unknown }): OpenTypeFailReason {
  const byErrno = typeof d.errno === 'number' ? BY_ERRNO[d.errno] : undefined;
  if (byErrno) return byErrno;
  const found = BY_ERRMSG.filter(([re]) => re.test(String(d.errMsg || '')))[0];
  return found ? found[1] : 'denied';
}

/** The privacy APIs of base library 2.32.3+, absent before. */
type PrivacyWx = WxLike & { getPrivacySetting?: (o: { success?: (res: { needAuthorization: boolean }) => void }) => void };

/** What the shared methods need of a component: its `auth` property and `privacy` data. */
interface Host {
  data: { auth: string; privacy: boolean };
  setData(data: { privacy: boolean }): void;
  triggerEvent(name: string, detail: object): void;
}

/** The methods both components share; each component's WXML binds `onAgreePrivacy` and reads `privacy`. */
export const openTypeMethods = {
  /** The auth instance named by the `auth` property, from whichever copy of the kit made it. */
  instance(this: Host): Auth {
    return getAuth(this.data.auth || undefined);
  },

  /**
   * Sets `privacy` while the user has not agreed to the privacy guide (wx.getPrivacySetting's
   * `needAuthorization`): the WXML then shows WeChat's combined open-type
   * (`…|agreePrivacyAuthorization`). Where the API is missing (base library below 2.32.3) nothing
   * changes: the plain open-type stays.
   * https://developers.weixin.qq.com/miniprogram/dev/api/open-api/privacy/wx.getPrivacySetting.html
   */
  checkPrivacy(this: Host & { instance(): Auth }): void {
    const wx = this.instance().options.wx as PrivacyWx;
    if (wx.getPrivacySetting) wx.getPrivacySetting({ success: (res) => !!res.needAuthorization !== this.data.privacy && this.setData({ privacy: !!res.needAuthorization }) });
  },

  /** `bindagreeprivacyauthorization`: the user agreed with this tap; the open-type event follows. */
  onAgreePrivacy(this: Host): void {
    this.setData({ privacy: false });
    this.triggerEvent('agreeprivacy', {});
  },
};

/**
 * The components ship as self-contained bundles, so the errors the app's copy of the kit throws
 * are not instances of a component's own classes: tell them by name.
 */
export function isKitError(err: unknown): err is WxLoginKitError {
  return err instanceof Error && /^(WxLoginKit|Login|HTTP|Network|Abort)Error$/.test(err.name);
}

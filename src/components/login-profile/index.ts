import { failReason, isKitError, openTypeMethods } from '../../open-type.js';
import type { WxEvent } from '../../wx.js';

/**
 * `<login-profile>`: the user's avatar and nickname, the way WeChat asks for them today
 * (头像昵称填写能力; getUserInfo/getUserProfile now answer an anonymous "微信用户").
 * https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/userProfile.html
 *
 * - The avatar button is `open-type="chooseAvatar"` (base library 2.21.2+): `detail.avatarUrl` is a
 *   temporary file. While the privacy guide is not agreed it is `open-type="agreePrivacyAuthorization"`
 *   (2.32.3+): a first tap agrees (event `agreeprivacy`), then the button chooses the avatar. WeChat
 *   documents the combined `…|agreePrivacyAuthorization` only for getPhoneNumber,
 *   getRealtimePhoneNumber and getUserInfo, not for chooseAvatar.
 *   https://developers.weixin.qq.com/miniprogram/dev/framework/user-privacy/PrivacyAuthorize.html
 * - The nickname is `<input type="nickname">`: WeChat checks it on blur and reports through
 *   `bindnicknamereview` (`{pass, timeout}`, base library 2.29.1+); a nickname that does not pass
 *   is cleared and `fail {reason: 'nickname'}` is emitted.
 * - The save button (the default slot is its label) uploads the avatar with the token through the
 *   kit's `uploadFile` (`POST avatarPath`, field `avatar`, answered `{id}`), then POSTs
 *   `{nickname, avatarId?}` to `path`, and emits `success` with the server's answer.
 *
 * Events: `success` (the server's profile), `agreeprivacy`, `fail` with `{reason: 'nickname'}`,
 * `{reason: 'denied' | 'privacy' | 'unsupported', errMsg, errno}` for a failed chooseAvatar, or
 * `{reason: 'network' | 'server', error}`.
 */
type AvatarDetail = { avatarUrl?: string; errMsg?: string; errno?: number };

Component({
  properties: {
    /** Name of the auth instance to use (`createAuth({ name })`). @default 'default' */
    auth: { type: String, value: 'default' },
    /** Where the avatar is uploaded (multipart, field `avatar`, answered `{id}`). */
    avatarPath: { type: String, value: '/api/avatar' },
    /** Where `{nickname, avatarId?}` is POSTed. */
    path: { type: String, value: '/api/profile' },
    avatarLabel: { type: String, value: 'Avatar' },
    nicknamePlaceholder: { type: String, value: 'Nickname' },
  },
  data: { avatarUrl: '', nickname: '', loading: false, privacy: false },
  lifetimes: {
    attached() {
      this.checkPrivacy();
    },
  },
  pageLifetimes: {
    show() {
      this.checkPrivacy();
    },
  },
  // instance(), checkPrivacy() and onAgreePrivacy() are shared with the other component.
  methods: {
    ...openTypeMethods,


    onChooseAvatar(e: WxEvent<AvatarDetail>) {
      const d = e.detail || {};
      if (d.avatarUrl) return this.setData({ avatarUrl: d.avatarUrl });
      const raw = { errMsg: String(d.errMsg || ''), errno: d.errno };
      this.triggerEvent('fail', Object.assign({ reason: failReason(raw) }, raw));
    },

    onNickname(e: WxEvent<{ value?: string }>) {
      this.setData({ nickname: String((e.detail && e.detail.value) || '') });
    },

    /** WeChat's check of the nickname: `pass` false (and no `timeout`) means it was rejected. */
    onNicknameReview(e: WxEvent<{ pass?: boolean; timeout?: boolean }>) {
      const d = e.detail || {};
      if (d.pass || d.timeout) return;
      this.setData({ nickname: '' });
      this.triggerEvent('fail', { reason: 'nickname' });
    },

    async onSave() {
      const { avatarUrl, nickname, avatarPath, path } = this.data;
      if (this.data.loading || !nickname.trim()) return;
      const auth = this.instance();
      this.setData({ loading: true });
      try {
        const data: { nickname: string; avatarId?: string } = { nickname: nickname.trim() };
        if (avatarUrl) {
          const uploaded = await auth.uploadFile<{ id?: unknown }>({ url: avatarPath, filePath: avatarUrl, name: 'avatar' });
          if (uploaded.json && typeof uploaded.json.id === 'string') data.avatarId = uploaded.json.id;
        }
        const res = await auth.request({ url: path, method: 'POST', data });
        this.triggerEvent('success', res.data);
      } catch (err) {
        if (!isKitError(err)) throw err;
        this.triggerEvent('fail', { reason: err.name === 'HTTPError' ? 'server' : 'network', error: err });
      } finally {
        this.setData({ loading: false });
      }
    },
  },
});

import type { LoginProfileFailEvent, WxEvent } from 'wx-login-kit';

// <login-profile>: the avatar (chooseAvatar) and a nickname WeChat reviewed, saved with the token.
Component({
  data: { nickname: '', avatarUrl: '', error: '' },
  methods: {
    onSaved(e: WxEvent<{ nickname: string; avatarUrl: string | null }>) {
      this.setData({ nickname: e.detail.nickname, avatarUrl: e.detail.avatarUrl ?? '', error: '' });
    },
    onFail(e: LoginProfileFailEvent) {
      const d = e.detail;
      this.setData({ error: 'error' in d ? `Could not save: ${d.error.message}` : d.reason === 'nickname' ? 'Choose another nickname.' : `No avatar (${d.reason}).` });
    },
  },
});

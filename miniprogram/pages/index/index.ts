import { auth } from '../../auth';

interface PhoneLogin {
  purePhoneNumber: string;
}
interface LoginButtonFail {
  reason: 'denied' | 'network' | 'server';
  errMsg?: string;
  error?: Error;
}

// A page written with Component(), which WeChat supports and miniprogram-simulate can load.
Component({
  data: { status: 'not loaded', openid: '', phone: '', error: '' },
  methods: {
    onLoad() {
      void this.loadMe();
    },
    /** GET /api/me through the kit: it waits for the login and carries the token. */
    async loadMe() {
      this.setData({ status: 'loading…', error: '' });
      try {
        const res = await auth.request<{ openid: string }>({ url: '/api/me' });
        this.setData({ status: 'logged in', openid: res.data.openid });
      } catch (err) {
        this.setData({ status: 'error', error: (err as Error).message });
      }
    },
    /** <login-button> stored the token of the answer; show the number. */
    onPhoneLogin(e: WechatMiniprogram.CustomEvent<PhoneLogin>) {
      this.setData({ phone: e.detail.purePhoneNumber, error: '' });
    },
    onPhoneFail(e: WechatMiniprogram.CustomEvent<LoginButtonFail>) {
      const { reason, error } = e.detail;
      this.setData({ error: reason === 'denied' ? 'You chose not to share your phone number.' : `Phone login failed: ${error?.message}` });
    },
  },
});

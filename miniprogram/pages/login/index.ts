// <login-button> keeps a fresh wx.login code while this page is shown, so the first tap works.
interface PhoneLogin {
  purePhoneNumber: string;
}
interface LoginButtonFail {
  reason: 'denied' | 'network' | 'server';
  errMsg?: string;
  error?: Error;
}

Component({
  data: { phone: '', error: '' },
  methods: {
    /** The button stored the token of the answer; show the number. */
    onPhoneLogin(e: WechatMiniprogram.CustomEvent<PhoneLogin>) {
      this.setData({ phone: e.detail.purePhoneNumber, error: '' });
    },
    onPhoneFail(e: WechatMiniprogram.CustomEvent<LoginButtonFail>) {
      const { reason, error } = e.detail;
      this.setData({ error: reason === 'denied' ? 'You chose not to share your phone number.' : `Phone login failed: ${error?.message}` });
    },
  },
});

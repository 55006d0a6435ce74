import type { LoginButtonFailEvent, LoginButtonSuccessEvent } from 'wx-login-kit';

// <login-button> keeps a fresh wx.login code while this page is shown, so the first tap works.

Component({
  data: { phone: '', error: '' },
  methods: {
    /** The button stored the token of the answer; show the number. */
    onPhoneLogin(e: LoginButtonSuccessEvent<{ purePhoneNumber: string }>) {
      this.setData({ phone: e.detail.purePhoneNumber, error: '' });
    },
    onPhoneFail(e: LoginButtonFailEvent) {
      const d = e.detail;
      this.setData({ error: d.reason === 'denied' ? 'You chose not to share your phone number.' : `Phone login failed: ${d.error.message}` });
    },
  },
});

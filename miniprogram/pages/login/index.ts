import type { LoginButtonFailEvent, LoginButtonSuccessEvent, OpenTypeFailReason } from 'wx-login-kit';

// <login-button> keeps a fresh wx.login code while this page is shown, so the first tap works.

/** What the user is told for each reason WeChat gave no phone number (see the README's table). */
const MESSAGES: Record<OpenTypeFailReason, string> = {
  denied: 'You chose not to share your phone number.',
  privacy: 'Agree to the privacy guide to log in with your phone number.',
  quota: 'Phone login is unavailable right now. Please try again later or log in another way.',
  unsupported: 'Phone login is not supported on this WeChat version. Please update WeChat.',
};

Component({
  data: { phone: '', error: '', agreed: false },
  methods: {
    /** The button stored the token of the answer; show the number. */
    onPhoneLogin(e: LoginButtonSuccessEvent<{ purePhoneNumber: string }>) {
      this.setData({ phone: e.detail.purePhoneNumber, error: '' });
    },
    /** The tap also agreed to the privacy guide (the button showed WeChat's combined open-type). */
    onAgreePrivacy() {
      this.setData({ agreed: true });
    },
    onPhoneFail(e: LoginButtonFailEvent) {
      const d = e.detail;
      this.setData({ error: 'error' in d ? `Phone login failed: ${d.error.message}` : MESSAGES[d.reason] });
    },
  },
});

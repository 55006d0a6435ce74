import type { LoginButtonFailEvent, LoginButtonSuccessEvent } from 'wx-login-kit';

Page({
  data: { phone: '', error: '' },
  onPhoneLogin(e: LoginButtonSuccessEvent<{ purePhoneNumber: string }>) {
    this.setData({ phone: e.detail.purePhoneNumber, error: '' });
  },
  onPhoneFail(e: LoginButtonFailEvent) {
    const d = e.detail;
    this.setData({ error: 'error' in d ? d.error.message : `no phone number (${d.reason})` });
  },
});

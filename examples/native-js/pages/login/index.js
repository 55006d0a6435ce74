Page({
  data: { phone: '', error: '' },
  onPhoneLogin(e) {
    this.setData({ phone: e.detail.purePhoneNumber, error: '' });
  },
  onPhoneFail(e) {
    const d = e.detail;
    this.setData({ error: d.error ? d.error.message : `no phone number (${d.reason})` });
  },
});

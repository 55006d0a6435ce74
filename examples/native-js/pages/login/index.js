Page({
  data: { phone: '', error: '' },
  onPhoneLogin(e) {
    this.setData({ phone: e.detail.purePhoneNumber, error: '' });
  },
  onPhoneFail(e) {
    this.setData({ error: e.detail.reason === 'denied' ? 'You chose not to share your phone number.' : e.detail.error.message });
  },
});

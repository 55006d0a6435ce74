const { auth } = require('../../auth');

Page({
  data: { openid: '', error: '' },
  onLoad() {
    // Waits for the login and carries the token.
    return auth.request({ url: '/api/me' }).then(
      (res) => this.setData({ openid: res.data.openid }),
      (err) => this.setData({ error: err.message }),
    );
  },
});

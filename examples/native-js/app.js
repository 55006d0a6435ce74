const { auth } = require('./auth');

App({
  globalData: { token: null },
  onLaunch() {
    // Restores the stored token, or wx.login + POST the code. No need to await.
    auth.launch(this);
  },
});

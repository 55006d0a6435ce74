import { auth } from './auth';

App<{ globalData: { token: string | null } }>({
  globalData: { token: null },
  onLaunch() {
    // Restores the stored token, or runs wx.login and POSTs the code. No need to await it:
    // every auth.request waits for the login, and failures go to auth.on('error').
    auth.launch(this);
  },
});

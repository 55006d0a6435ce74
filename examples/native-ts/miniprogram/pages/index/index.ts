import { auth } from '../../auth';

Page({
  data: { openid: '', error: '' },
  async onLoad() {
    try {
      // Waits for the login and carries the token.
      const res = await auth.request<{ openid: string }>({ url: '/api/me' });
      this.setData({ openid: res.data.openid });
    } catch (err) {
      this.setData({ error: (err as Error).message });
    }
  },
});

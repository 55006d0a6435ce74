import { auth } from '../../auth';

// A page written with Component(), which WeChat supports and miniprogram-simulate can load.
Component({
  data: { status: 'not loaded', openid: '', error: '' },
  methods: {
    onLoad() {
      void this.loadMe();
    },
    /** GET /api/me through the kit: it waits for the login and carries the token. */
    async loadMe() {
      this.setData({ status: 'loading…', error: '' });
      try {
        const res = await auth.request<{ openid: string }>({ url: '/api/me' });
        this.setData({ status: 'logged in', openid: res.data.openid });
      } catch (err) {
        this.setData({ status: 'error', error: (err as Error).message });
      }
    },
  },
});

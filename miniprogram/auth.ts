import { createAuth } from 'wx-login-kit';

// The server URL comes from ext.json's "ext" when present (the headless demo sets it), else the
// `npm run dev` server. Add the real domain to the request allow-list for a device build.
const ext = (wx.getExtConfigSync ? wx.getExtConfigSync() : {}) as { baseURL?: string };

/**
 * The app's one auth instance. `createAuth` also makes it the default that <login-button> uses.
 * inbandLogin: the first call logs in on the way (our server half speaks it), one hop less.
 */
export const auth = createAuth({ baseURL: ext.baseURL || 'http://127.0.0.1:3000', inbandLogin: true });

import { createAuth } from 'wx-login-kit';

// Your server. (ext.json's "ext" can set it; the repo's check:examples does.)
const ext = (wx.getExtConfigSync ? wx.getExtConfigSync() : {}) as { baseURL?: string };

/** The app's one auth instance; <login-button> finds it with no wiring. */
export const auth = createAuth({ baseURL: ext.baseURL || 'https://api.example.com' });

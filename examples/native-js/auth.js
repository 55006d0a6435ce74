const { createAuth } = require('wx-login-kit');

// Your server. (ext.json's "ext" can set it; the repo's check:examples does.)
const ext = wx.getExtConfigSync ? wx.getExtConfigSync() : {};

/** The app's one auth instance; <login-button> finds it with no wiring. */
module.exports.auth = createAuth({ baseURL: ext.baseURL || 'https://api.example.com' });

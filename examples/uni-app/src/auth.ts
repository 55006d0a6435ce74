import { createAuth } from 'wx-login-kit'

// The server comes from ext.json (wx.getExtConfigSync) when there is one, else the local demo server.
const ext = (uni.getExtConfigSync ? uni.getExtConfigSync() : {}) as { baseURL?: string }

export const auth = createAuth({ baseURL: ext.baseURL || 'http://127.0.0.1:3000' })

/**
 * wx-login-kit/server: the server half of the login flow, for Node (fastify 5).
 *
 *   import Fastify from 'fastify';
 *   import { serverOptions, wxLogin } from 'wx-login-kit/server';
 *   const app = Fastify(serverOptions({ logger: true }));
 *   await app.register(wxLogin, { appid, secret });
 *   // or several apps: { apps: [{ platform: 'wechat', appid, secret }, { platform: 'douyin', appid, secret },
 *   //   { platform: 'alipay', appid, privateKey, alipayPublicKey, aesKey }, { platform: 'qq', appid, secret }] }
 *   app.get('/api/me', { preHandler: app.requireAuth }, async (request) => request.auth);
 *
 * Not part of the mini program package: WeChat's 构建 npm copies only `miniprogram_dist`.
 */
export { wxLogin, wxLoginErrorHandler, DEFAULTS, HEADERS } from './plugin';
export { serverOptions, SERVER_DEFAULTS } from './server-options';
export type { WxLoginOptions, WxLoginApi, WxLoginUser, RequestAuth, RateLimit } from './plugin';
export { PLATFORM_DEFAULTS } from './apps';
export type { Platform, AppOptions, WechatAppOptions, DouyinAppOptions, AlipayAppOptions, QqAppOptions } from './apps';
export { createMemoryStore, StoreUnavailableError, userKeyOf } from './store';
export type { MemoryStoreOptions, SessionStore, Session, StoredSession, SessionInfo, CreateSessionOptions, AccessTokenCache } from './store';
export { createRedisStore, REDIS_STORE_DEFAULTS } from './redis-store';
export type { RedisStoreOptions, RedisClient } from './redis-store';
export { createWechatClient, WechatApiError, WechatUnreachableError } from './wechat';
export type { WechatClient, WechatClientOptions, Code2SessionResult, PhoneInfo } from './wechat';
export { createAccessTokenClient } from './access-token';
export type { AccessTokenClient, AccessTokenClientOptions } from './access-token';
export { decryptData, DecryptError } from './wechat-crypto';
export { createDouyinClient, DouyinApiError, DouyinUnreachableError } from './douyin';
export type { DouyinClient, DouyinClientOptions, DouyinSession, DouyinPhoneInfo, DouyinErrorKind } from './douyin';
export { createAlipayClient, decryptPhone as decryptAlipayPhone, AlipayApiError, AlipayUnreachableError, AlipayPhoneError } from './alipay';
export type { AlipayClient, AlipayClientOptions, AlipayLogin, AlipayPhoneErrorCode } from './alipay';
// Not exported: newToken/hashToken (./crypto) and the Lua scripts are internals of the stores.

// @ts-check
// A mini program's login server: POST /auth/login {code} -> {token}, plus the app's own routes.
// Env: WX_APPID, WX_SECRET (mp.weixin.qq.com > 开发管理 > 开发设置); REDIS_URL to run several
// instances; TRUST_PROXY=1 behind a load balancer; PORT, HOST. WECHAT_API_BASE: tests only.
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { createRedisStore, serverOptions, wxLogin } from 'wx-login-kit/server';

const { WX_APPID = '', WX_SECRET = '', REDIS_URL, TRUST_PROXY, WECHAT_API_BASE, PORT = '3000', HOST = '0.0.0.0' } = process.env;
const redis = REDIS_URL ? new Redis(REDIS_URL) : null; // defaults are fine: the store bounds each command
// serverOptions adds timeouts, log redactions and JSON errors to your own options.
// trustProxy only behind a proxy: it makes request.ip, the rate limits' key, the client's.
const app = Fastify(serverOptions({ logger: true, trustProxy: TRUST_PROXY === '1' }));

await app.register(wxLogin, {
  appid: WX_APPID,
  secret: WX_SECRET,
  store: redis ? createRedisStore({ redis }) : undefined, // sessions, limits, access_token shared
  apiBase: WECHAT_API_BASE, // unset: https://api.weixin.qq.com
});

// The app's own routes: requireAuth answers 401 without a live token, else sets request.auth.
app.get('/api/me', { preHandler: app.requireAuth }, async (request) => ({ openid: request.auth?.openid }));

app.addHook('onClose', async () => {
  await redis?.quit();
});
await app.listen({ port: Number(PORT), host: HOST });

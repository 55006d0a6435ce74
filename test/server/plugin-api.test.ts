/**
 * What the plugin gives a user's own server, over real HTTP: `request.auth` as WeChat answered
 * (no unionid key when the app has none), `app.wxLogin.list/revoke/revokeAll` on the sessions the
 * routes created, a clear error for `sessionKey` on a route without `requireAuth`, and the
 * options it refuses at start-up.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { wxLogin } from '../../server';
import { encryptData } from '../../server/wechat-crypto';
import { APPID, SECRET, listen, postJson } from './helpers';

const OPENID = 'oAppWithoutUnionId0000000001';
const SESSION_KEY = randomBytes(16).toString('base64');

/** A WeChat whose code2Session answers every code for OPENID, without unionid (an app bound to no Open Platform account). */
async function wechatWithoutUnionid() {
  const app = Fastify();
  app.get('/sns/jscode2session', async () => ({ openid: OPENID, session_key: SESSION_KEY }));
  return { app, url: await listen(app) };
}

let wechat: Awaited<ReturnType<typeof wechatWithoutUnionid>>;
let app: FastifyInstance;
let url: string;

beforeEach(async () => {
  wechat = await wechatWithoutUnionid();
  app = Fastify();
  await app.register(wxLogin, { appid: APPID, secret: SECRET, apiBase: wechat.url, rateLimit: false, openapi: false });
  app.get('/whoami', { preHandler: app.requireAuth }, async (request) => ({ auth: request.auth, hasUnionid: 'unionid' in request.auth! }));
  app.get('/forgot-require-auth', async (request) => ({ key: app.wxLogin.sessionKey(request) }));
  url = await listen(app);
});
afterEach(async () => {
  await app.close();
  await wechat.app.close();
});

async function login(): Promise<string> {
  const res = await postJson(`${url}/auth/login`, { code: 'any-code' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

it('request.auth is {openid} alone when WeChat gives no unionid', async () => {
  const token = await login();
  const res = await fetch(`${url}/whoami`, { headers: { authorization: `Bearer ${token}` } });
  expect(await res.json()).toEqual({ auth: { openid: OPENID }, hasUnionid: false });
});

it('app.wxLogin lists, revokes one and revokes all of an openid’s sessions', async () => {
  const tokens = [await login(), await login(), await login()];
  const sessions = await app.wxLogin.list(OPENID);
  expect(sessions).toHaveLength(3);
  expect(await app.wxLogin.revoke(OPENID, sessions[0].id)).toBe(true);
  expect(await app.wxLogin.revoke('o-someone-else', sessions[1].id)).toBe(false);
  const status = async (token: string) => (await fetch(`${url}/whoami`, { headers: { authorization: `Bearer ${token}` } })).status;
  expect(await Promise.all(tokens.map(status))).toEqual([401, 200, 200]);
  expect(await app.wxLogin.revokeAll(OPENID)).toBe(2);
  expect(await Promise.all(tokens.map(status))).toEqual([401, 401, 401]);
  expect(await app.wxLogin.list(OPENID)).toEqual([]);
});

it('DELETE /auth/sessions/:id answers {ok: true}', async () => {
  const token = await login();
  const [session] = await app.wxLogin.list(OPENID);
  const res = await fetch(`${url}/auth/sessions/${session.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  expect([res.status, await res.json()]).toEqual([200, { ok: true }]);
});

it('legacy phone data that decrypts but has no phone number: 400 decrypt_failed, no token', async () => {
  const sealed = encryptData(SESSION_KEY, { watermark: { appid: APPID, timestamp: 1 } });
  const res = await postJson(`${url}/auth/phone`, { code: 'any-code', ...sealed });
  const body = (await res.json()) as Record<string, unknown>;
  expect([res.status, body.error, body.token]).toEqual([400, 'decrypt_failed', undefined]);
  expect(await app.wxLogin.list(OPENID)).toEqual([]);
});

it('sessionKey on a route without requireAuth is a 500 that says what to add', async () => {
  const res = await fetch(`${url}/forgot-require-auth`);
  expect(res.status).toBe(500);
  expect(((await res.json()) as { message: string }).message).toBe(
    '[wx-login-kit] this request went through no requireAuth; add { preHandler: app.requireAuth } to its route.',
  );
});

it.each([
  ['no secret', { appid: APPID, secret: '' }],
  ['no appid', { appid: '', secret: SECRET }],
])('refuses to start with %s', async (_name, opts) => {
  await expect(Fastify().register(wxLogin, opts)).rejects.toThrow('[wx-login-kit] wxLogin needs appid and secret');
});

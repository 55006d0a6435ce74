/**
 * wx-login-kit/emulator as a user tests their own server with it: the README's "Test your server".
 */
import Fastify from 'fastify';
import { serverOptions, wxLogin } from '../../server';
import { EMULATOR_SECRET, startWechatEmulator, type WechatEmulator } from '../../emulator/testing';

describe('wx-login-kit/emulator', () => {
  let wechat: WechatEmulator;
  const app = Fastify(serverOptions());
  let url: string;
  const post = (path: string, body: object) => fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    wechat = await startWechatEmulator();
    await app.register(wxLogin, { appid: wechat.appid, secret: wechat.secret, apiBase: wechat.apiBase });
    app.get('/api/orders', { preHandler: app.requireAuth }, async (request) => ({ openid: request.auth!.openid, orders: [] }));
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app.close();
    await wechat.close();
  });

  it('a login code for a chosen openid: login, then a protected route sees that openid', async () => {
    const login = await post('/auth/login', { code: await wechat.loginCode('o_test_alice') });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    const orders = await fetch(`${url}/api/orders`, { headers: { authorization: `Bearer ${token}` } });
    expect(await orders.json()).toEqual({ openid: 'o_test_alice', orders: [] });
  });

  it('a code is single use, as on WeChat', async () => {
    const code = await wechat.loginCode('o_test_bob');
    expect((await post('/auth/login', { code })).status).toBe(200);
    const again = await post('/auth/login', { code });
    expect(again.status).toBe(401);
    expect(await again.json()).toMatchObject({ error: 'invalid_code' });
  });

  it('a phone code gives the number chosen for the openid', async () => {
    const code = await wechat.loginCode('o_test_carol');
    const phoneCode = await wechat.phoneCode('o_test_carol', '13900001111');
    const res = await post('/auth/phone', { code, phoneCode });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ phoneNumber: '13900001111', purePhoneNumber: '13900001111', countryCode: '86' });
  });

  it('knows its secret, refuses a malformed openid, and listens on loopback only', async () => {
    expect(wechat.secret).toBe(EMULATOR_SECRET);
    expect(new URL(wechat.apiBase).hostname).toBe('127.0.0.1');
    await expect(wechat.loginCode('o test')).rejects.toThrow(/1-64 characters/);
  });

  it('does not start under NODE_ENV=production', async () => {
    const before = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      await expect(startWechatEmulator()).rejects.toThrow(/NODE_ENV=production/);
    } finally {
      process.env.NODE_ENV = before;
    }
  });
});

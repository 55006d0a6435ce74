/**
 * alipay-sdk is an optional peer: a server without an Alipay app runs without it installed, and
 * one with an Alipay app in `apps` is told at start-up to install it. Here it is missing (jest
 * makes requiring it fail as Node does for an absent package).
 */
import Fastify from 'fastify';
import { wxLogin } from '../../server';
import { APPID, SECRET, listen, postJson, startEmulator, wxLogin as emulatorLogin } from './helpers';

jest.mock('alipay-sdk', () => {
  throw Object.assign(new Error("Cannot find module 'alipay-sdk'"), { code: 'MODULE_NOT_FOUND' });
});

const alipay = { platform: 'alipay' as const, appid: '2021000000000001', privateKey: 'k', alipayPublicKey: 'k' };

it('with an Alipay app in apps, start-up fails saying to install alipay-sdk', async () => {
  await expect(Fastify().register(wxLogin, { apps: [alipay], openapi: false, rateLimit: false })).rejects.toThrow(
    '[wx-login-kit] alipay-sdk is not installed: npm i alipay-sdk@4 to log in the Alipay apps in apps.',
  );
});

it('without an Alipay app, it runs and logs in', async () => {
  const emu = await startEmulator();
  const app = Fastify();
  try {
    await app.register(wxLogin, { apps: [{ platform: 'wechat', appid: APPID, secret: SECRET, apiBase: emu.url }], openapi: false, rateLimit: false });
    const url = await listen(app);
    expect((await postJson(`${url}/auth/login`, { code: await emulatorLogin(emu.url) })).status).toBe(200);
  } finally {
    await app.close();
    await emu.close();
  }
});

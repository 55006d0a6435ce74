/**
 * @fastify/swagger and @fastify/rate-limit are optional peers: an app that turns their feature off
 * (`openapi: false`, `rateLimit: { ip: false }` or `rateLimit: false`) runs without them installed,
 * and one that does not is told at start-up which package to install or which option to pass.
 * Here both are missing (jest makes requiring them fail as Node does for an absent package).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { wxLogin, type WxLoginOptions } from '../../server';
import { APPID, SECRET, listen, postJson, startEmulator, wxLogin as emulatorLogin } from './helpers';

// jest hoists these above the imports, so each factory says it all inline.
jest.mock('@fastify/swagger', () => {
  throw Object.assign(new Error("Cannot find module '@fastify/swagger'"), { code: 'MODULE_NOT_FOUND' });
});
jest.mock('@fastify/rate-limit', () => {
  throw Object.assign(new Error("Cannot find module '@fastify/rate-limit'"), { code: 'MODULE_NOT_FOUND' });
});

let emu: Awaited<ReturnType<typeof startEmulator>>;
let app: FastifyInstance | undefined;
beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await emu.close();
});

async function start(opts: Partial<WxLoginOptions>): Promise<string> {
  app = Fastify();
  await app.register(wxLogin, { appid: APPID, secret: SECRET, apiBase: emu.url, ...opts });
  return listen(app);
}

const login = async (url: string) => (await postJson(`${url}/auth/login`, { code: await emulatorLogin(emu.url) })).status;

it('by default, start-up fails naming @fastify/swagger and the option that does without it', async () => {
  await expect(start({})).rejects.toThrow('[wx-login-kit] @fastify/swagger is not installed: npm i @fastify/swagger, or pass openapi: false to wxLogin.');
});

it('with openapi: false but the IP limit on, start-up fails naming @fastify/rate-limit', async () => {
  await expect(start({ openapi: false })).rejects.toThrow(
    '[wx-login-kit] @fastify/rate-limit is not installed: npm i @fastify/rate-limit, or pass rateLimit: { ip: false } to wxLogin.',
  );
});

it('with openapi: false and rateLimit: { ip: false }, it runs: no /openapi.json, the per-openid limit still counts', async () => {
  const url = await start({ openapi: false, rateLimit: { ip: false, openid: { max: 1, timeWindowMs: 60_000 } } });
  expect(await login(url)).toBe(200);
  expect(await login(url)).toBe(429);
  expect((await fetch(`${url}/openapi.json`)).status).toBe(404);
});

it('with openapi: false and rateLimit: false, it runs', async () => {
  const url = await start({ openapi: false, rateLimit: false });
  expect(await login(url)).toBe(200);
});

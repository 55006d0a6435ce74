/**
 * Runs the reference server for WeChat DevTools (`npm run dev`, which passes --emulator).
 *
 * Where code2Session goes, one of:
 *   WECHAT_API_BASE=https://api.weixin.qq.com with WX_APPID, WX_SECRET     WeChat (or another URL)
 *   --emulator, or WECHAT_API_BASE=emulator                                the local emulator, on
 *       127.0.0.1 only, with a throwaway secret; refused under NODE_ENV=production (it hands a
 *       login code for any user to whoever asks)
 * Env:
 *   PORT (3000), HOST (127.0.0.1)        where the server listens
 *   EMULATOR_PORT (3001)                  the emulator's port
 *   REDIS_URL                             e.g. redis://127.0.0.1:6379 or a unix socket path: sessions,
 *                                         rate limits and the access_token in Redis, shared by every
 *                                         process on it; unset -> in this process's memory
 * The secret is never printed.
 */
import { randomBytes } from 'node:crypto';
import pc from 'picocolors';
import { Redis } from 'ioredis';
import { createRedisStore, type SessionStore } from '../server';
import { buildServer } from './app';
import { buildEmulator } from '../emulator';

const DEMO_APPID = 'wxdemo0000000000';

function fail(message: string): never {
  console.error(pc.red(`[wx-login-kit] ${message}`));
  process.exit(1);
}

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`${name} must be a port number, got "${raw}".`);
  return n;
}

async function main(): Promise<void> {
  const host = process.env.HOST || '127.0.0.1';
  const serverPort = port('PORT', 3000);
  const closers: Array<() => Promise<unknown>> = [];

  let wechat: { apiBase: string; appid: string; secret: string };
  const base = process.env.WECHAT_API_BASE;
  const emulated = base === 'emulator' || (!base && process.argv.includes('--emulator'));
  if (!base && !emulated) {
    fail('say where code2Session goes: WECHAT_API_BASE=https://api.weixin.qq.com with WX_APPID and WX_SECRET, or --emulator (npm run dev) for the local emulator.');
  }
  if (emulated && process.env.NODE_ENV === 'production') {
    fail('NODE_ENV is production: the emulator gives anyone a login code for any user. Set WECHAT_API_BASE=https://api.weixin.qq.com with WX_APPID and WX_SECRET.');
  }
  if (!emulated) {
    const { WX_APPID, WX_SECRET } = process.env;
    if (!WX_APPID || !WX_SECRET) {
      fail('WECHAT_API_BASE is set, so WX_APPID and WX_SECRET are required (from mp.weixin.qq.com > Development settings).');
    }
    wechat = { apiBase: base!, appid: WX_APPID, secret: WX_SECRET };
  } else {
    // No real WeChat: run the emulator with a throwaway secret only this process knows.
    const appid = process.env.WX_APPID || DEMO_APPID;
    const secret = randomBytes(16).toString('hex');
    // DevTools' wx.login and getPhoneNumber codes come from WeChat, not from here: take them once.
    const emulator = buildEmulator({ apps: { [appid]: secret }, acceptForeignCodes: true });
    const emulatorUrl = await emulator.app.listen({ port: port('EMULATOR_PORT', 3001), host: '127.0.0.1' });
    closers.push(() => emulator.app.close());
    wechat = { apiBase: emulatorUrl, appid, secret };
    console.log(`${pc.yellow('WeChat emulator')}  ${pc.cyan(emulatorUrl)}  appid ${pc.bold(appid)}`);
    console.log(pc.dim(`  wx.login stand-in: POST ${emulatorUrl}/emulator/login {"appid": "${appid}", "user": "alice"}`));
  }

  let store: SessionStore | undefined;
  if (process.env.REDIS_URL) {
    // ioredis's defaults: the store bounds every command itself (503 store_unavailable while Redis
    // is away, logged once when the outage starts and once when it ends), and listen() below
    // fails when Redis cannot be reached within 5 s.
    const redis = new Redis(process.env.REDIS_URL);
    store = createRedisStore({ redis });
    closers.push(() => redis.quit().catch(() => redis.disconnect()));
    console.log(`${pc.yellow('Session store')}    Redis (REDIS_URL)`);
  }

  const server = buildServer({ wechat, logger: true, store });
  const serverUrl = await server.listen({ port: serverPort, host });
  closers.unshift(() => server.close());
  console.log(`${pc.green('Login server')}     ${pc.cyan(serverUrl)}  -> code2Session at ${wechat.apiBase}`);

  const shutdown = () => {
    Promise.all(closers.map((close) => close())).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: Error) => fail(`could not start: ${err.message}`));

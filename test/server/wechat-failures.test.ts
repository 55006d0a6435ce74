/**
 * How the plugin answers each way WeChat fails after a good login code, and that `timeoutMs`
 * bounds every WeChat call, over real HTTP: the reference server talks to a WeChat that forwards
 * to the emulator but answers one API with a fault (an errcode, a hang-up, a late answer), which
 * the emulator alone never does to a well-behaved client.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { APPID, SECRET, listen, postJson, startStack, wxLogin, type Harness } from './helpers';

type Fault = { errcode: number } | 'hang-up' | { delayMs: number };

/** A WeChat in front of the emulator: forwards every call, but answers calls to `faults`' paths with their fault. */
async function faultyWechat() {
  const faults = new Map<string, Fault>();
  let target = '';
  const app: FastifyInstance = Fastify();
  app.all('/*', async (request, reply) => {
    const fault = faults.get(request.url.split('?')[0]);
    if (fault === 'hang-up') {
      request.raw.socket.destroy();
      return reply;
    }
    if (fault && 'errcode' in fault) return { errcode: fault.errcode, errmsg: `injected, rid: ${fault.errcode}` };
    if (fault) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    const res = await fetch(`${target}${request.url}`, {
      method: request.method,
      headers: { 'content-type': 'application/json' },
      body: request.method === 'POST' ? JSON.stringify(request.body) : undefined,
    });
    return reply.code(res.status).header('content-type', 'text/plain').send(await res.text());
  });
  const url = await listen(app);
  return {
    url,
    faults,
    forwardTo(emulatorUrl: string) {
      target = emulatorUrl;
    },
    close: () => app.close(),
  };
}

let wechat: Awaited<ReturnType<typeof faultyWechat>>;
let h: Harness;

async function start(timeoutMs?: number) {
  wechat = await faultyWechat();
  h = await startStack({ wechat: { apiBase: wechat.url, appid: APPID, secret: SECRET, timeoutMs } });
  wechat.forwardTo(h.emulatorUrl);
}

afterEach(async () => {
  await h?.close();
  await wechat?.close();
});

/** wx.login, a getRealtimePhoneNumber tap, then POST /auth/phone: the answer. */
async function phoneLogin(): Promise<{ status: number; retryAfter: string | null; body: Record<string, unknown> }> {
  const code = await wxLogin(h.emulatorUrl);
  const tap = await postJson(`${h.emulatorUrl}/emulator/open-data`, { appid: APPID, user: 'alice', kind: 'getRealtimePhoneNumber' });
  const { code: phoneCode } = (await tap.json()) as { code: string };
  const res = await postJson(`${h.serverUrl}/auth/phone`, { code, phoneCode });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
}

const PHONE = '/wxa/business/getuserphonenumber';
const STABLE_TOKEN = '/cgi-bin/stable_token';

describe('POST /auth/phone when getuserphonenumber fails', () => {
  beforeEach(() => start());

  it('works through the forwarding WeChat', async () => {
    const { status, body } = await phoneLogin();
    expect(status).toBe(200);
    expect(body.purePhoneNumber).toMatch(/^1\d{10}$/);
  });

  // Only 40029 is the phone code's fault; every other failure is answered like code2Session's.
  it.each([
    ['40029 (phone code invalid, expired or used)', 400, 'invalid_phone_code', null, PHONE, { errcode: 40029 }],
    ['-1 (WeChat busy)', 503, 'wechat_busy', '1', PHONE, { errcode: -1 }],
    ['45011 (WeChat rate limit)', 429, 'rate_limited', '60', PHONE, { errcode: 45011 }],
    ['47001 (any other errcode)', 502, 'wechat_error', null, PHONE, { errcode: 47001 }],
    ['40001 twice (a fresh access_token refused too)', 502, 'wechat_error', null, PHONE, { errcode: 40001 }],
    ['a hang-up', 502, 'wechat_unreachable', null, PHONE, 'hang-up'],
    ['40125 from stable_token (the access_token call)', 502, 'wechat_error', null, STABLE_TOKEN, { errcode: 40125 }],
    ['a hang-up of stable_token', 502, 'wechat_unreachable', null, STABLE_TOKEN, 'hang-up'],
  ] as const)('%s: %i %s, Retry-After %s, no token', async (_name, status, error, retryAfter, path, fault: Fault) => {
    wechat.faults.set(path, fault);
    const answer = await phoneLogin();
    expect([answer.status, answer.body.error, answer.retryAfter]).toEqual([status, error, retryAfter]);
    expect(answer.body.token).toBeUndefined();
    if (error === 'wechat_error') expect(answer.body.errcode).toBe((fault as { errcode: number }).errcode);
  });
});

describe('timeoutMs bounds every call to WeChat', () => {
  // The answer comes 10 × timeoutMs late; the abort comes first in any case: both are timers of
  // this one process, and the abort's was set first and is due first.
  it.each([
    ['code2Session', '/sns/jscode2session'],
    ['stable_token', STABLE_TOKEN],
    ['getuserphonenumber', PHONE],
  ])('%s answering late: 502 wechat_unreachable', async (_name, path) => {
    await start(100);
    wechat.faults.set(path, { delayMs: 1000 });
    const answer = await phoneLogin();
    expect([answer.status, answer.body.error]).toEqual([502, 'wechat_unreachable']);
  });

  it('an answer within timeoutMs is taken', async () => {
    await start(10_000);
    wechat.faults.set(PHONE, { delayMs: 100 });
    expect((await phoneLogin()).status).toBe(200);
  });
});

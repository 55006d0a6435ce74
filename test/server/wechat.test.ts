import Fastify, { type FastifyInstance } from 'fastify';
import { createWechatClient, WechatApiError, WechatUnreachableError } from '../../server/wechat';
import { APPID, SECRET, listen, startEmulator, wxLogin } from './helpers';

let emu: Awaited<ReturnType<typeof startEmulator>>;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(() => emu.close());

/** A fake WeChat answering every code2Session with `reply`. */
async function fakeWechat(reply: (app: FastifyInstance) => void): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify();
  reply(app);
  const url = await listen(app);
  return { url, close: () => app.close() };
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('code2Session client', () => {
  it('exchanges a code for {openid, session_key, unionid}', async () => {
    const client = createWechatClient({ apiBase: emu.url, appid: APPID, secret: SECRET });
    const code = await wxLogin(emu.url, 'alice');
    const result = await client.code2Session(code);
    expect(result.session_key).toBe(emu.emulator.latestSessionKey(APPID, 'alice'));
    expect(result.openid).toMatch(/^o/);
    expect(result.unionid).toMatch(/^ou/);
  });

  it('throws WechatApiError with errcode and errmsg, never the secret', async () => {
    const client = createWechatClient({ apiBase: emu.url, appid: APPID, secret: SECRET });
    const err = await caught(client.code2Session('not-a-real-code'));
    expect(err).toBeInstanceOf(WechatApiError);
    expect((err as WechatApiError).errcode).toBe(40029);
    expect(err.message).toMatch(/^\[wx-login-kit\] code2Session failed: errcode 40029 invalid code/);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain('jscode2session');
  });

  it('treats a success answer without openid or session_key as a WechatApiError', async () => {
    const fake = await fakeWechat((app) => app.get('/sns/jscode2session', async () => ({ openid: 'o1' })));
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
    expect(await caught(client.code2Session('c'))).toBeInstanceOf(WechatApiError);
    await fake.close();
  });

  it('parses JSON served as text/plain, as WeChat serves it', async () => {
    const fake = await fakeWechat((app) =>
      app.get('/sns/jscode2session', async (_req, reply) =>
        reply.type('text/plain').send(JSON.stringify({ openid: 'o1', session_key: 'k1' })),
      ),
    );
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
    expect(await client.code2Session('c')).toEqual({ openid: 'o1', session_key: 'k1' });
    await fake.close();
  });

  it.each([
    ['a non-200 status', (app: FastifyInstance) => app.get('/sns/jscode2session', async (_q, r) => r.code(502).send('bad gateway'))],
    ['a non-JSON body', (app: FastifyInstance) => app.get('/sns/jscode2session', async (_q, r) => r.type('text/html').send('<html>'))],
  ])('throws WechatUnreachableError on %s', async (_name, reply) => {
    const fake = await fakeWechat(reply);
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
    const err = await caught(client.code2Session('c'));
    expect(err).toBeInstanceOf(WechatUnreachableError);
    expect(err.message).not.toContain(SECRET);
    await fake.close();
  });

  it('throws WechatUnreachableError when nothing listens, without the URL in the message', async () => {
    const fake = await fakeWechat(() => {});
    await fake.close(); // the port is now closed
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET });
    const err = await caught(client.code2Session('c'));
    expect(err).toBeInstanceOf(WechatUnreachableError);
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain(fake.url);
  });

  it('gives up after timeoutMs when WeChat does not answer', async () => {
    let release!: () => void;
    const hung = new Promise<void>((resolve) => (release = resolve));
    const fake = await fakeWechat((app) => app.get('/sns/jscode2session', async () => hung.then(() => ({}))));
    const client = createWechatClient({ apiBase: fake.url, appid: APPID, secret: SECRET, timeoutMs: 50 });
    const err = await caught(client.code2Session('c'));
    expect(err).toBeInstanceOf(WechatUnreachableError);
    expect(err.message).toContain('50 ms');
    release();
    await fake.close();
  });
});

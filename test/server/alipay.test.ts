/**
 * Alipay: the emulator's gateway against the official alipay-sdk (4.x, unmodified), and the client
 * over it. RSA key pairs are made here with node:crypto; nothing is read from outside the repository.
 */
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildAlipayEmulator, type AlipayEmulator } from '../../emulator/alipay';
import { AlipayApiError, AlipayPhoneError, AlipayUnreachableError, createAlipayClient, decryptPhone } from '../../server/alipay';
import { caught, listen, manualClock, type Clock } from './helpers';

const APP_ID = '2021000000000001';
const OTHER_APP_ID = '2021000000000002';

// One key pair per role for the whole file: RSA key generation is the slow part (tens of ms each).
const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const alipayKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const APP_PRIVATE_PKCS1 = appKeys.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
const APP_PRIVATE_PKCS8 = appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const APP_PUBLIC = appKeys.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const OTHER_PRIVATE = otherKeys.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
const OTHER_PUBLIC = otherKeys.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const AES_KEY = randomBytes(16).toString('base64');
/** PEM body only, as Alipay's console shows keys. */
const bare = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

let emu: AlipayEmulator;
let gateway: string;
let clock: Clock;
beforeEach(async () => {
  clock = manualClock();
  emu = buildAlipayEmulator({
    apps: { [APP_ID]: { appPublicKey: APP_PUBLIC, aesKey: AES_KEY }, [OTHER_APP_ID]: { appPublicKey: bare(OTHER_PUBLIC) } },
    alipayPrivateKey: alipayKeys.privateKey,
    now: clock.now,
    phones: { alice: '13900139000' },
  });
  gateway = `${await listen(emu.app)}/gateway.do`;
});
afterEach(() => emu.app.close());

/** The official SDK, as an app would set it up; camelcase off to see Alipay's own field names. */
const sdk = (config: Partial<ConstructorParameters<typeof AlipaySdk>[0]> = {}) =>
  new AlipaySdk({ appId: APP_ID, privateKey: APP_PRIVATE_PKCS1, alipayPublicKey: emu.alipayPublicKey, gateway, camelcase: false, ...config });

const oauthToken = (s: AlipaySdk, code: string, validateSign = true) =>
  s.exec('alipay.system.oauth.token', { grant_type: 'authorization_code', code }, { validateSign });

const client = (opts: Partial<Parameters<typeof createAlipayClient>[0]> = {}) =>
  createAlipayClient({ appId: APP_ID, privateKey: APP_PRIVATE_PKCS1, alipayPublicKey: emu.alipayPublicKey, gateway, ...opts });

describe('Alipay emulator, driven by the official alipay-sdk', () => {
  it('answers a signed alipay_system_oauth_token_response that the SDK verifies', async () => {
    const result = await oauthToken(sdk(), emu.authCode(APP_ID, 'alice'));
    expect(result).toEqual({
      open_id: emu.openidOf(APP_ID, 'alice'),
      access_token: expect.stringMatching(/^[A-Za-z0-9]{40}$/),
      expires_in: 1_296_000,
      refresh_token: expect.stringMatching(/^[A-Za-z0-9]{40}$/),
      re_expires_in: 2_592_000,
      auth_start: '2025-01-01 08:00:00',
    });
  });

  it("gives user_id (2088 + 12 digits) instead of open_id for an app in user_id mode, and SDK's camelCase works too", async () => {
    await emu.app.close();
    emu = buildAlipayEmulator({ apps: { [APP_ID]: { appPublicKey: APP_PUBLIC } }, alipayPrivateKey: alipayKeys.privateKey, idMode: 'user_id' });
    gateway = `${await listen(emu.app)}/gateway.do`;
    const result = await oauthToken(sdk({ camelcase: true }), emu.authCode(APP_ID, 'alice'));
    expect(result.userId).toMatch(/^2088\d{12}$/);
    expect(result.openId).toBeUndefined();
  });

  it('answers error_response 40002 isv.code-invalid to a used, unknown, expired or foreign code (signed, HTTP 200)', async () => {
    const s = sdk();
    const code = emu.authCode(APP_ID, 'alice');
    await oauthToken(s, code);
    const invalid = { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.code-invalid', sub_msg: '授权码code无效' };
    expect(await oauthToken(s, code, false)).toEqual(invalid);
    expect(await oauthToken(s, 'f'.repeat(32), false)).toEqual(invalid);
    expect(await oauthToken(s, emu.authCode(OTHER_APP_ID, 'alice'), false)).toEqual(invalid);
    const late = emu.authCode(APP_ID, 'alice');
    clock.advance(180_000);
    expect(await oauthToken(s, late, false)).toEqual(invalid);
  });

  it('takes a code just under 3 minutes old', async () => {
    const code = emu.authCode(APP_ID, 'alice');
    clock.advance(179_999);
    expect((await oauthToken(sdk(), code)).open_id).toEqual(expect.any(String));
  });

  it('verifies the request signature: another private key is isv.invalid-signature, and does not use the code up', async () => {
    const code = emu.authCode(APP_ID, 'alice');
    expect(await oauthToken(sdk({ privateKey: OTHER_PRIVATE }), code, false)).toMatchObject({ code: '40002', sub_code: 'isv.invalid-signature' });
    expect((await oauthToken(sdk(), code)).open_id).toEqual(expect.any(String));
  });

  it('takes a PKCS#8 key and an app key given as bare base64', async () => {
    expect((await oauthToken(sdk({ privateKey: APP_PRIVATE_PKCS8, keyType: 'PKCS8' }), emu.authCode(APP_ID, 'alice'))).open_id).toEqual(expect.any(String));
    const other = sdk({ appId: OTHER_APP_ID, privateKey: bare(OTHER_PRIVATE) });
    expect((await oauthToken(other, emu.authCode(OTHER_APP_ID, 'alice'))).open_id).not.toBe(emu.openidOf(APP_ID, 'alice'));
  });

  it('checks in the gateway order: app, signature, method, then grant_type and code', async () => {
    const s = sdk();
    expect(await sdk({ appId: '2021999999999999' }).exec('alipay.system.oauth.token', { grant_type: 'authorization_code', code: 'x' })).toMatchObject({
      code: '40002',
      sub_code: 'isv.invalid-app-id',
    });
    expect(await s.exec('alipay.user.info.share', {})).toMatchObject({ code: '40002', sub_code: 'isv.invalid-method' });
    const code = emu.authCode(APP_ID, 'alice');
    expect(await s.exec('alipay.system.oauth.token', { grant_type: 'refresh_token', code })).toMatchObject({ sub_code: 'isv.grant-type-invalid' });
    expect((await oauthToken(s, code)).open_id).toEqual(expect.any(String));
  });

  it('answers missing method, app_id and sign with 40001 as the gateway does', async () => {
    const post = async (query: string) => {
      const res = await fetch(`${gateway}?${query}`, { method: 'POST' });
      expect(res.status).toBe(200);
      return (JSON.parse(await res.text()) as { error_response: Record<string, string> }).error_response;
    };
    expect(await post('app_id=' + APP_ID)).toMatchObject({ code: '40001', sub_code: 'isv.missing-method' });
    expect(await post('method=alipay.system.oauth.token')).toMatchObject({ code: '40001', sub_code: 'isv.missing-app-id' });
    expect(await post(`method=alipay.system.oauth.token&app_id=${APP_ID}`)).toMatchObject({ code: '40001', sub_code: 'isv.missing-signature' });
    expect(await post(`method=alipay.system.oauth.token&app_id=${APP_ID}&sign=x&sign_type=RSA`)).toMatchObject({ sub_code: 'isv.invalid-signature-type' });
  });

  it('failNext answers the injected sub_code (isp.unknow-error is 20000) without using the code up', async () => {
    emu.failNext('isp.unknow-error', 2);
    const s = sdk();
    const code = emu.authCode(APP_ID, 'alice');
    expect(await oauthToken(s, code, false)).toEqual({ code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error', sub_msg: '系统繁忙' });
    expect(await oauthToken(s, code, false)).toMatchObject({ code: '20000' });
    expect((await oauthToken(s, code)).open_id).toEqual(expect.any(String));
    emu.failNext('isv.whatever');
    expect(await oauthToken(s, code, false)).toMatchObject({ code: '40004', sub_code: 'isv.whatever' });
    expect(() => emu.failNext('x', 101)).toThrow(RangeError);
  });

  it('gives a stable open_id per (app, user), different across users and apps', async () => {
    expect(emu.openidOf(APP_ID, 'alice')).toBe(emu.openidOf(APP_ID, 'alice'));
    expect(emu.openidOf(APP_ID, 'bob')).not.toBe(emu.openidOf(APP_ID, 'alice'));
    expect(emu.openidOf(OTHER_APP_ID, 'alice')).not.toBe(emu.openidOf(APP_ID, 'alice'));
  });

  it('sweeps expired codes at the next mint', async () => {
    const old = emu.authCode(APP_ID, 'alice');
    clock.advance(180_000);
    emu.authCode(APP_ID, 'bob');
    clock.advance(-180_000);
    expect(await oauthToken(sdk(), old, false)).toMatchObject({ sub_code: 'isv.code-invalid' });
  });

  it('phoneResponse is what the SDK itself verifies (sign over the quoted ciphertext) and decrypts (zero IV)', () => {
    const envelope = JSON.parse(emu.phoneResponse(APP_ID, 'alice')) as Record<string, string>;
    expect(Object.keys(envelope).sort()).toEqual(['charset', 'encrypt_type', 'response', 'sign', 'sign_type']);
    expect(envelope).toMatchObject({ sign_type: 'RSA2', encrypt_type: 'AES', charset: 'UTF-8' });
    const s = sdk({ encryptKey: AES_KEY });
    expect(s.rsaCheck(`"${envelope.response}"`, envelope.sign, 'RSA2')).toBe(true);
    expect(JSON.parse(s.aesDecrypt(envelope.response))).toEqual({ code: '10000', msg: 'Success', mobile: '13900139000' });
  });

  it('refuses to mint for an unknown app, or a phone response for an app without aesKey', () => {
    expect(() => emu.authCode('2021999999999999', 'alice')).toThrow(/unknown app_id/);
    expect(() => emu.phoneResponse(OTHER_APP_ID, 'alice')).toThrow(/no aesKey/);
  });
});

describe('Alipay client: exchangeAuthCode', () => {
  it('gives {openid} with the tokens non-enumerable, so logging the result shows no access_token', async () => {
    const login = await client().exchangeAuthCode(emu.authCode(APP_ID, 'alice'));
    expect(login.openid).toBe(emu.openidOf(APP_ID, 'alice'));
    expect(login.access_token).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(login.refresh_token).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(login.expires_in).toBe(1_296_000);
    expect(login.re_expires_in).toBe(2_592_000);
    expect(login.unionid).toBeUndefined();
    expect(JSON.stringify(login)).toBe(JSON.stringify({ openid: login.openid }));
    expect(Object.keys(login)).toEqual(['openid']);
  });

  it('takes user_id as the openid for an app in user_id mode, and PKCS#8 keys', async () => {
    await emu.app.close();
    emu = buildAlipayEmulator({ apps: { [APP_ID]: { appPublicKey: APP_PUBLIC } }, alipayPrivateKey: alipayKeys.privateKey, idMode: 'user_id' });
    gateway = `${await listen(emu.app)}/gateway.do`;
    const login = await client({ privateKey: APP_PRIVATE_PKCS8 }).exchangeAuthCode(emu.authCode(APP_ID, 'alice'));
    expect(login.openid).toMatch(/^2088\d{12}$/);
  });

  it.each([
    ['a used code', '40002', 'isv.code-invalid', /call my.getAuthCode again/],
    ['a wrong private key', '40002', 'isv.invalid-signature', /check that privateKey matches/],
    ['an unknown app', '40002', 'isv.invalid-app-id', /check appId/],
    ['Alipay busy', '20000', 'isp.unknow-error', /retry/],
  ])('maps %s to AlipayApiError %s %s, saying what to do', async (name, code, sub_code, advice) => {
    const authCode = emu.authCode(APP_ID, 'alice');
    let c = client();
    if (name === 'a used code') await c.exchangeAuthCode(authCode);
    if (name === 'a wrong private key') c = client({ privateKey: OTHER_PRIVATE });
    if (name === 'an unknown app') c = client({ appId: '2021999999999999' });
    if (name === 'Alipay busy') emu.failNext('isp.unknow-error');
    const err = await caught(c.exchangeAuthCode(authCode));
    expect(err).toBeInstanceOf(AlipayApiError);
    expect(err).toMatchObject({ code, sub_code, api: 'alipay.system.oauth.token' });
    expect(err.message).toMatch(/^\[wx-login-kit\] alipay\.system\.oauth\.token failed: /);
    expect(err.message).toMatch(advice);
    expect(err.message).not.toContain(authCode);
  });

  it("refuses an answer signed with another key than alipayPublicKey's, without quoting the access_token", async () => {
    const c = client({ alipayPublicKey: OTHER_PUBLIC });
    const err = await caught(c.exchangeAuthCode(emu.authCode(APP_ID, 'alice')));
    expect(err).toBeInstanceOf(AlipayUnreachableError);
    expect(err.message).toMatch(/signature does not verify with alipayPublicKey/);
    expect(err.message).not.toMatch(/authusr|access_token|open_id/);
    expect((err as AlipayUnreachableError).cause).toBeUndefined();
  });

  it('needs appId, privateKey and alipayPublicKey (without the key the SDK would skip the check)', () => {
    expect(() => client({ alipayPublicKey: '' })).toThrow(/needs appId, privateKey and alipayPublicKey/);
  });
});

describe('Alipay client against a fake gateway', () => {
  const fakes: FastifyInstance[] = [];
  afterEach(async () => {
    while (fakes.length) await fakes.pop()!.close();
  });
  async function fake(send: () => string | Promise<string>, status = 200): Promise<string> {
    const app = Fastify();
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_r, body, done) => done(null, body));
    app.post('/gateway.do', async (_req, reply) => reply.code(status).type('text/html;charset=utf-8').send(await send()));
    fakes.push(app);
    return `${await listen(app)}/gateway.do`;
  }
  const signed = (key: string, node: object) => {
    const text = JSON.stringify(node);
    return `{"${key}":${text},"sign":"${createSign('RSA-SHA256').update(text).sign(alipayKeys.privateKey, 'base64')}"}`;
  };

  it.each([
    ['a non-200 status', () => 'bad gateway', 502, /HTTP 502/],
    ['a non-JSON body', () => '<html>', 200, /answer is not JSON/],
    ['no response node', () => '{"other_response":{}}', 200, /has no alipay_system_oauth_token_response/],
    ['no sign', () => '{"alipay_system_oauth_token_response":{"open_id":"x","access_token":"t","expires_in":1}}', 200, /could not be verified/],
    ['a signed answer without open_id', () => signed('alipay_system_oauth_token_response', { access_token: 't', expires_in: 1 }), 200, /no well-formed open_id or user_id/],
    ['a signed answer without access_token', () => signed('alipay_system_oauth_token_response', { open_id: 'o1', expires_in: 1 }), 200, /no access_token/],
  ])('throws AlipayUnreachableError on %s', async (_name, send, status, reason) => {
    const err = await caught(client({ gateway: await fake(send, status) }).exchangeAuthCode('c'));
    expect(err).toBeInstanceOf(AlipayUnreachableError);
    expect(err.message).toMatch(reason);
  });

  it("takes expires_in as a string (the doc's type) and reads a signed error in the method's own node", async () => {
    const ok = await client({ gateway: await fake(() => signed('alipay_system_oauth_token_response', { user_id: '2088000000000001', access_token: 't', expires_in: '3600' })) }).exchangeAuthCode('c');
    expect(ok).toMatchObject({ openid: '2088000000000001', expires_in: 3600 });
    const node = { code: '40004', msg: 'Business Failed', sub_code: 'isv.x', sub_msg: 'y' };
    const err = await caught(client({ gateway: await fake(() => signed('alipay_system_oauth_token_response', node)) }).exchangeAuthCode('c'));
    expect(err).toBeInstanceOf(AlipayApiError);
    expect(err).toMatchObject({ code: '40004', sub_code: 'isv.x' });
  });

  it('gives up after timeoutMs, and says so when nothing listens', async () => {
    let release!: () => void;
    const hung = new Promise<string>((resolve) => (release = () => resolve('{}')));
    const err = await caught(client({ gateway: await fake(() => hung), timeoutMs: 100 }).exchangeAuthCode('c'));
    expect(err).toBeInstanceOf(AlipayUnreachableError);
    expect(err.message).toMatch(/no answer within 100 ms/);
    release();

    const closed = await fake(() => '{}');
    await fakes.pop()!.close();
    const refused = await caught(client({ gateway: closed }).exchangeAuthCode('c'));
    expect(refused.message).toMatch(/network error/);
  });
});

describe('Alipay phone number (my.getPhoneNumber response)', () => {
  const keys = () => ({ aesKey: AES_KEY, alipayPublicKey: emu.alipayPublicKey });

  it('round trip: the response decrypts to the mobile, through decryptPhone and the client', () => {
    const response = emu.phoneResponse(APP_ID, 'alice');
    expect(decryptPhone(response, keys())).toEqual({ mobile: '13900139000' });
    expect(client().decryptPhone(response, AES_KEY)).toEqual({ mobile: '13900139000' });
    expect(decryptPhone(response, { aesKey: AES_KEY, alipayPublicKey: bare(emu.alipayPublicKey) })).toEqual({ mobile: '13900139000' });
  });

  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(AlipayPhoneError);
      return (err as AlipayPhoneError).code;
    }
    throw new Error('expected a throw');
  };

  it('checks the signature first: a changed ciphertext or another key is bad_signature', () => {
    const envelope = JSON.parse(emu.phoneResponse(APP_ID, 'alice')) as Record<string, string>;
    const flipped = envelope.response.startsWith('A') ? 'B' + envelope.response.slice(1) : 'A' + envelope.response.slice(1);
    expect(code(() => decryptPhone(JSON.stringify({ ...envelope, response: flipped }), keys()))).toBe('bad_signature');
    expect(code(() => decryptPhone(JSON.stringify(envelope), { aesKey: AES_KEY, alipayPublicKey: OTHER_PUBLIC }))).toBe('bad_signature');
    // Signed over the unquoted text: not what Alipay signs.
    const unquoted = createSign('RSA-SHA256').update(envelope.response).sign(alipayKeys.privateKey, 'base64');
    expect(code(() => decryptPhone(JSON.stringify({ ...envelope, sign: unquoted }), keys()))).toBe('bad_signature');
  });

  it('a wrong AES key is decrypt_failed, naming the key, never echoing it', () => {
    const other = randomBytes(16).toString('base64');
    let message = '';
    try {
      decryptPhone(emu.phoneResponse(APP_ID, 'alice'), { aesKey: other, alipayPublicKey: emu.alipayPublicKey });
    } catch (err) {
      expect(err).toMatchObject({ code: 'decrypt_failed' });
      message = (err as Error).message;
    }
    expect(message).toMatch(/AES key/);
    expect(message).not.toContain(other);
    expect(code(() => decryptPhone(emu.phoneResponse(APP_ID, 'alice'), { aesKey: 'not base64!', alipayPublicKey: emu.alipayPublicKey }))).toBe('decrypt_failed');
  });

  it('bad_response for what is not the envelope, refused for a code other than 10000', () => {
    expect(code(() => decryptPhone('not json', keys()))).toBe('bad_response');
    expect(code(() => decryptPhone('{"response":"x"}', keys()))).toBe('bad_response');
    expect(code(() => decryptPhone('{"response":"x","sign":"y","sign_type":"RSA"}', keys()))).toBe('bad_response');
    // A plaintext (unencrypted) answer is verified as is: here Alipay's refusal.
    const refusal = JSON.stringify({ code: '40006', msg: 'Insufficient Permissions', subCode: 'isv.insufficient-isv-permissions' });
    const sign = createSign('RSA-SHA256').update(refusal).sign(alipayKeys.privateKey, 'base64');
    let message = '';
    try {
      decryptPhone(JSON.stringify({ response: refusal, sign }), keys());
    } catch (err) {
      expect(err).toMatchObject({ code: 'refused' });
      message = (err as Error).message;
    }
    expect(message).toMatch(/40006 Insufficient Permissions isv.insufficient-isv-permissions/);
  });
});

/**
 * POST /auth/phone and /auth/profile over real HTTP: the reference server against the WeChat API
 * emulator, with open-type button payloads made by the emulator as WeChat's client would.
 */
import { decryptData } from '../../server/wechat-crypto';
import { APPID, postJson, startStack, wxLogin, type Harness } from './helpers';

type Kind = 'getPhoneNumber' | 'getRealtimePhoneNumber' | 'getUserInfo';

let h: Harness;
beforeEach(async () => {
  h = await startStack();
});
afterEach(() => h.close());

/** What an open-type button hands the page when the user allows (encrypted with the latest session_key). */
async function tap(kind: Kind, user = 'alice'): Promise<Record<string, string>> {
  const res = await postJson(`${h.emulatorUrl}/emulator/open-data`, { appid: APPID, user, kind });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, string>;
}

async function post(path: string, body: unknown) {
  const res = await postJson(`${h.serverUrl}${path}`, body);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown>, text };
}

async function me(token: unknown) {
  const res = await fetch(`${h.serverUrl}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as { openid?: string } };
}

describe('POST /auth/phone', () => {
  it('with phoneCode (the current flow) answers token and phone number; the token works on /api/me', async () => {
    const code = await wxLogin(h.emulatorUrl); // kept before the tap
    const detail = await tap('getRealtimePhoneNumber');
    const { status, body, text } = await post('/auth/phone', { code, phoneCode: detail.code });
    expect(status).toBe(200);
    expect(body).toEqual({
      token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      expiresIn: 7200,
      phoneNumber: expect.stringMatching(/^1\d{10}$/),
      purePhoneNumber: expect.stringMatching(/^1\d{10}$/),
      countryCode: '86',
    });
    expect(text).not.toMatch(/session_key|openid/);
    const login = (await (await h.login()).json()) as { token: string };
    expect((await me(body.token)).body.openid).toBe((await me(login.token)).body.openid);
  });

  it('with only encryptedData and iv (legacy) decrypts with the session_key of the code kept before the tap', async () => {
    const code = await wxLogin(h.emulatorUrl);
    const { encryptedData, iv } = await tap('getPhoneNumber');
    const { status, body } = await post('/auth/phone', { code, encryptedData, iv });
    expect(status).toBe(200);
    expect(body.purePhoneNumber).toMatch(/^1\d{10}$/);
  });

  it('a wx.login after the tap rotates session_key: decryption fails with 400 decrypt_failed, never 500', async () => {
    await wxLogin(h.emulatorUrl); // the code a keeper would have held
    const { encryptedData, iv } = await tap('getPhoneNumber');
    const late = await wxLogin(h.emulatorUrl); // the mistake: wx.login in the tap handler
    const { status, body } = await post('/auth/phone', { code: late, encryptedData, iv });
    expect(status).toBe(400);
    expect(body.error).toBe('decrypt_failed');
    expect(body.message).toMatch(/was wx.login called after the tap/);
  });

  it.each([
    ['a tampered iv', (d: Record<string, string>) => ({ iv: flip(d.iv, 0) }), ['decrypt_failed', 'watermark_mismatch']],
    ['a tampered ciphertext', (d: Record<string, string>) => ({ encryptedData: flip(d.encryptedData, Buffer.from(d.encryptedData, 'base64').length - 20) }), ['decrypt_failed']],
    ['an iv that is not base64', () => ({ iv: '***' }), ['bad_base64']],
  ])('%s gets 400 with a precise error', async (_, change, errors) => {
    const code = await wxLogin(h.emulatorUrl);
    const detail = await tap('getPhoneNumber');
    const { status, body } = await post('/auth/phone', { code, encryptedData: detail.encryptedData, iv: detail.iv, ...change(detail) });
    expect(status).toBe(400);
    expect(errors).toContain(body.error);
  });

  it('data for another appid fails the watermark check', async () => {
    // Encrypted for another app with this code's session_key: only the watermark can tell.
    const code = await wxLogin(h.emulatorUrl);
    const sessionKey = h.emulator.latestSessionKey(APPID, 'alice')!;
    const { encryptData } = await import('../../server/wechat-crypto');
    const forged = encryptData(sessionKey, { phoneNumber: '13900000000', purePhoneNumber: '13900000000', countryCode: '86', watermark: { appid: 'wxother', timestamp: 1 } });
    expect(decryptData({ sessionKey, ...forged, appid: 'wxother' }).phoneNumber).toBe('13900000000');
    const { status, body } = await post('/auth/phone', { code, ...forged });
    expect([status, body.error]).toEqual([400, 'watermark_mismatch']);
  });

  it('a used phone code gets 400 invalid_phone_code; a used login code 401 invalid_code', async () => {
    await wxLogin(h.emulatorUrl);
    const detail = await tap('getRealtimePhoneNumber');
    const first = await post('/auth/phone', { code: await wxLogin(h.emulatorUrl), phoneCode: detail.code });
    expect(first.status).toBe(200);
    const again = await post('/auth/phone', { code: await wxLogin(h.emulatorUrl), phoneCode: detail.code });
    expect([again.status, again.body.error]).toEqual([400, 'invalid_phone_code']);
    const code = await wxLogin(h.emulatorUrl);
    await post('/auth/login', { code });
    const replay = await post('/auth/phone', { code, phoneCode: (await tap('getRealtimePhoneNumber')).code });
    expect([replay.status, replay.body.error]).toEqual([401, 'invalid_code']);
  });

  it.each([
    ['no phoneCode and no encryptedData', { code: 'x' }],
    ['encryptedData without iv', { code: 'x', encryptedData: 'AAAA' }],
    ['a numeric phoneCode', { code: 'x', phoneCode: 5 }],
    ['encryptedData without a code', { encryptedData: 'AAAA', iv: 'AAAA' }],
  ])('%s gets 400 invalid_request', async (_, body) => {
    const res = await post('/auth/phone', body);
    expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
  });

  it('a phoneCode without a code needs a token (binding to a logged-in user): 401 invalid_token without one', async () => {
    const res = await post('/auth/phone', { phoneCode: 'p' });
    expect([res.status, res.body.error]).toEqual([401, 'invalid_token']);
  });
});

describe('POST /auth/profile', () => {
  it('answers a token and the display fields only, never ids from the decrypted data', async () => {
    const code = await wxLogin(h.emulatorUrl);
    const { encryptedData, iv } = await tap('getUserInfo');
    const { status, body, text } = await post('/auth/profile', { code, encryptedData, iv });
    expect(status).toBe(200);
    expect(body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.userInfo).toMatchObject({ nickName: '微信用户', gender: 0 });
    expect(text).not.toMatch(/openId|unionId|watermark|session_key/);
  });

  it('takes the openid from code2Session even when the iv rewrote the openId in the data', async () => {
    const code = await wxLogin(h.emulatorUrl);
    const sessionKey = h.emulator.latestSessionKey(APPID, 'alice')!;
    const { encryptedData, iv } = await tap('getUserInfo');
    // The plaintext starts {"openId":"o…; byte 12 is inside that value. Flipping the iv's byte 12
    // rewrites it and decryption still "succeeds": CBC has no integrity.
    const bent = flip(iv, 12);
    const honest = decryptData({ sessionKey, encryptedData, iv, appid: APPID }).openId;
    const rewritten = decryptData({ sessionKey, encryptedData, iv: bent, appid: APPID }).openId;
    expect(rewritten).not.toBe(honest);
    const { status, body } = await post('/auth/profile', { code, encryptedData, iv: bent });
    expect(status).toBe(200);
    expect((await me(body.token)).body.openid).toBe(honest);
  });

  it('requires encryptedData and iv', async () => {
    const res = await post('/auth/profile', { code: 'x' });
    expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
  });
});

function flip(b64: string, byte: number): string {
  const buf = Buffer.from(b64, 'base64');
  buf[byte] ^= 0x01;
  return buf.toString('base64');
}

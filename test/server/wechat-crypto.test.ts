import { decryptData, encryptData, DecryptError } from '../../server/wechat-crypto';
// WeChat's official decryption vector: the demo code linked from 开放数据校验与解密
// (https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html);
// the fixture's `source` field says which files of the demo hold it.
import vector from '../fixtures/wechat-decrypt.json';
const ok = { sessionKey: vector.sessionKey, encryptedData: vector.encryptedData, iv: vector.iv, appid: vector.appId };

function flip(b64: string, byte: number): string {
  const buf = Buffer.from(b64, 'base64');
  buf[byte] ^= 0x01;
  return buf.toString('base64');
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof DecryptError ? err.code : `not a DecryptError: ${String(err)}`;
  }
  return 'no error';
}

it('decrypts WeChat official vector to the expected user info', () => {
  expect(decryptData(ok)).toEqual(vector.expected);
});

it('a flipped iv bit rewrites the first block: the JSON breaks or the result differs, never the expected data', () => {
  // CBC: the iv XORs into the first plaintext block only. Flipping bit 0 of byte 0 turns "{" into "z".
  expect(code(() => decryptData({ ...ok, iv: flip(ok.iv, 0) }))).toBe('decrypt_failed');
  // Byte 10 sits inside the first value ("oGZUI0egBJY1..."): decryption "succeeds" with a rewritten
  // openId, which is why the server never takes the openid from decrypted data.
  const rewritten = decryptData({ ...ok, iv: flip(ok.iv, 12) });
  expect(rewritten.openId).not.toBe(vector.expected.openId);
});

it.each([
  ['a tampered ciphertext (last block: padding breaks)', 'decrypt_failed', { encryptedData: flip(ok.encryptedData, Buffer.from(ok.encryptedData, 'base64').length - 20) }],
  ['a wrong session_key', 'decrypt_failed', { sessionKey: Buffer.alloc(16, 7).toString('base64') }],
  ['another appid', 'watermark_mismatch', { appid: 'wx0000000000000000' }],
  ['a session_key that is not base64', 'bad_base64', { sessionKey: 'not base64!!' }],
  ['an iv of the wrong length', 'bad_base64', { iv: Buffer.alloc(8).toString('base64') }],
  ['encryptedData that is not base64', 'bad_base64', { encryptedData: '%%%' }],
  ['empty encryptedData', 'bad_base64', { encryptedData: '' }],
] as const)('rejects %s with %s', (_, expected, change) => {
  expect(code(() => decryptData({ ...ok, ...change }))).toBe(expected);
});

it('encryptData round-trips through decryptData with a fresh iv each time', () => {
  const sessionKey = Buffer.alloc(16, 3).toString('base64');
  const payload = { phoneNumber: '13800138000', watermark: { appid: 'wxapp', timestamp: 1 } };
  const a = encryptData(sessionKey, payload);
  const b = encryptData(sessionKey, payload);
  expect(a.iv).not.toBe(b.iv);
  expect(decryptData({ sessionKey, ...a, appid: 'wxapp' })).toEqual(payload);
});

/**
 * WeChat's "encryptedData" (open data) crypto: AES-128-CBC, PKCS#7 padding, key = base64
 * session_key (16 bytes), iv = base64 (16 bytes), plaintext = JSON with a `watermark.appid`.
 * https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/signature.html
 *
 * CBC lets whoever holds the ciphertext rewrite the first plaintext block through the iv, so
 * nothing in the decrypted JSON identifies the user: the openid always comes from code2Session.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export type DecryptErrorCode = 'bad_base64' | 'decrypt_failed' | 'watermark_mismatch';

export class DecryptError extends Error {
  constructor(
    readonly code: DecryptErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DecryptError';
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decode16(name: string, value: string): Buffer {
  const buf = BASE64.test(value) ? Buffer.from(value, 'base64') : null;
  if (!buf || buf.length !== 16) throw new DecryptError('bad_base64', `${name} must be base64 of 16 bytes`);
  return buf;
}

/**
 * Decrypts `encryptedData` with the session_key of the code the client sent, and checks that
 * `watermark.appid` is `appid`. Returns the parsed JSON. Throws {@link DecryptError}.
 */
export function decryptData(opts: { sessionKey: string; encryptedData: string; iv: string; appid: string }): Record<string, unknown> {
  const key = decode16('session_key', opts.sessionKey);
  const iv = decode16('iv', opts.iv);
  if (!opts.encryptedData || !BASE64.test(opts.encryptedData)) throw new DecryptError('bad_base64', 'encryptedData must be base64');
  let data: unknown;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, iv);
    const plain = Buffer.concat([decipher.update(Buffer.from(opts.encryptedData, 'base64')), decipher.final()]);
    data = JSON.parse(plain.toString('utf8'));
  } catch {
    throw new DecryptError('decrypt_failed', 'encryptedData did not decrypt with the session_key of this code: was wx.login called after the tap?');
  }
  const watermark = (data as { watermark?: { appid?: unknown } } | null)?.watermark;
  if (!data || typeof data !== 'object' || watermark?.appid !== opts.appid) {
    throw new DecryptError('watermark_mismatch', 'encryptedData was not issued for this appid');
  }
  return data as Record<string, unknown>;
}

/** The other direction, as WeChat does it: for the emulator. Returns base64 `{encryptedData, iv}`. */
export function encryptData(sessionKey: string, payload: object): { encryptedData: string; iv: string } {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
  const encrypted = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
  return { encryptedData: encrypted.toString('base64'), iv: iv.toString('base64') };
}

/**
 * POST /api/avatar and GET /api/files/:id over real loopback HTTP: multipart uploads with the
 * token, files served to their owner only, and every bad upload a 4xx JSON answer.
 */
import { startStack, type Harness } from './helpers';

// The smallest valid PNG header plus some bytes: the server judges type by the first bytes.
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('pixels')]);

let stack: Harness;
beforeAll(async () => {
  stack = await startStack({ maxAvatarBytes: 1024 });
});
afterAll(() => stack.close());

async function tokenOf(user: string): Promise<string> {
  const res = await stack.login(user);
  return ((await res.json()) as { token: string }).token;
}

function upload(token: string | null, field: string, bytes: Buffer, filename = 'a.png') {
  const form = new FormData();
  form.append('kind', 'avatar');
  form.append(field, new Blob([new Uint8Array(bytes)], { type: 'image/png' }), filename);
  return fetch(`${stack.serverUrl}/api/avatar`, { method: 'POST', body: form, headers: token ? { authorization: `Bearer ${token}` } : {} });
}

describe('POST /api/avatar and GET /api/files/:id', () => {
  it('stores an upload sent with the token and serves the same bytes to its owner only', async () => {
    const alice = await tokenOf('alice');
    const res = await upload(alice, 'avatar', PNG);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { id: string; url: string; mimeType: string; size: number };
    expect(body).toMatchObject({ mimeType: 'image/png', size: PNG.length });
    expect(body.url).toBe(`/api/files/${body.id}`);

    const mine = await fetch(`${stack.serverUrl}${body.url}`, { headers: { authorization: `Bearer ${alice}` } });
    expect(mine.status).toBe(200);
    expect(mine.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await mine.arrayBuffer()).equals(PNG)).toBe(true);

    const bob = await tokenOf('bob');
    const theirs = await fetch(`${stack.serverUrl}${body.url}`, { headers: { authorization: `Bearer ${bob}` } });
    expect(theirs.status).toBe(404);
    expect(await theirs.json()).toMatchObject({ error: 'not_found' });
    const anonymous = await fetch(`${stack.serverUrl}${body.url}`);
    expect(anonymous.status).toBe(401);
  });

  it.each([
    ['no token', null, 'avatar', PNG, 401, 'invalid_token'],
    ['the file in another field', 'token', 'photo', PNG, 400, 'missing_file'],
    ['not an image', 'token', 'avatar', Buffer.from('#!/bin/sh\necho hi'), 415, 'unsupported_file_type'],
    ['over the size limit', 'token', 'avatar', Buffer.concat([PNG, Buffer.alloc(2048)]), 413, 'file_too_large'],
  ] as const)('%s: the 4xx JSON answer', async (_name, withToken, field, bytes, status, error) => {
    const token = withToken ? await tokenOf('carol') : null;
    const res = await upload(token, field, bytes);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error });
  });

  it('JSON instead of multipart: 415', async () => {
    const token = await tokenOf('dave');
    const res = await fetch(`${stack.serverUrl}/api/avatar`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('a broken multipart body or two files get a 4xx JSON answer, never a 500', async () => {
    const token = await tokenOf('erin');
    const broken = await fetch(`${stack.serverUrl}/api/avatar`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'multipart/form-data; boundary=xyz' },
      body: '--xyz\r\nContent-Disposition: form-data; name="avatar"; filename="a.png"\r\n\r\nnot closed',
    });
    expect(broken.status).toBeGreaterThanOrEqual(400);
    expect(broken.status).toBeLessThan(500);
    expect(await broken.json()).toHaveProperty('error');
    const form = new FormData();
    form.append('avatar', new Blob([new Uint8Array(PNG)]), 'a.png');
    form.append('avatar2', new Blob([new Uint8Array(PNG)]), 'b.png');
    const two = await fetch(`${stack.serverUrl}/api/avatar`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
    expect(two.status).toBe(413);
    expect(await two.json()).toMatchObject({ error: 'too_many_parts' });
  });
});

describe('POST /api/profile', () => {
  async function save(token: string, body: unknown) {
    const res = await fetch(`${stack.serverUrl}/api/profile`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('saves the nickname (trimmed, emoji counted once) with the user\'s own avatar', async () => {
    const token = await tokenOf('frank');
    const uploaded = (await (await upload(token, 'avatar', PNG)).json()) as { id: string };
    const nickname = `  ${'猫'.repeat(30)}😀🐱  `;
    const res = await save(token, { nickname, avatarId: uploaded.id });
    expect(res).toEqual({ status: 200, body: expect.objectContaining({ nickname: nickname.trim(), avatarUrl: `/api/files/${uploaded.id}` }) });
    expect(res.body.openid).toMatch(/^o/);
  });

  it.each([
    ['an empty nickname', { nickname: '   ' }, 'invalid_nickname'],
    ['a nickname of 33 characters', { nickname: 'a'.repeat(33) }, 'invalid_nickname'],
    ['a control character', { nickname: 'bad\u0007name' }, 'invalid_nickname'],
    ['a zero-width format character', { nickname: 'a\u200bb' }, 'invalid_nickname'],
    ['a nickname that is not a string', { nickname: 42 }, 'invalid_request'],
    ['no nickname', { avatarId: 'x' }, 'invalid_request'],
  ])('%s: 400 %s', async (_name, body, error) => {
    const res = await save(await tokenOf('grace'), body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
  });

  it("another user's avatar id: 400 unknown_avatar", async () => {
    const owner = await tokenOf('heidi');
    const { id } = (await (await upload(owner, 'avatar', PNG)).json()) as { id: string };
    const res = await save(await tokenOf('ivan'), { nickname: 'Ivan', avatarId: id });
    expect(res).toMatchObject({ status: 400, body: { error: 'unknown_avatar' } });
  });
});

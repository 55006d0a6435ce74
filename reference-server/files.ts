/**
 * The reference server's file routes, protected by the bearer token:
 *
 *   POST /api/avatar      multipart/form-data, the image in field "avatar" (wx.uploadFile with
 *                         name: 'avatar')      -> 200 {id, url, mimeType, size}
 *   GET  /api/files/:id   the file, to its owner only (wx.downloadFile) -> 200 the bytes
 *   POST /api/profile     JSON {nickname, avatarId?} (what <login-profile> saves)
 *                                              -> 200 {openid, nickname, avatarUrl}
 *
 * Multipart parsing is @fastify/multipart's. The type is judged by the file's first bytes (PNG,
 * JPEG, WebP), not by the name or the part's Content-Type a client chose. Files live in memory
 * (at most `maxFiles`, oldest dropped): a demo, not storage.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { randomBytes } from 'node:crypto';

export interface FileRoutesOptions {
  /** Largest avatar, bytes. @default 1048576 */
  maxAvatarBytes?: number;
  /** Files kept in memory. @default 1000 */
  maxFiles?: number;
}

/** Longest nickname, in characters (code points). */
const MAX_NICKNAME = 32;

function sendError(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.code(status).send({ error, message });
}

const SIGNATURES: Array<[mime: string, test: (b: Buffer) => boolean]> = [
  ['image/png', (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))],
  ['image/jpeg', (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ['image/webp', (b) => b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP'],
];

export async function fileRoutes(app: FastifyInstance, opts: FileRoutesOptions): Promise<void> {
  const maxAvatarBytes = opts.maxAvatarBytes ?? 1024 * 1024;
  const maxFiles = opts.maxFiles ?? 1000;
  const files = new Map<string, { openid: string; mimeType: string; bytes: Buffer }>();

  // One file part and a few small fields: anything more is a 413 from the plugin.
  await app.register(multipart, { limits: { fileSize: maxAvatarBytes, files: 1, fields: 8, fieldSize: 1024, parts: 9 } });

  app.post('/api/avatar', { preHandler: app.requireAuth }, async (request, reply) => {
    if (!request.isMultipart()) {
      return sendError(reply, 415, 'unsupported_media_type', 'Send the avatar as multipart/form-data (wx.uploadFile) with the image in field "avatar".');
    }
    let bytes: Buffer | undefined;
    try {
      // Every part is read: a second file is the plugin's FST_FILES_LIMIT, not silently ignored.
      for await (const part of request.parts()) {
        if (part.type === 'file' && part.fieldname === 'avatar') bytes = await part.toBuffer();
        else if (part.type === 'file') await part.toBuffer();
      }
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'FST_REQ_FILE_TOO_LARGE') {
        return sendError(reply, 413, 'file_too_large', `The avatar is larger than ${maxAvatarBytes} bytes. Compress it (wx.compressImage) and upload again.`);
      }
      if (code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') {
        return sendError(reply, 413, 'too_many_parts', 'Send one file (field "avatar") and at most 8 small fields.');
      }
      // busboy's parse errors ("Unexpected end of form", a bad boundary): the body is not multipart.
      return sendError(reply, 400, 'invalid_multipart', 'The multipart body could not be read. Send it with wx.uploadFile.');
    }
    if (!bytes) return sendError(reply, 400, 'missing_file', 'No file in field "avatar". Call wx.uploadFile with name: "avatar".');
    const type = SIGNATURES.find(([, test]) => test(bytes));
    if (!type) return sendError(reply, 415, 'unsupported_file_type', 'The avatar must be a PNG, JPEG or WebP image.');
    const id = randomBytes(16).toString('base64url');
    files.set(id, { openid: request.auth!.openid, mimeType: type[0], bytes });
    if (files.size > maxFiles) files.delete(files.keys().next().value as string);
    return { id, url: `/api/files/${id}`, mimeType: type[0], size: bytes.length };
  });

  const profiles = new Map<string, { nickname: string; avatarId?: string }>();

  app.post(
    '/api/profile',
    {
      preHandler: app.requireAuth,
      schema: {
        body: {
          type: 'object',
          required: ['nickname'],
          additionalProperties: false,
          properties: { nickname: { type: 'string', maxLength: 256 }, avatarId: { type: 'string', maxLength: 64 } },
        },
      },
    },
    async (request, reply) => {
      const { openid } = request.auth!;
      const body = request.body as { nickname: string; avatarId?: string };
      const nickname = body.nickname.trim();
      // Code points, not UTF-16 units: an emoji counts once. WeChat's nickname input already
      // checked the content (bindnicknamereview); this is the server's own bound.
      const length = Array.from(nickname).length;
      if (length < 1 || length > MAX_NICKNAME || /[\p{Cc}\p{Cf}\u2028\u2029]/u.test(nickname)) {
        return sendError(reply, 400, 'invalid_nickname', `The nickname must be 1 to ${MAX_NICKNAME} characters with no control characters.`);
      }
      if (body.avatarId !== undefined && files.get(body.avatarId)?.openid !== openid) {
        return sendError(reply, 400, 'unknown_avatar', 'No avatar of yours has that id. Upload it with POST /api/avatar first.');
      }
      const avatarId = body.avatarId ?? profiles.get(openid)?.avatarId;
      profiles.set(openid, { nickname, avatarId });
      return { openid, nickname, avatarUrl: avatarId ? `/api/files/${avatarId}` : null };
    },
  );

  app.get('/api/files/:id', { preHandler: app.requireAuth }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const file = files.get(id);
    // Another user's file is answered like a missing one: ids are not a way to probe.
    if (!file || file.openid !== request.auth!.openid) return sendError(reply, 404, 'not_found', 'No such file of yours.');
    return reply.type(file.mimeType).header('cache-control', 'private, no-store').send(file.bytes);
  });
}

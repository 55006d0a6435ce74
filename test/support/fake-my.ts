/**
 * A fake of the slice of Alipay's `my` the kit's Alipay adapter calls, shaped as @mini-types/my
 * and Alipay's docs say, over the same scripted server as the fake `wx` (its single-use codes):
 * - my.getAuthCode({scopes}) → {authCode} (https://opendocs.alipay.com/mini/api/openapi-authorize);
 * - my.request takes `headers` and answers {data, status, headers}; an HTTP error status goes to
 *   `fail` as {error: 19, errorMessage, status, data, headers}; no answer: {error: 12, errorMessage}
 *   (https://opendocs.alipay.com/mini/api/owycmh, error codes there);
 * - my.uploadFile needs `fileName` and `fileType` (fails {error: 2} without);
 *   my.downloadFile answers {apFilePath};
 * - storage in object form; setStorageSync over 200 KB a key returns {success: false, error: 14}
 *   and throws nothing (https://opendocs.alipay.com/mini/api/cog0du);
 * - callbacks are asynchronous (setTimeout: tests drive them with fake timers).
 */
import type { FakeRequest, Reply } from './fake-wx';
import { createScriptedServer } from './fake-wx';

const KEY_LIMIT = 200 * 1024;

export function createFakeMy() {
  const server = createScriptedServer();
  const store = new Map<string, string>();
  const shows = new Set<(res: unknown) => void>();
  const state = { authCodeCalls: 0, scopes: [] as unknown[], requests: [] as Array<FakeRequest & { fileName?: unknown; fileType?: unknown }>, storageFull: false };
  let files = 0;
  type O = { success?: (res: unknown) => void; fail?: (err: unknown) => void } & Record<string, unknown>;
  const later = (fn: () => void) => void setTimeout(fn, 10);

  /** Sends through the scripted server; `shape` makes Alipay's success object of a 2xx reply. */
  function send(o: O, kind: FakeRequest['kind'], shape: (reply: Extract<Reply, { statusCode: number }>) => object) {
    const req = { url: String(o.url), method: String(o.method ?? (kind === 'uploadFile' ? 'POST' : 'GET')).toUpperCase(), data: o.data ?? o.formData, header: { ...((o.headers as Record<string, string>) ?? {}) }, kind, fileName: o.fileName, fileType: o.fileType };
    state.requests.push(req);
    if (kind === 'uploadFile' && (!o.fileName || !o.fileType)) return void later(() => o.fail?.({ error: 2, errorMessage: 'fileName and fileType are required' }));
    void Promise.resolve(server.handler(req)).then((reply) =>
      later(() => {
        if ('fail' in reply) return o.fail?.({ error: 12, errorMessage: reply.fail });
        const headers = reply.header ?? {};
        if (reply.statusCode >= 400) return o.fail?.({ error: 19, errorMessage: 'http status error', status: reply.statusCode, data: reply.data, headers });
        o.success?.(shape(reply));
      }),
    );
    return { abort() {} };
  }

  const my = {
    getAuthCode(o: O) {
      state.authCodeCalls++;
      state.scopes.push(o.scopes);
      // A code the scripted server accepts once: minted as the fake wx.login mints them.
      server.fake.wx.login({ success: (res) => o.success?.({ authCode: res.code, authSuccessScopes: ['auth_base'] }), fail: (err) => o.fail?.({ error: 11, errorMessage: err.errMsg }) });
    },
    request: (o: O) => send(o, undefined, (reply) => ({ data: reply.data, status: reply.statusCode, headers: reply.header ?? {} })),
    uploadFile: (o: O) => send(o, 'uploadFile', (reply) => ({ data: typeof reply.data === 'string' ? reply.data : JSON.stringify(reply.data ?? ''), statusCode: reply.statusCode })),
    downloadFile: (o: O) => send(o, 'downloadFile', () => ({ apFilePath: `https://resource/apml${++files}.png` })),
    getStorageSync: ({ key }: { key: string }) => ({ data: store.has(key) ? JSON.parse(store.get(key)!) : null }),
    setStorageSync({ key, data }: { key: string; data: unknown }) {
      const text = JSON.stringify(data);
      if (state.storageFull || text.length > KEY_LIMIT) return { success: false, error: 14, errorMessage: 'data长度超限' };
      store.set(key, text);
      return { success: true };
    },
    removeStorageSync({ key }: { key: string }) {
      store.delete(key);
      return { success: true };
    },
    onAppShow: (l: (res: unknown) => void) => void shows.add(l),
    offAppShow: (l: (res: unknown) => void) => void shows.delete(l),
    getAccountInfoSync: () => ({ miniProgram: { appId: '2021000000000001', envVersion: 'release', version: '1.0.0' } }),
  };
  return { my, server, state, store };
}

/**
 * `<login-button>` on Alipay: the same index.ts registers Alipay's component model there (`props`,
 * `didMount`, the page's `onSuccess`/`onFail` props) and asks for the number through Alipay's
 * authorization button and `my.getPhoneNumber`. miniprogram-simulate is WeChat's framework only,
 * so the component is registered by a `Component` global that keeps its options and is run on an
 * Alipay-shaped `this`, as Alipay's framework would (Alipay's 组件对象 doc: AlipayDocs/open-docs, mini/framework/自定义组件/组件对象.md).
 * The platform is the boundary: scripts/node-my.ts's `my` (as @mini-types/my declares it) over real
 * HTTP to the reference server serving an Alipay app, which calls the Alipay emulator through the
 * unmodified alipay-sdk and checks the response my.getPhoneNumber gives with the app's keys.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildAlipayEmulator, type AlipayEmulator } from '../../emulator/alipay';
import { buildServer } from '../../reference-server/app';
import { createNodeMy } from '../../scripts/node-my';
import type { PlatformTrace } from '../../scripts/node-tt';
import { fromAlipay, type MyLike } from '../../src/alipay';
import { createAuth, type Auth } from '../../src/index';

const APPID = '2021000000000077';
const USER = 'ali-user';
const g = globalThis as Record<string, unknown>;
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const aesKey = randomBytes(16).toString('base64');

type Options = {
  props: Record<string, unknown>;
  data: Record<string, unknown>;
  didMount(): void;
  didUnmount(): void;
  pageEvents: { onShow(): void; onHide(): void };
  methods: Record<string, (...args: unknown[]) => unknown>;
};
type Event = { type: string; detail: Record<string, unknown>; currentTarget: { id?: unknown; dataset: Record<string, unknown> } };

let alipay: AlipayEmulator;
let server: FastifyInstance;
let baseURL: string;
let options: Options;
let my: ReturnType<typeof createNodeMy>['my'];
let trace: PlatformTrace[];
let auth: Auth;

beforeAll(async () => {
  alipay = buildAlipayEmulator({ apps: { [APPID]: { appPublicKey: keys.publicKey.export({ type: 'spki', format: 'pem' }) as string, aesKey } } });
  const gateway = `${await alipay.app.listen({ port: 0, host: '127.0.0.1' })}/gateway.do`;
  server = buildServer({ apps: [{ platform: 'alipay', appid: APPID, privateKey: keys.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string, alipayPublicKey: alipay.alipayPublicKey, aesKey, gateway }] });
  baseURL = await server.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => Promise.all([server.close(), alipay.app.close()]));

beforeEach(() => {
  // This test's own list: a call a previous test left under way reports to that test's.
  const seen: PlatformTrace[] = (trace = []);
  ({ my } = createNodeMy({ appid: APPID, user: USER, onTrace: (e) => seen.push(e) }, (a, u) => alipay.authCode(a, u), (a, u) => alipay.phoneResponse(a, u)));
  // Alipay's client: `my` and no `wx` or `tt`. The component decides at load which model to register.
  g.my = my;
  const wx = g.wx;
  delete g.wx;
  g.Component = (o: Options) => (options = o);
  jest.isolateModules(() => require('../../src/components/login-button/index'));
  g.wx = wx;
  delete g.Component;
  delete g[Symbol.for('wx-login-kit') as unknown as string];
  // node-my has no uploadFile/downloadFile (a button uses neither).
  auth = createAuth({ baseURL, wx: fromAlipay(my as unknown as MyLike) });
});
afterEach(() => {
  delete g.my;
});

/** The component on an Alipay-shaped `this`, given what the page passes (Taro passes `id` and `data-sid`). */
function mount(attrs: Record<string, unknown> = {}) {
  const events: Array<[string, Event]> = [];
  let notify = () => {};
  const self: Record<string, unknown> = {
    props: Object.assign({}, options.props, { id: 'phone-login', 'data-sid': '_n_9', onSuccess: (e: Event) => (events.push(['success', e]), notify()), onFail: (e: Event) => (events.push(['fail', e]), notify()) }, attrs),
    data: { ...options.data },
    setData(patch: object) {
      Object.assign(self.data as object, patch);
    },
  };
  for (const [k, fn] of Object.entries(options.methods)) self[k] = fn.bind(self);
  const next = () => new Promise<[string, Event]>((resolve) => (notify = () => resolve(events.at(-1)!)));
  options.didMount.call(self);
  return { self, events, next, unmount: () => options.didUnmount.call(self), method: (name: string, e?: unknown) => (self[name] as (e?: unknown) => unknown)(e) };
}

const posts = () => trace.filter((e): e is Extract<PlatformTrace, { kind: 'request' }> => e.kind === 'request' && e.url.endsWith('/auth/phone'));
const codes = () => trace.filter((e) => e.kind === 'login' && 'code' in e && e.code).length;
const asked = () => trace.filter((e) => e.kind === 'phone').length;
const until = async (ok: () => boolean) => {
  while (!ok()) await new Promise((resolve) => setImmediate(resolve));
};

it("registers Alipay's component model: props with the same names and defaults as WeChat's properties", () => {
  expect(options.props).toEqual({ openType: 'getPhoneNumber', auth: 'default', path: '', type: 'default', size: 'default', plain: false, disabled: false });
  expect(Object.keys(options.methods).sort()).toEqual(['onAuthError', 'onGetAuthorize']);
});

it('keeps a code through the app instance while mounted (my.getAuthCode, auth_base)', async () => {
  const { unmount } = mount();
  await until(() => codes() === 1);
  unmount();
  expect(codes()).toBe(1);
});

it("the authorization button's onError fails with denied, with the page's id and data-sid; nothing asked or sent", async () => {
  const { method, events, unmount } = mount();
  method('onAuthError', { type: 'error', detail: { type: 'getAuthorize', errorMessage: 'user denied' } });
  expect(events).toHaveLength(1);
  const [name, e] = events[0];
  expect(name).toBe('fail');
  expect(e.detail).toEqual({ reason: 'denied', errMsg: 'user denied' });
  // Taro's event handler finds its node by currentTarget.dataset.sid or id.
  expect(e.currentTarget).toEqual({ id: 'phone-login', dataset: { sid: '_n_9' } });
  expect(asked()).toBe(0);
  expect(posts()).toHaveLength(0);
  unmount();
});

it("not logged in: a tap POSTs {code, response, platform, appid}; the server checks the response and logs in; its token is stored", async () => {
  const { method, next, unmount } = mount();
  await until(() => codes() === 1);
  const done = next();
  method('onGetAuthorize', { type: 'getAuthorize' });
  const [name, e] = await done;
  expect(name).toBe('success');
  expect(e.detail.purePhoneNumber).toMatch(/^\d{11}$/);
  expect(typeof e.detail.token).toBe('string');
  expect(auth.token).toBe(e.detail.token);
  expect(asked()).toBe(1);
  expect(posts()).toHaveLength(1);
  expect(Object.keys(posts()[0].data as object).sort()).toEqual(['appid', 'code', 'platform', 'response']);
  expect(posts()[0].data).toMatchObject({ platform: 'alipay', appid: APPID });
  expect(posts()[0].authorized).toBe(false);
  unmount();
});

it("logged in: a tap binds the response with the token ({response}, Bearer): the number, no new token, no code spent", async () => {
  await auth.login();
  const token = auth.token;
  const { method, next, unmount } = mount();
  await until(() => codes() === 2); // the login's, then the keeper's
  const done = next();
  method('onGetAuthorize', {});
  const [name, e] = await done;
  expect(name).toBe('success');
  expect(e.detail).toEqual({ phoneNumber: expect.stringMatching(/^\d{11}$/), purePhoneNumber: expect.stringMatching(/^\d{11}$/), countryCode: '86' });
  expect(posts()[0].data).toEqual({ response: expect.any(String) });
  expect(posts()[0].authorized).toBe(true);
  expect(auth.token).toBe(token);
  expect(codes()).toBe(2); // the kept code is still fresh: restarting the keeper asks for none
  unmount();
});

it('my.getPhoneNumber failing fails the tap by its errorMessage and sends nothing', async () => {
  my.getPhoneNumber = (o: { fail?(err: { error: number; errorMessage: string }): void }) => setImmediate(() => o.fail?.({ error: 3, errorMessage: 'no permission' }));
  const { method, next, unmount } = mount();
  const done = next();
  method('onGetAuthorize', {});
  const [name, e] = await done;
  expect([name, e.detail]).toEqual(['fail', { reason: 'unsupported', errMsg: 'no permission' }]);
  expect(posts()).toHaveLength(0);
  unmount();
});

it("a response the server cannot check fails with reason server (the server's 400), and the button takes taps again", async () => {
  my.getPhoneNumber = (o: { success?(res: { response: string }): void }) => setImmediate(() => o.success?.({ response: '{"response":"AAAA","sign":"bm90IGEgc2lnbg=="}' }));
  const { self, method, next, unmount } = mount();
  const done = next();
  method('onGetAuthorize', {});
  const [name, e] = await done;
  expect(name).toBe('fail');
  expect(e.detail.reason).toBe('server');
  expect((e.detail.error as { statusCode?: number; data?: { error?: string } }).statusCode).toBe(400);
  expect((self.data as { loading: boolean }).loading).toBe(false);
  expect(auth.token).toBeNull();
  unmount();
});

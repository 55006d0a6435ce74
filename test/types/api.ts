/**
 * Type test of the public API as users get it (the built .d.ts), under strict, with NO
 * miniprogram-api-typings: the kit's types must stand alone, or with `skipLibCheck` they would
 * silently turn into `any`. Compiled by `npm run test:types` (several TypeScript versions and
 * settings); never run. Every `@ts-expect-error` line must fail to compile, or tsc reports it as unused.
 */
import {
  createAuth,
  AbortError,
  getAuth,
  getDefaultAuth,
  HTTPError,
  LoginError,
  type Auth,
  type AuthOptions,
  type ChooseAvatarEvent,
  type GetRealtimePhoneNumberEvent,
  type LoginButtonFailEvent,
  type LoginProfileFailEvent,
  type WxLike,
  type WxResponse,
} from 'wx-login-kit';

interface User {
  openid: string;
  nickName: string;
}

export async function usage(wxObject: WxLike): Promise<void> {
  const auth: Auth = createAuth({ baseURL: 'https://api.example.com', wx: wxObject, trustedOrigins: ['https://cdn.example.com'] });
  const token: string = await auth.ensureLogin();
  const current: string | null = auth.token;
  void token;
  void current;

  const res = await auth.request<User>({ url: '/api/me', method: 'GET' });
  const name: string = res.data.nickName;
  const status: number = res.statusCode;
  void name;
  void status;
  // @ts-expect-error data is typed as User: nickName is not a number
  const wrong: number = res.data.nickName;
  void wrong;
  // @ts-expect-error User has no field "phone"
  void res.data.phone;

  const off: () => void = auth.on('login', (t: string) => void t);
  off();
  auth.on('error', (e) => void e.message);
  // @ts-expect-error unknown event name
  auth.on('logged-in', () => undefined);
  // @ts-expect-error the login event hands a string token, not a number
  auth.on('login', (t: number) => void t);

  try {
    await auth.request({ url: '/x' });
  } catch (err) {
    if (err instanceof HTTPError) void (err.statusCode + 1);
    if (err instanceof LoginError) {
      const code: 'WX_LOGIN' | 'NETWORK' | 'HTTP' | 'BAD_RESPONSE' | 'RELOGIN_LIMIT' | 'ABORTED' = err.code;
      void code;
    }
  }
  void getDefaultAuth().launch({ globalData: {} });
  // Any app object: a Vue component instance (uni-app), Taro.getApp()'s result, or none.
  const vueInstance: { $options: object; $: unknown } = { $options: {}, $: null };
  void auth.launch(vueInstance);
  void getAuth('shop').launch();
  // @ts-expect-error the app object, not a string
  void auth.launch('app');
  // @ts-expect-error a typo in a request option is an error, not a silent any
  await auth.request({ urll: '/api/me' });
  // @ts-expect-error method is one of wx.request's
  await auth.request({ url: '/api/me', method: 'FETCH' });

  const upload = auth.uploadFile<{ avatarId: string }>({ url: '/api/avatar', filePath: 'wxfile://tmp.png', name: 'avatar', onProgressUpdate: (p) => void p.totalBytesSent });
  upload.abort();
  const up = await upload;
  const text: string = up.data;
  const id: string | undefined = up.json?.avatarId;
  void text;
  void id;
  // @ts-expect-error json may be undefined (the body was not JSON)
  void up.json.avatarId;
  // @ts-expect-error an upload needs the multipart field name
  void auth.uploadFile({ url: '/api/avatar', filePath: 'wxfile://tmp.png' });
  // @ts-expect-error upload progress has no totalBytesWritten
  void auth.uploadFile({ url: '/a', filePath: 'f', name: 'n', onProgressUpdate: (p) => void p.totalBytesWritten });
  const file = await auth.downloadFile({ url: '/api/files/1', onHeadersReceived: (h) => void h.header });
  const path: string = file.tempFilePath;
  void path;
  // @ts-expect-error a download has no filePath to upload from, and no name
  void auth.downloadFile({ url: '/f', name: 'x' });
  const ended: void = auth.logout();
  void ended;
  auth.logout({ everywhere: true });
  // @ts-expect-error everywhere is a boolean
  auth.logout({ everywhere: 'yes' });
  // @ts-expect-error logout is fire and forget: nothing to await
  void auth.logout().then;
  try {
    await auth.request({ url: '/x' }).catch((e: unknown) => Promise.reject(e));
  } catch (err) {
    if (err instanceof AbortError) {
      const name: 'AbortError' = err.name;
      void name;
    }
  }
}

// @ts-expect-error baseURL is required
createAuth({});
// @ts-expect-error loginRetries is a number
createAuth({ baseURL: 'https://api.example.com', loginRetries: '2' });
// @ts-expect-error tokenScheme is a string
createAuth({ baseURL: 'https://api.example.com', tokenScheme: null });
// @ts-expect-error unknown option
createAuth({ baseURL: 'https://api.example.com', loginUrl: '/login' });
// @ts-expect-error name is a string
createAuth({ baseURL: 'https://api.example.com', name: 1 });
createAuth({ baseURL: 'https://api.example.com', logoutPath: '/session/end', logoutAllPath: false });
// @ts-expect-error logoutPath is a path or false, not true
createAuth({ baseURL: 'https://api.example.com', logoutPath: true });
// @ts-expect-error isUnauthorized takes a response and returns a boolean
createAuth({ baseURL: 'https://api.example.com', isUnauthorized: (res: WxResponse) => res.statusCode });

export const options: AuthOptions = { baseURL: 'https://api.example.com', codeRefreshInterval: 240_000 };

export function onRealtime(e: GetRealtimePhoneNumberEvent): string | undefined {
  return e.detail.code;
}
export function onAvatar(e: ChooseAvatarEvent): string {
  return e.detail.avatarUrl;
}
export function onProfileFail(e: LoginProfileFailEvent): string {
  if (e.detail.reason === 'nickname') return 'choose another nickname';
  // @ts-expect-error narrow first: only network/server failures carry the kit's error
  void e.detail.error;
  return 'error' in e.detail ? e.detail.error.message : e.detail.errMsg;
}

export function onFail(e: LoginButtonFailEvent): string {
  // @ts-expect-error only WeChat's own failures carry errMsg; narrow first
  void e.detail.errMsg;
  // @ts-expect-error "quota" is WeChat's failure: it has no kit error
  if (e.detail.reason === 'quota') void e.detail.error;
  return 'error' in e.detail ? e.detail.error.message : `${e.detail.reason}: ${e.detail.errMsg} (${e.detail.errno})`;
}

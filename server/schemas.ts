/**
 * The contract's JSON schemas: fastify validates bodies with them, and @fastify/swagger publishes
 * them as OpenAPI 3 (./plugin `openapi`). Bounds are generous for WeChat's values and small
 * enough that nothing large reaches WeChat or the decryptor.
 */

export const code = {
  type: 'string',
  minLength: 1,
  maxLength: 128,
  description: "A login code, single use: wx.login's (valid 5 minutes), tt.login's (3 minutes), my.getAuthCode's authCode or qq.login's.",
} as const;

/** Which app a login is for: needed only when the server serves several and the rest does not tell which. */
const appFields = {
  platform: { type: 'string', minLength: 1, maxLength: 16, description: "The app's platform: 'wechat', 'douyin', 'alipay' or 'qq'. Optional when the server serves one app, or one of this platform." },
  appid: { type: 'string', minLength: 1, maxLength: 64, description: "The app's appid (Alipay: app_id). Optional when the server serves one app, or one of this platform." },
} as const;
const encryptedData = { type: 'string', minLength: 1, maxLength: 8192, description: 'encryptedData from the button, base64.' } as const;
const iv = { type: 'string', minLength: 1, maxLength: 64, description: 'iv from the button, base64.' } as const;

const error = {
  description: 'An error: `error` is a stable code for programs, `message` says what failed and what to do.',
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    retryAfter: { type: 'integer', description: 'With 429: seconds to wait (also in Retry-After).' },
    errcode: { type: 'integer', description: "WeChat's errcode, when WeChat refused the app." },
  },
} as const;

const errors = { '4xx': error, '5xx': error } as const;

const token = {
  token: { type: 'string', description: 'The bearer token: send it as Authorization: Bearer <token>.' },
  expiresIn: { type: 'integer', description: 'Seconds until the token expires.' },
} as const;

const bearer = [{ bearer: [] }];

export const openapiInfo = {
  info: {
    title: 'wx-login-kit server contract',
    description: [
      'wx.login code -> code2Session -> token. https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/login.html',
      '',
      'In-band login: a request to one of the app\'s protected routes with no Authorization but `X-WX-Login-Code: <wx.login code>` logs in on the way (same caps, limits and errors as POST /auth/login; a used code is 401 invalid_code); its answer carries `X-WX-Token: <token>` and `X-WX-Token-Expires-In: <seconds>`, with Cache-Control: no-store.',
      'Several apps (`apps`): a login names its app with `platform` and `appid` in the body (in-band: the `X-WX-Login-Platform` and `X-WX-Login-Appid` headers) when the rest does not tell it; an app the server does not serve is 400 unknown_app.',
      'In-band renewal: once a token has lived `renewAfter` of its lifetime (default half), the next authenticated 2xx answer carries its successor in the same two headers; the old token keeps working `renewGraceSeconds` (default 60) more.',
    ].join('\n'),
    version: '1',
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      loginCode: { type: 'apiKey', in: 'header', name: 'X-WX-Login-Code', description: 'A login code (wx.login, tt.login, my.getAuthCode, qq.login), for an in-band login.' },
      loginPlatform: {
        type: 'apiKey',
        in: 'header',
        name: 'X-WX-Login-Platform',
        description: "With X-WX-Login-Code, when the server serves several apps: the app's platform ('wechat', 'douyin', 'alipay', 'qq').",
      },
      loginAppid: { type: 'apiKey', in: 'header', name: 'X-WX-Login-Appid', description: "With X-WX-Login-Code, when the server serves several apps: the app's appid." },
    },
  },
} as const;

export const login = {
  summary: 'Exchange a login code for a token',
  body: {
    type: 'object',
    required: ['code'],
    properties: {
      code,
      ...appFields,
      anonymousCode: { type: 'string', minLength: 1, maxLength: 128, description: "Douyin only: tt.login's anonymousCode, to learn the device's anonymous_openid." },
    },
  },
  response: { 200: { type: 'object', required: ['token', 'expiresIn'], properties: token }, ...errors },
} as const;

export const phone = {
  summary: 'Log in with the phone number from a getPhoneNumber / getRealtimePhoneNumber button, or bind it to a logged-in user',
  description:
    'With `code` (a login code from before the tap): code2Session, a new session, the token and the number. Without `code`, with `Authorization: Bearer <token>` and `phoneCode` (WeChat) or `response` (Alipay): the number of the token\'s user (WeChat checks the phone code against the openid); no new session, no token in the answer. WeChat: `phoneCode`, or `encryptedData` + `iv`; Douyin: `code` + `encryptedData` + `iv`; Alipay: `response`; QQ has no phone-number button (400).',
  body: {
    type: 'object',
    properties: {
      code,
      ...appFields,
      phoneCode: { type: 'string', minLength: 1, maxLength: 256, description: "WeChat: the button's detail.code." },
      encryptedData,
      iv,
      response: { type: 'string', minLength: 1, maxLength: 8192, description: "Alipay: my.getPhoneNumber's res.response, as it is (signed and encrypted by Alipay)." },
    },
    anyOf: [{ required: ['phoneCode'] }, { required: ['code', 'encryptedData', 'iv'] }, { required: ['response'] }],
  },
  response: {
    200: {
      type: 'object',
      required: ['phoneNumber', 'purePhoneNumber', 'countryCode'],
      properties: { ...token, phoneNumber: { type: 'string' }, purePhoneNumber: { type: 'string' }, countryCode: { type: 'string' } },
    },
    ...errors,
  },
} as const;

export const profile = {
  summary: 'Log in with the user info from a (legacy) getUserInfo button (WeChat, QQ)',
  body: { type: 'object', required: ['code', 'encryptedData', 'iv'], properties: { code, ...appFields, encryptedData, iv } },
  response: {
    200: {
      type: 'object',
      required: ['token', 'expiresIn', 'userInfo'],
      properties: {
        ...token,
        userInfo: {
          type: 'object',
          description: 'Display fields only; today WeChat gives "微信用户" and a grey avatar.',
          properties: {
            nickName: { type: 'string' },
            avatarUrl: { type: 'string' },
            gender: { type: 'integer' },
            language: { type: 'string' },
            city: { type: 'string' },
            province: { type: 'string' },
            country: { type: 'string' },
          },
        },
      },
    },
    ...errors,
  },
} as const;

export const logout = {
  summary: "Revoke this request's token",
  security: bearer,
  response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, ...errors },
} as const;

export const logoutAll = {
  summary: "Revoke every session of this token's user",
  security: bearer,
  response: { 200: { type: 'object', properties: { revoked: { type: 'integer' } } }, ...errors },
} as const;

export const sessions = {
  summary: "This token's user's live sessions, oldest first",
  security: bearer,
  response: {
    200: {
      type: 'object',
      properties: {
        sessions: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              id: { type: 'string', description: 'Names the session for DELETE /sessions/{id}; not a token.' },
              createdAt: { type: 'integer', description: 'ms since the epoch' },
              expiresAt: { type: 'integer', description: 'ms since the epoch' },
              lastSeenAt: { type: 'integer', description: 'ms since the epoch' },
              current: { type: 'boolean', description: "Whether it is this request's session." },
            },
          },
        },
      },
    },
    ...errors,
  },
} as const;

export const revoke = {
  summary: "Revoke one of this token's user's sessions",
  security: bearer,
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f]{64}$' } } },
  response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, ...errors },
} as const;

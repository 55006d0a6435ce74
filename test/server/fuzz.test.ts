/**
 * Fuzz: NUM_REQUESTS generated bad (and a few good) requests over real loopback HTTP against the
 * reference server (wxLogin plugin + the app's /api routes), with the WeChat emulator behind it.
 *
 * Asserts, for every answer: status < 500; a non-2xx answer with a body is JSON {error, message}
 * with no internals; no real token, session_key, access_token or AppSecret in any answer body or
 * header (but the token a login answer issues itself) nor in any log line.
 *
 * Requests are generated up front by fast-check from a fixed seed (FUZZ_SEED overrides it) and
 * sent 8 at a time with node:http (keep-alive), which, unlike fetch, can send a GET with a body,
 * a chunked body, raw latin1 in the path or a header over node's 16 KiB limit. Real codes, phone
 * codes, encryptedData/iv, session ids and tokens appear in a generated request as @@KIND:i@@
 * markers, resolved when it is sent (@@FRESH:0@@: a wx.login code fetched just before), so a
 * failure printed with markers replays against a fresh stack once the markers are filled in.
 * A holder whose token the fuzz revokes (logout, logout-all, DELETE of its own session) logs in
 * again as a new user; every token and session_key ever issued is a secret to look for.
 *
 * One summary line is printed: count, seed, time, statuses, error codes, problems.
 */
import fc from 'fast-check';
import http from 'node:http';
import { Writable } from 'node:stream';
import { APPID, OTHER_APPID, OTHER_SECRET, SECRET, type Harness, startStack, wxLogin } from './helpers';

const NUM_REQUESTS = 10_000;
const CONCURRENCY = 8;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 0x5eed_2025;
/** The plugin's JSON body limit (DEFAULTS.bodyLimit). */
const BODY_LIMIT = 16 * 1024;
/** Small, so "too large" uploads stay cheap. */
const MAX_AVATAR_BYTES = 4096;
/** Users holding a live token during the fuzz; re-logged in (as a new user) when the fuzz revokes it. */
const HOLDERS = ['alice', 'bob', 'carol'] as const;
/** Users with a fresh wx.login code, phone code and encryptedData/iv each. */
const N_CODES = 48;
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const;
type Method = (typeof METHODS)[number];

// ---------------------------------------------------------------------------------------------
// Generated request shapes (plain data; markers stand for real values)

/** A JSON value serialized as written: raw number text, or an object with any (repeated) keys. */
class Raw {
  constructor(readonly text: string) {}
}
class Obj {
  constructor(readonly entries: Array<[string, unknown]>) {}
}

type Body =
  | { kind: 'none' }
  | { kind: 'empty' }
  | { kind: 'json'; value: unknown; mangle: 'none' | 'bom' | 'trailing' | 'truncate'; padTo?: number }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: number[] }
  | { kind: 'deep'; depth: number; open: string; close: string; inCode: boolean }
  | { kind: 'multipart'; spec: MultipartSpec };

interface PartSpec {
  name: string;
  filename: string | null;
  type: string | null;
  content: { kind: 'png' | 'jpeg' | 'webp' | 'random' | 'empty' | 'big'; bytes: number[]; size: number };
}
interface MultipartSpec {
  boundary: string;
  declared: 'same' | 'quoted' | 'other' | 'none' | 'empty';
  parts: PartSpec[];
  ending: 'ok' | 'missing' | 'truncated' | 'no-crlf';
  preamble: boolean;
}

type Auth =
  | { kind: 'none' }
  | { kind: 'valid'; slot: number; form: 'plain' | 'lower' | 'upper' | 'spaces' | 'tab' | 'suffix' | 'truncated' | 'bare' | 'basic' | 'swapcase' }
  | { kind: 'revoked'; i: number }
  | { kind: 'raw'; value: string };

interface FuzzRequest {
  method: Method;
  path: string;
  auth: Auth;
  /** 'auto': from the body (JSON, multipart with its boundary, none). */
  contentType: string | null | 'auto';
  body: Body;
  chunked: boolean;
  extraHeaders: Array<[string, string]>;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const ref = (kind: string, i: number) => `@@${kind}:${i}@@`;
const idx = fc.nat({ max: N_CODES - 1 });
const slot = fc.nat({ max: HOLDERS.length - 1 });

const ascii = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
/** What node lets into a header value. */
const printable = (maxLength = 60) => fc.string({ unit: ascii, maxLength });
const NASTY = [
  '',
  ' ',
  'null',
  'undefined',
  'NaN',
  '__proto__',
  'constructor',
  'prototype',
  '../../../etc/passwd',
  '..\\..\\windows',
  '%00',
  '\u0000',
  '\r\n',
  '\u2028\u2029',
  '\ufeff',
  '\ud800',
  '\udfff\ud800',
  '😀'.repeat(40),
  'e\u0301'.repeat(30),
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  'x&appid=wxtest0000000002&secret=x',
  'a#b',
  'a?b=c',
  'a/b',
  'a%2Fb',
  'a\\u0000b',
  'session_key',
  '[object Object]',
];
const nasty = fc.constantFrom(...NASTY);
const longs = fc.constantFrom(64, 65, 127, 128, 129, 256, 257, 1000, 8192, 8193).map((n) => 'c'.repeat(n));
const junk = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  printable(),
  nasty,
  longs,
  fc.base64String({ maxLength: 64 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{32}$/),
  fc.stringMatching(/^[0-9a-f]{64}$/),
);
const hugeNumbers = fc
  .constantFrom('1e999', '-1e999', '123456789012345678901234567890', '-0', '0.0000000000000000000000001', '9007199254740993', '1E+2', '0x10', '01', 'NaN', 'Infinity')
  .map((t) => new Raw(t));
const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  hugeNumbers,
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  fc.constantFrom([], {}, [[]], { code: 'x' }),
  fc.jsonValue({ maxDepth: 2 }),
);
const secretInBody = fc.oneof(slot.map((s) => ref('TOKEN', s)), slot.map((s) => ref('SKEY', s)));

const base64Of = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b).toString('base64'));
const codeVal = fc.oneof(
  // A wx.login code fetched just before the request: it gets through code2Session to the checks after it.
  { weight: 4, arbitrary: fc.constant(ref('FRESH', 0)) },
  { weight: 2, arbitrary: idx.map((i) => ref('CODE', i)) },
  { weight: 1, arbitrary: fc.nat({ max: 3 }).map((i) => ref('FCODE', i)) },
  { weight: 4, arbitrary: junk },
  { weight: 2, arbitrary: wrongType },
  { weight: 1, arbitrary: secretInBody },
);
const phoneCodeVal = fc.oneof(
  { weight: 3, arbitrary: idx.map((i) => ref('PCODE', i)) },
  { weight: 2, arbitrary: fc.stringMatching(/^[0-9a-f]{64}$/) },
  { weight: 3, arbitrary: junk },
  { weight: 2, arbitrary: wrongType },
);
const encVal = fc.oneof(
  { weight: 3, arbitrary: idx.chain((i) => fc.constantFrom(ref('PENC', i), ref('UENC', i))) },
  // Whole AES blocks: these get through base64 and the cipher to the padding / JSON checks.
  { weight: 2, arbitrary: fc.nat({ max: 16 }).chain((n) => base64Of(16 * n, 16 * n)) },
  { weight: 2, arbitrary: base64Of(0, 200) },
  { weight: 2, arbitrary: junk },
  { weight: 1, arbitrary: fc.constantFrom('A'.repeat(8192), 'A'.repeat(8193), '====', 'AAAA====', '!!!!', '\u00ff\u00fe') },
  { weight: 1, arbitrary: wrongType },
);
const ivVal = fc.oneof(
  { weight: 3, arbitrary: idx.chain((i) => fc.constantFrom(ref('PIV', i), ref('UIV', i), ref('PIVX', i), ref('UIVX', i))) },
  { weight: 2, arbitrary: base64Of(16, 16) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 12, 15, 17, 24, 32, 48).chain((n) => base64Of(n, n)) },
  { weight: 2, arbitrary: junk },
  { weight: 1, arbitrary: fc.constantFrom('A'.repeat(64), 'A'.repeat(65), 'AAAAAAAAAAAAAAAAAAAAAA==', 'AAAAAAAAAAAAAAAAAAAAAA') },
  { weight: 1, arbitrary: wrongType },
);
const nicknameVal = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'Bob',
      '微信用户',
      '   ',
      ' Bob ',
      'a'.repeat(32),
      'a'.repeat(33),
      'a'.repeat(256),
      'a'.repeat(257),
      '😀'.repeat(32),
      '😀'.repeat(33),
      'a\u0000b',
      'a\u0007b',
      'a\u200bb',
      'a\u202eb',
      'a\u2028b',
      'a\ufeffb',
      '\ud800',
      'e\u0301'.repeat(20),
      '<img src=x onerror=alert(1)>',
    ),
  },
  { weight: 1, arbitrary: nasty },
  { weight: 2, arbitrary: wrongType },
);
const avatarIdVal = fc.oneof(junk, fc.stringMatching(/^[A-Za-z0-9_-]{22}$/), fc.constantFrom('c'.repeat(64), 'c'.repeat(65)), wrongType);
const anyKey = fc.oneof(
  junk,
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'code', 'session_key', 'openid', 'unionid', 'admin', 'token'),
);
const extras = fc.array(fc.tuple(anyKey, fc.oneof(junk, wrongType)), { maxLength: 3 });

/** An object with these fields (each present ~80 %, maybe twice) and a few extra keys. */
function shaped(fields: Array<[string, fc.Arbitrary<unknown>]>): fc.Arbitrary<Obj> {
  const one = ([name, value]: [string, fc.Arbitrary<unknown>]) =>
    fc.oneof(
      { weight: 8, arbitrary: value.map((v) => [[name, v]] as Array<[string, unknown]>) },
      { weight: 2, arbitrary: fc.constant([] as Array<[string, unknown]>) },
      { weight: 1, arbitrary: fc.tuple(value, value).map(([a, b]) => [[name, a], [name, b]] as Array<[string, unknown]>) },
    );
  return fc
    .tuple(fc.tuple(...fields.map(one)), extras, fc.boolean())
    .map(([parts, more, extrasFirst]) => new Obj(extrasFirst ? [...more, ...parts.flat()] : [...parts.flat(), ...more]));
}

/** Well formed: the fields a real client sends, for code i (success the first time each code is used). */
const wellFormed = {
  login: idx.map((i) => new Obj([['code', ref('CODE', i)]])),
  phone: fc.tuple(idx, fc.boolean()).map(([i, byCode]) =>
    new Obj(byCode ? [['code', ref('CODE', i)], ['phoneCode', ref('PCODE', i)]] : [['code', ref('CODE', i)], ['encryptedData', ref('PENC', i)], ['iv', ref('PIV', i)]]),
  ),
  profile: idx.map((i) => new Obj([['code', ref('CODE', i)], ['encryptedData', ref('UENC', i)], ['iv', ref('UIV', i)]])),
  apiProfile: fc.constantFrom('Bob', '微信用户', 'a'.repeat(32)).map((n) => new Obj([['nickname', n]])),
};

const jsonShapes = {
  login: fc.oneof({ weight: 1, arbitrary: wellFormed.login }, { weight: 5, arbitrary: shaped([['code', codeVal]]) }),
  phone: fc.oneof(
    { weight: 1, arbitrary: wellFormed.phone },
    { weight: 5, arbitrary: shaped([['code', codeVal], ['phoneCode', phoneCodeVal], ['encryptedData', encVal], ['iv', ivVal]]) },
  ),
  profile: fc.oneof(
    { weight: 1, arbitrary: wellFormed.profile },
    { weight: 5, arbitrary: shaped([['code', codeVal], ['encryptedData', encVal], ['iv', ivVal]]) },
  ),
  apiProfile: fc.oneof({ weight: 1, arbitrary: wellFormed.apiProfile }, { weight: 5, arbitrary: shaped([['nickname', nicknameVal], ['avatarId', avatarIdVal]]) }),
  nothing: fc.oneof(fc.constant(new Obj([])), shaped([]), wrongType),
};

const padTo = fc.constantFrom(BODY_LIMIT - 200, BODY_LIMIT - 1, BODY_LIMIT, BODY_LIMIT + 1, BODY_LIMIT + 100, 20_000, 65_536, 200_000);
const jsonBody = (value: fc.Arbitrary<unknown>): fc.Arbitrary<Body> =>
  fc.record({
    kind: fc.constant('json' as const),
    value,
    mangle: fc.oneof(
      { weight: 12, arbitrary: fc.constant('none' as const) },
      { weight: 1, arbitrary: fc.constantFrom('bom' as const, 'trailing' as const, 'truncate' as const) },
    ),
    padTo: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: padTo }),
  });

const rawTexts = fc.constantFrom(
  '{"code": ',
  '{',
  '}',
  '}{',
  '[',
  '{"code":"a"}{"code":"b"}',
  '{"code":"a"} x',
  "{'code': 'a'}",
  '{code: "a"}',
  '{"code": "a",}',
  '{"code": "\\ud800"}',
  '{"code": "\\u0000"}',
  '{"code": "a\\"}',
  '{"__proto__": {"admin": true}, "code": "abc"}',
  '{"code": "abc", "__proto__": {"admin": true}}',
  '{"code": {"__proto__": {"admin": true}}}',
  '{"constructor": {"prototype": {"admin": true}}, "code": "abc"}',
  '{"nickname": "x", "constructor": {"prototype": {"admin": true}}}',
  '{"nickname": "x", "__proto__": null}',
  '{"code": 1e999}',
  '{"code": NaN}',
  'null',
  'true',
  '0',
  '"abc"',
  '[]',
  '[{"code": "abc"}]',
  '\ufeff{"code": "abc"}',
  'code=abc',
  '--x\r\nContent-Disposition: form-data; name="avatar"\r\n\r\nabc\r\n--x--\r\n',
);

const fileContent: fc.Arbitrary<PartSpec['content']> = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ kind: 'png' as const, bytes: [...b], size: 0 })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ kind: 'jpeg' as const, bytes: [...b], size: 0 })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ kind: 'webp' as const, bytes: [...b], size: 0 })) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 128 }).map((b) => ({ kind: 'random' as const, bytes: [...b], size: 0 })) },
  { weight: 1, arbitrary: fc.constant<PartSpec['content']>({ kind: 'empty', bytes: [], size: 0 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(MAX_AVATAR_BYTES, MAX_AVATAR_BYTES + 1, 3 * MAX_AVATAR_BYTES).map((size) => ({ kind: 'big' as const, bytes: [], size })),
  },
);
const part: fc.Arbitrary<PartSpec> = fc.record({
  name: fc.oneof({ weight: 6, arbitrary: fc.constant('avatar') }, { weight: 2, arbitrary: fc.constantFrom('photo', 'kind', 'file', 'avatar[]', 'Avatar') }, { weight: 2, arbitrary: junk }),
  filename: fc.oneof({ weight: 4, arbitrary: fc.constant('a.png') }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 2, arbitrary: junk }),
  type: fc.oneof(fc.constant('image/png'), fc.constant(null), fc.constantFrom('image/jpeg', 'text/plain', 'application/json'), printable(30)),
  content: fileContent,
});
const multipartSpec: fc.Arbitrary<MultipartSpec> = fc.record({
  boundary: fc.oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9]{8,30}$/).map((s) => `----fuzz${s}`) },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9'()+_,./:=? -]{1,75}$/) },
  ),
  declared: fc.oneof(
    { weight: 8, arbitrary: fc.constant('same' as const) },
    { weight: 1, arbitrary: fc.constantFrom('quoted' as const, 'other' as const, 'none' as const, 'empty' as const) },
  ),
  parts: fc.oneof(
    { weight: 6, arbitrary: fc.array(part, { minLength: 1, maxLength: 2 }) },
    { weight: 1, arbitrary: fc.array(part, { minLength: 0, maxLength: 12 }) },
  ),
  ending: fc.oneof({ weight: 8, arbitrary: fc.constant('ok' as const) }, { weight: 1, arbitrary: fc.constantFrom('missing' as const, 'truncated' as const, 'no-crlf' as const) }),
  preamble: fc.boolean(),
});

/** Any body at all, not tied to a route. */
const anyBody: fc.Arbitrary<Body> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'none' } as Body) },
  { weight: 2, arbitrary: fc.constant({ kind: 'empty' } as Body) },
  { weight: 2, arbitrary: jsonBody(fc.jsonValue({ maxDepth: 4 })) },
  { weight: 2, arbitrary: jsonBody(fc.oneof(jsonShapes.login, jsonShapes.phone, jsonShapes.profile, jsonShapes.apiProfile, jsonShapes.nothing)) },
  { weight: 2, arbitrary: fc.oneof(rawTexts, junk, printable(200)).map((text): Body => ({ kind: 'text', text })) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }).map((b): Body => ({ kind: 'bytes', bytes: [...b] })) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        depth: fc.oneof(fc.integer({ min: 2, max: 100 }), fc.constantFrom(1000, 2700, 5000, 8000, 9000, 50_000)),
        brackets: fc.constantFrom<[string, string]>(['[', ']'], ['{"a":', '}'], ['{"__proto__":', '}']),
        inCode: fc.boolean(),
      })
      .map(({ depth, brackets: [open, close], inCode }): Body => ({ kind: 'deep', depth, open, close, inCode })),
  },
  { weight: 1, arbitrary: multipartSpec.map((spec): Body => ({ kind: 'multipart', spec })) },
);

/** The body a route reads, mostly; sometimes any body. */
const bodyFor = (own: fc.Arbitrary<Body>): fc.Arbitrary<Body> => fc.oneof({ weight: 7, arbitrary: own }, { weight: 3, arbitrary: anyBody });
const emptyish: fc.Arbitrary<Body> = fc.oneof(
  fc.constant({ kind: 'none' } as Body),
  fc.constant({ kind: 'empty' } as Body),
  jsonBody(jsonShapes.nothing),
  fc.oneof(rawTexts, junk).map((text): Body => ({ kind: 'text', text })),
);

const pct = (s: string) =>
  Array.from(Buffer.from(s, 'utf8'), (b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
const segment = fc.oneof(
  { weight: 4, arbitrary: junk.map(pct) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('..', '.', '%2e%2e', '%2E', '%2F', '%2f..%2f', '%', '%zz', '%00', '%C0%AE', '%FF', '%E2%80%A8', ';x=1', '*', '~', 'l%C3%B6gin', 'lögin', '\u00ff'),
  },
  { weight: 1, arbitrary: fc.constantFrom(101, 1000, 5000, 20_000).map((n) => 'i'.repeat(n)) },
);
const query = fc.oneof(
  fc.array(fc.tuple(junk.map(pct), junk.map(pct)), { minLength: 1, maxLength: 4 }).map((kv) => '?' + kv.map(([k, v]) => `${k}=${v}`).join('&')),
  fc.constantFrom('?', '??', '?a=%', '?&&&', '?__proto__[admin]=1', '?constructor[prototype][admin]=1', '?code=abc&code=def', '?a[b][c][d][e]=1', '#frag', '?x=' + 'q'.repeat(3000)),
);
const sidVal = fc.oneof(
  { weight: 3, arbitrary: slot.map((s) => ref('SID', s)) },
  { weight: 2, arbitrary: fc.stringMatching(/^[0-9a-f]{64}$/) },
  { weight: 1, arbitrary: fc.constantFrom(63, 65).chain((n) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`))) },
  { weight: 1, arbitrary: fc.stringMatching(/^[0-9A-F]{64}$/) },
  { weight: 2, arbitrary: segment },
);
const fileIdVal = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{22}$/), segment);

interface Route {
  method: Method;
  /** With ':id' where the route takes an id. */
  path: string;
  body: fc.Arbitrary<Body>;
  id?: fc.Arbitrary<string>;
}
const ROUTES: Route[] = [
  { method: 'POST', path: '/auth/login', body: bodyFor(jsonBody(jsonShapes.login)) },
  { method: 'POST', path: '/auth/phone', body: bodyFor(jsonBody(jsonShapes.phone)) },
  { method: 'POST', path: '/auth/profile', body: bodyFor(jsonBody(jsonShapes.profile)) },
  { method: 'POST', path: '/auth/logout', body: bodyFor(emptyish) },
  { method: 'POST', path: '/auth/logout-all', body: bodyFor(emptyish) },
  { method: 'GET', path: '/auth/sessions', body: bodyFor(fc.constant({ kind: 'none' } as Body)) },
  { method: 'DELETE', path: '/auth/sessions/:id', body: bodyFor(emptyish), id: sidVal },
  { method: 'GET', path: '/openapi.json', body: bodyFor(fc.constant({ kind: 'none' } as Body)) },
  { method: 'GET', path: '/api/me', body: bodyFor(fc.constant({ kind: 'none' } as Body)) },
  { method: 'POST', path: '/api/avatar', body: bodyFor(multipartSpec.map((spec): Body => ({ kind: 'multipart', spec }))) },
  { method: 'GET', path: '/api/files/:id', body: bodyFor(fc.constant({ kind: 'none' } as Body)), id: fileIdVal },
  { method: 'POST', path: '/api/profile', body: bodyFor(jsonBody(jsonShapes.apiProfile)) },
];

/** The route's path, or a variant of it (most are 404s by design; some reach the route). */
function pathFor(route: Route): fc.Arbitrary<string> {
  const base = route.id ? route.id.map((id) => route.path.replace(':id', id)) : fc.constant(route.path);
  const withId = route.path.replace('/:id', '');
  return fc.oneof(
    { weight: 14, arbitrary: base },
    { weight: 2, arbitrary: fc.tuple(base, query).map(([p, q]) => p + q) },
    { weight: 1, arbitrary: base.map((p) => p + '/') },
    {
      weight: 2,
      arbitrary: fc.tuple(base, fc.nat({ max: 11 })).map(([p, k]) =>
        [
          `/${p}`,
          `//${p.slice(1)}`,
          p.toUpperCase(),
          `${p}/..`,
          `${p}/.`,
          p.replace(/^\/(\w+)\//, '/$1/./'),
          p.replace(/^\/(\w+)\//, '/$1/../$1/'),
          `${p}%00`,
          `${p};jsessionid=1`,
          `${p}%2F`,
          p.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`),
          `${withId}/${'x'.repeat(20_000)}`,
        ][k],
      ),
    },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom('/auth/', '/api/', '/', withId + '/'), segment).map(([a, b]) => a + b) },
    { weight: 1, arbitrary: fc.tuple(segment, segment).map(([a, b]) => `/${a}/${b}`) },
  );
}

const authArb: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 8, arbitrary: slot.map((s): Auth => ({ kind: 'valid', slot: s, form: 'plain' })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(slot, fc.constantFrom('lower', 'upper', 'spaces', 'tab', 'suffix', 'truncated', 'bare', 'basic', 'swapcase') as fc.Arbitrary<Exclude<Extract<Auth, { kind: 'valid' }>['form'], 'plain'>>)
      .map(([s, form]): Auth => ({ kind: 'valid', slot: s, form })),
  },
  { weight: 3, arbitrary: fc.constant({ kind: 'none' } as Auth) },
  { weight: 1, arbitrary: fc.nat({ max: 2 }).map((i): Auth => ({ kind: 'revoked', i })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => `Bearer ${Buffer.from(b).toString('base64url')}`),
        fc.stringMatching(/^[A-Za-z0-9_-]{43}$/).map((t) => `Bearer ${t}`),
        printable().map((t) => `Bearer ${t}`),
      )
      .map((value): Auth => ({ kind: 'raw', value })),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        printable(),
        fc.constantFrom('Bearer', 'Bearer ', 'Bearer  ', 'Basic dXNlcjpwYXNz', 'Bearer =', 'Bearer a b', 'Bearer a,b', 'Digest x', 'null', `Bearer ${'A'.repeat(20_000)}`, `Bearer ${'A'.repeat(8_000)}`),
      )
      .map((value): Auth => ({ kind: 'raw', value })),
  },
);

const contentTypeArb: fc.Arbitrary<FuzzRequest['contentType']> = fc.oneof(
  { weight: 20, arbitrary: fc.constant('auto' as const) },
  { weight: 2, arbitrary: fc.constant(null) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json;charset=UTF-8',
      'Application/JSON',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'application/json; foo=bar',
      'application/json ; charset=utf-8',
      'application/json, text/plain',
      'application/jsonx',
      'application/vnd.api+json',
      'application/problem+json',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'text/plain',
      'text/plain; charset=utf-8',
      'text/html',
      'application/x-www-form-urlencoded',
      'application/octet-stream',
      'application/xml',
      'json',
      '*/*',
      '',
      ';',
      'application/',
      '/json',
      'multipart/form-data',
      'multipart/form-data; boundary=',
      'multipart/form-data; boundary=----x',
      'multipart/form-data; boundary="unterminated',
      'multipart/mixed; boundary=x',
    ),
  },
  { weight: 1, arbitrary: printable() },
);

const extraHeadersArb = fc.oneof(
  { weight: 10, arbitrary: fc.constant([] as Array<[string, string]>) },
  {
    weight: 1,
    arbitrary: fc
      .array(
        fc.oneof(
          fc.tuple(fc.constantFrom('content-encoding', 'accept', 'accept-encoding', 'x-forwarded-for', 'cookie', 'origin', 'x-http-method-override', 'range'), printable()),
          fc.constantFrom<[string, string]>(['content-encoding', 'gzip'], ['accept', 'text/html'], ['x-forwarded-for', '1.2.3.4, ::1, garbage'], ['range', 'bytes=0-1']),
        ),
        { maxLength: 3 },
      ),
  },
);

const methodFor = (own: Method) => fc.oneof({ weight: 12, arbitrary: fc.constant(own) }, { weight: 2, arbitrary: fc.constantFrom(...METHODS) });

const routeRequest = (route: Route): fc.Arbitrary<FuzzRequest> =>
  fc.record({
    method: methodFor(route.method),
    path: pathFor(route),
    auth: authArb,
    contentType: contentTypeArb,
    body: route.body,
    chunked: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    extraHeaders: extraHeadersArb,
  });

const chaoticRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.constantFrom(...METHODS),
  path: fc.oneof(fc.constantFrom(...ROUTES).chain(pathFor), fc.array(segment, { minLength: 0, maxLength: 4 }).map((s) => '/' + s.join('/'))),
  auth: authArb,
  contentType: contentTypeArb,
  body: anyBody,
  chunked: fc.boolean(),
  extraHeaders: extraHeadersArb,
});

const requestArb: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...ROUTES).chain(routeRequest) },
  { weight: 2, arbitrary: chaoticRequest },
);

// ---------------------------------------------------------------------------------------------
// Turning a generated request into bytes

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff, 0xe0];
const WEBP = [...Buffer.from('RIFF'), 0, 0, 0, 0, ...Buffer.from('WEBP')];

function toJson(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Obj) return '{' + v.entries.map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',') + '}';
  if (Array.isArray(v)) return '[' + v.map(toJson).join(',') + ']';
  if (v !== null && typeof v === 'object') return '{' + Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',') + '}';
  return JSON.stringify(v) ?? 'null';
}

function jsonText(body: Extract<Body, { kind: 'json' }>): string {
  let text = toJson(body.value);
  if (body.padTo !== undefined) {
    const entries = body.value instanceof Obj ? body.value.entries : [['value', body.value] as [string, unknown]];
    const bare = toJson(new Obj([...entries, ['pad', '']]));
    text = toJson(new Obj([...entries, ['pad', 'x'.repeat(Math.max(0, body.padTo - Buffer.byteLength(bare)))]]));
  }
  switch (body.mangle) {
    case 'bom':
      return '\ufeff' + text;
    case 'trailing':
      return text + ' x';
    case 'truncate':
      return text.slice(0, Math.floor(text.length / 2));
    default:
      return text;
  }
}

function multipart(spec: MultipartSpec): { contentType: string; bytes: Buffer } {
  const b = spec.boundary;
  const chunks: Buffer[] = [];
  if (spec.preamble) chunks.push(Buffer.from('preamble, to be ignored\r\n'));
  for (const p of spec.parts) {
    let head = `--${b}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== null) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type !== null) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(head + '\r\n'));
    const c = p.content;
    const prefix = c.kind === 'png' ? PNG : c.kind === 'jpeg' ? JPEG : c.kind === 'webp' ? WEBP : [];
    chunks.push(c.kind === 'big' ? Buffer.concat([Buffer.from(PNG), Buffer.alloc(c.size, 7)]) : Buffer.from([...prefix, ...c.bytes]));
    chunks.push(Buffer.from('\r\n'));
  }
  if (spec.ending === 'ok') chunks.push(Buffer.from(`--${b}--\r\n`));
  else if (spec.ending === 'no-crlf') chunks.push(Buffer.from(`--${b}--`));
  else if (spec.ending === 'truncated') chunks.push(Buffer.from(`--${b.slice(0, Math.ceil(b.length / 2))}`));
  const declared = { same: `; boundary=${b}`, quoted: `; boundary="${b}"`, other: '; boundary=not-the-boundary', none: '', empty: '; boundary=' }[spec.declared];
  return { contentType: `multipart/form-data${declared}`, bytes: Buffer.concat(chunks) };
}

interface Holder {
  user: string;
  token: string;
  sid: string;
}
interface Fixtures {
  holders: Holder[];
  revoked: string[];
  codes: string[];
  foreignCodes: string[];
  phone: Array<{ code: string; encryptedData: string; iv: string }>;
  userInfo: Array<{ encryptedData: string; iv: string }>;
  sessionKeys: string[];
}

const flipIv = (iv: string) => {
  const b = Buffer.from(iv, 'base64');
  b[0] ^= 0x01;
  return b.toString('base64');
};

/** Fills in the markers; each @@FRESH:0@@ takes the next of `fresh`, wx.login codes fetched for this request. */
function resolveMarkers(text: string, f: Fixtures, fresh: string[] = []): string {
  return text.replace(/@@([A-Z]+):(\d+)@@/g, (m, kind: string, n: string) => {
    const i = Number(n);
    switch (kind) {
      case 'CODE':
        return f.codes[i];
      case 'FRESH':
        return fresh.shift() ?? 'no-fresh-code-left';
      case 'FCODE':
        return f.foreignCodes[i];
      case 'PCODE':
        return f.phone[i].code;
      case 'PENC':
        return f.phone[i].encryptedData;
      case 'PIV':
        return f.phone[i].iv;
      case 'PIVX':
        return flipIv(f.phone[i].iv);
      case 'UENC':
        return f.userInfo[i].encryptedData;
      case 'UIV':
        return f.userInfo[i].iv;
      case 'UIVX':
        return flipIv(f.userInfo[i].iv);
      case 'SID':
        return f.holders[i].sid;
      case 'TOKEN':
        return f.holders[i].token;
      case 'SKEY':
        return f.sessionKeys[i];
      default:
        return m;
    }
  });
}

function authorization(auth: Auth, f: Fixtures): string | undefined {
  switch (auth.kind) {
    case 'none':
      return undefined;
    case 'revoked':
      return `Bearer ${f.revoked[auth.i]}`;
    case 'raw':
      return auth.value;
    case 'valid': {
      const t = f.holders[auth.slot].token;
      return {
        plain: `Bearer ${t}`,
        lower: `bearer ${t}`,
        upper: `BEARER ${t}`,
        spaces: `Bearer   ${t}`,
        tab: `Bearer\t${t}`,
        suffix: `Bearer ${t}x`,
        truncated: `Bearer ${t.slice(0, -1)}`,
        bare: t,
        basic: `Basic ${t}`,
        swapcase: `Bearer ${t.replace(/[a-z]/, (c) => c.toUpperCase())}`,
      }[auth.form];
    }
  }
}

interface Wire {
  method: Method;
  path: string;
  headers: Record<string, string>;
  body: Buffer | null;
  chunked: boolean;
}

function toWire(r: FuzzRequest, f: Fixtures, fresh: string[]): Wire {
  let body: Buffer | null = null;
  let autoType: string | null = null;
  const b = r.body;
  switch (b.kind) {
    case 'none':
      break;
    case 'empty':
      body = Buffer.alloc(0);
      autoType = 'application/json';
      break;
    case 'json':
      body = Buffer.from(resolveMarkers(jsonText(b), f, fresh));
      autoType = 'application/json';
      break;
    case 'text':
      body = Buffer.from(resolveMarkers(b.text, f, fresh));
      autoType = 'application/json';
      break;
    case 'bytes':
      body = Buffer.from(b.bytes);
      autoType = 'application/json';
      break;
    case 'deep': {
      const nest = b.open.repeat(b.depth) + '1' + b.close.repeat(b.depth);
      body = Buffer.from(b.inCode ? `{"code":${nest}}` : nest);
      autoType = 'application/json';
      break;
    }
    case 'multipart': {
      const m = multipart(b.spec);
      body = Buffer.from(resolveMarkers(m.bytes.toString('latin1'), f), 'latin1');
      autoType = m.contentType;
      break;
    }
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of r.extraHeaders) headers[k] = v;
  const contentType = r.contentType === 'auto' ? autoType : r.contentType;
  if (contentType !== null) headers['content-type'] = contentType;
  const auth = authorization(r.auth, f);
  if (auth !== undefined) headers.authorization = auth;
  if (body !== null && !r.chunked) headers['content-length'] = String(body.length);
  if (body !== null && r.chunked) headers['transfer-encoding'] = 'chunked';
  return { method: r.method, path: resolveMarkers(r.path, f), headers, body, chunked: r.chunked };
}

/** The request as data, markers unresolved, long runs shortened: enough to replay it. */
function describeRequest(r: FuzzRequest): string {
  const short = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}...(${s.length} chars)` : s);
  let body: string;
  switch (r.body.kind) {
    case 'json':
      body = short(jsonText(r.body));
      break;
    case 'text':
      body = short(r.body.text);
      break;
    case 'bytes':
      body = `bytes ${Buffer.from(r.body.bytes).toString('hex')}`;
      break;
    case 'multipart':
      body = short(multipart(r.body.spec).bytes.toString('latin1')) + ` (content-type ${multipart(r.body.spec).contentType})`;
      break;
    default:
      body = JSON.stringify(r.body);
  }
  return JSON.stringify({ method: r.method, path: short(r.path), auth: r.auth, contentType: r.contentType, chunked: r.chunked, extraHeaders: r.extraHeaders, body });
}

// ---------------------------------------------------------------------------------------------
// Sending

interface Answer {
  status: number;
  headers: string;
  contentType: string;
  body: Buffer;
  /** No Connection header: written raw by fastify's default clientErrorHandler, which then destroys the socket. */
  raw: boolean;
}

function send(agent: http.Agent, base: URL, w: Wire): Promise<Answer | { failure: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (a: Answer | { failure: string }) => {
      if (!settled) {
        settled = true;
        resolve(a);
      }
    };
    const req = http.request({ agent, host: base.hostname, port: base.port, method: w.method, path: w.path, headers: w.headers, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      const answer = (): Answer => ({
        status: res.statusCode ?? 0,
        headers: res.rawHeaders.join('\n'),
        contentType: String(res.headers['content-type'] ?? ''),
        body: Buffer.concat(chunks),
        raw,
      });
      // fastify's default clientErrorHandler answers 400/431 with no Connection: close, then
      // destroys the socket: never hand that socket to the next request (it would see
      // ECONNRESET). It also writes its JSON body after a HEAD's headers, which node's parser
      // then rejects, so a HEAD answer is complete at its headers.
      const socket = res.socket;
      const raw = res.headers.connection === undefined;
      if (w.method === 'HEAD') {
        if (raw) socket.destroy();
        res.resume();
        return done(answer());
      }
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (raw) socket.destroy();
        done(answer());
      });
      res.on('error', (err) => done({ failure: `response error ${(err as NodeJS.ErrnoException).code ?? err.message}` }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => done({ failure: `request error ${(err as NodeJS.ErrnoException).code ?? err.message}` }));
    if (w.body === null) req.end();
    else if (w.chunked) {
      req.write(w.body.subarray(0, Math.floor(w.body.length / 2)));
      req.end(w.body.subarray(Math.floor(w.body.length / 2)));
    } else req.end(w.body);
  });
}

/**
 * A log line as text plus every Buffer in it decoded: pino writes a Buffer as
 * {"type":"Buffer","data":[66,101,...]}, where a substring search would never see a token.
 */
function searchableLogLine(line: string): string {
  if (!line.includes('"Buffer"')) return line;
  const decoded: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      const o = v as { type?: unknown; data?: unknown };
      if (o.type === 'Buffer' && Array.isArray(o.data)) decoded.push(Buffer.from(o.data as number[]).toString('latin1'));
      else Object.values(o).forEach(walk);
    }
  };
  try {
    walk(JSON.parse(line));
  } catch {
    // not JSON: the text alone
  }
  return [line, ...decoded].join('\n');
}

/** Runs of characters secrets are made of (base64, base64url, the test secret). */
const SECRET_RUN = /[A-Za-z0-9+/=_-]{16,}/g;

/** The first PREFIX chars of each secret -> the secrets: one lookup per position of a text. */
const PREFIX = 12;
function indexSecrets(secrets: Iterable<string>): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const s of secrets) index.set(s.slice(0, PREFIX), [...(index.get(s.slice(0, PREFIX)) ?? []), s]);
  return index;
}

/** Which secrets occur in `text`, as written or percent-decoded (a secret in a logged URL). */
function secretsIn(text: string, index: Map<string, string[]>, except?: string): string[] {
  const found: string[] = [];
  const decoded = text.includes('%') ? text.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))) : '';
  for (const run of `${text}\n${decoded}`.match(SECRET_RUN) ?? []) {
    for (let i = 0; i + PREFIX <= run.length; i++) {
      for (const s of index.get(run.slice(i, i + PREFIX)) ?? []) {
        if (s !== except && run.startsWith(s, i)) found.push(s);
      }
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------

describe('fuzz: generated bad requests against every route', () => {
  let h: Harness;
  const logLines: string[] = [];
  let f: Fixtures;
  /** Every token, session_key, access_token and AppSecret that must not leak. */
  const secrets = new Set<string>([SECRET, OTHER_SECRET]);

  const authHeader = (token: string) => ({ authorization: `Bearer ${token}` });

  async function loginAs(user: string): Promise<Holder> {
    const res = await h.login(user);
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    secrets.add(token);
    secrets.add(h.emulator.latestSessionKey(APPID, user)!);
    const list = await fetch(`${h.serverUrl}/auth/sessions`, { headers: authHeader(token) });
    expect(list.status).toBe(200);
    const { sessions } = (await list.json()) as { sessions: Array<{ id: string; current: boolean }> };
    return { user, token, sid: sessions.find((s) => s.current)!.id };
  }

  async function openData(user: string, kind: string): Promise<{ code?: string; encryptedData: string; iv: string }> {
    const res = await fetch(`${h.emulatorUrl}/emulator/open-data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ appid: APPID, user, kind }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { code?: string; encryptedData: string; iv: string };
  }

  beforeAll(async () => {
    const stream = new Writable({
      write(chunk, _enc, cb) {
        logLines.push(String(chunk));
        cb();
      },
    });
    h = await startStack({
      logger: { level: 'trace', stream },
      now: Date.now,
      maxAvatarBytes: MAX_AVATAR_BYTES,
      rateLimit: { ip: { max: 1_000_000, timeWindowMs: 60_000 }, openid: { max: 1_000_000, timeWindowMs: 60_000 } },
    });

    const holders: Holder[] = [];
    for (const user of HOLDERS) holders.push(await loginAs(`${user}-0`));

    // Revoked tokens: by logout, and two by logout-all.
    const revoked: string[] = [];
    const dave = await loginAs('dave');
    expect((await fetch(`${h.serverUrl}/auth/logout`, { method: 'POST', headers: authHeader(dave.token) })).status).toBe(200);
    revoked.push(dave.token);
    const erin1 = await loginAs('erin');
    const erin2 = await loginAs('erin');
    expect((await fetch(`${h.serverUrl}/auth/logout-all`, { method: 'POST', headers: authHeader(erin2.token) })).status).toBe(200);
    revoked.push(erin1.token, erin2.token);

    // Per fuzz user: a wx.login code, then what the phone and user-info buttons give with its session_key.
    const codes: string[] = [];
    const phone: Fixtures['phone'] = [];
    const userInfo: Fixtures['userInfo'] = [];
    for (let i = 0; i < N_CODES; i++) {
      const user = `fuzz-${i}`;
      codes.push(await wxLogin(h.emulatorUrl, user));
      secrets.add(h.emulator.latestSessionKey(APPID, user)!);
      const p = await openData(user, 'getPhoneNumber');
      phone.push({ code: p.code!, encryptedData: p.encryptedData, iv: p.iv });
      const u = await openData(user, 'getUserInfo');
      userInfo.push({ encryptedData: u.encryptedData, iv: u.iv });
    }
    // Codes another app issued: WeChat answers 40029 to them.
    const foreignCodes: string[] = [];
    for (let i = 0; i < 4; i++) {
      foreignCodes.push(await wxLogin(h.emulatorUrl, `foreign-${i}`, OTHER_APPID));
      secrets.add(h.emulator.latestSessionKey(OTHER_APPID, `foreign-${i}`)!);
    }
    const sessionKeys = holders.map((x) => h.emulator.latestSessionKey(APPID, x.user)!);
    f = { holders, revoked, codes, foreignCodes, phone, userInfo, sessionKeys };
  });

  afterAll(() => h?.close());

  it(`answers ${NUM_REQUESTS} generated requests with no 5xx, only JSON errors, and leaks no secret`, async () => {
    const t0 = Date.now();
    const requests = fc.sample(requestArb, { numRuns: NUM_REQUESTS, seed: SEED });
    const generatedMs = Date.now() - t0;
    expect(requests).toHaveLength(NUM_REQUESTS);

    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const base = new URL(h.serverUrl);
    const answers: Array<{ i: number; answer: Answer; ownToken?: string }> = [];
    const problems = new Map<string, { count: number; examples: string[] }>();
    const statuses = new Map<number, number>();
    /** The `error` codes answered: which validations and handlers the fuzz reached. */
    const errorCodes = new Map<string, number>();
    let sent = 0;
    let relogins = 0;
    let rawClientErrors = 0;
    let freshUsers = 0;
    // A holder whose token the fuzz revoked logs in again, as a new user (the emulator's
    // per-user exchange limit runs on its manual clock, so it never resets), one at a time.
    const generation = HOLDERS.map(() => 0);
    const chain: Array<Promise<void>> = HOLDERS.map(() => Promise.resolve());
    const refresh = (s: number) => {
      chain[s] = chain[s].then(async () => {
        generation[s] += 1;
        relogins += 1;
        const old = f.holders[s];
        f.holders[s] = await loginAs(`${HOLDERS[s]}-${generation[s]}`);
        f.sessionKeys[s] = h.emulator.latestSessionKey(APPID, f.holders[s].user)!;
        f.revoked.push(old.token);
      });
      return chain[s];
    };

    /** Problems by kind: how many, and the first few with the request that caused them. */
    const problem = (i: number | null, kind: string, detail = '') => {
      const p = problems.get(kind) ?? { count: 0, examples: [] };
      p.count += 1;
      if (p.examples.length < 3) p.examples.push(`${i === null ? '' : `#${i} `}${detail.slice(0, 400)}${i === null ? '' : `\n      request: ${describeRequest(requests[i])}`}`);
      problems.set(kind, p);
    };

    let next = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < requests.length) {
        const i = next++;
        const r = requests[i];
        // A holder being logged in again: wait for its new token rather than send the revoked one.
        if (r.auth.kind === 'valid') await chain[r.auth.slot];
        const fresh: string[] = [];
        for (let k = (JSON.stringify(r.body).match(/@@FRESH:\d+@@/g) ?? []).length; k > 0; k--) {
          const user = `fresh-${freshUsers++}`;
          fresh.push(await wxLogin(h.emulatorUrl, user));
          secrets.add(h.emulator.latestSessionKey(APPID, user)!);
        }
        const wire = toWire(r, f, fresh);
        sent += 1;
        const answer = await send(agent, base, wire);
        if ('failure' in answer) {
          problem(i, answer.failure.replace(/ .*/, ''), answer.failure);
          continue;
        }
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const text = answer.body.toString('utf8');

        if (answer.status >= 500) problem(i, `status ${answer.status}`, text);
        if (answer.raw) rawClientErrors += 1;
        const bodyless = r.method === 'HEAD' || answer.status === 204 || answer.status === 304;
        if (bodyless && answer.body.length > 0) problem(i, `a ${r.method} ${answer.status} answer with a body`);
        // The 404 message names the path asked for: that part is the client's own text.
        const withoutPath = (t: string) => t.split(JSON.stringify(wire.path.split('?')[0]).slice(1, -1)).join('');
        if ((answer.status < 200 || answer.status > 299) && !bodyless) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          const p = parsed as { error?: unknown; message?: unknown } | undefined;
          if (typeof p?.error === 'string') errorCodes.set(p.error, (errorCodes.get(p.error) ?? 0) + 1);
          if (!/^application\/json/.test(answer.contentType) || typeof p?.error !== 'string' || typeof p?.message !== 'string') {
            problem(i, `status ${answer.status} not a JSON {error, message}`, `${answer.contentType} ${JSON.stringify(text.slice(0, 300))}`);
          } else if (/\bstack\b|at .*\.(ts|js):\d+|FST_ERR|node_modules/.test(withoutPath(text))) {
            problem(i, `status ${answer.status} shows internals ${/FST_ERR\w*/.exec(text)?.[0] ?? ''}`.trim(), text);
          }
        }

        // A login answer carries the token it issues (and only that one): a new secret from now on.
        let ownToken: string | undefined;
        if (answer.status === 200 && /^\/auth\/(login|phone|profile)/.test(wire.path)) {
          try {
            ownToken = (JSON.parse(text) as { token?: string }).token;
          } catch {
            ownToken = undefined;
          }
          if (ownToken) secrets.add(ownToken);
        }
        answers.push({ i, answer, ownToken });

        // The fuzz revoked a holder's session: log in again.
        if (
          answer.status === 200 &&
          r.auth.kind === 'valid' &&
          /^\/auth\/(logout|sessions\/)/.test(wire.path) &&
          (r.method === 'POST' || r.method === 'DELETE')
        ) {
          await refresh(r.auth.slot);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsed = Date.now() - started;
    agent.destroy();

    // The server's WeChat access_token, if the phone route fetched one, is a secret too.
    const accessToken = await h.server.wxLogin.store.accessTokenCache(APPID).read();
    if (accessToken) secrets.add(accessToken.token);

    const t1 = Date.now();
    const index = indexSecrets(secrets);
    for (const { i, answer, ownToken } of answers) {
      const leaked = secretsIn(`${answer.headers}\n${answer.body.toString('utf8')}`, index, ownToken);
      if (leaked.length > 0) problem(i, `answer ${answer.status} contains a secret`, leaked.map((s) => s.slice(0, 6) + '...').join(', '));
    }
    let logLeaks = 0;
    for (const line of logLines) {
      const leaked = secretsIn(searchableLogLine(line), index);
      if (leaked.length === 0) continue;
      logLeaks += 1;
      const msg = /"msg":"([^"]*)"/.exec(line)?.[1];
      problem(null, `log line "${msg}" contains a secret`, `${leaked.map((x) => x.slice(0, 6) + '...').join(', ')} in ${line.slice(0, 300)}`);
    }
    const checkedMs = Date.now() - t1;
    const errorLines = logLines.filter((l) => /"level":(50|60)/.test(l));

    const histogram = Object.fromEntries([...statuses].sort(([a], [b]) => a - b));
    const fiveXX = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
    console.log(
      `fuzz: ${sent} requests, seed ${SEED}, sent in ${elapsed} ms (${Math.round((sent / elapsed) * 1000)}/s, concurrency ${CONCURRENCY}; ` +
        `generated in ${generatedMs} ms, answers and logs checked in ${checkedMs} ms), ` +
        `5xx ${fiveXX}, statuses ${JSON.stringify(histogram)}, errors ${JSON.stringify(Object.fromEntries([...errorCodes].sort(([, a], [, b]) => b - a)))}, ` +
        `fastify raw client-error answers ${rawClientErrors}, ` +
        `re-logins ${relogins}, fresh codes ${freshUsers}, secrets checked ${secrets.size}, ` +
        `log lines ${logLines.length}, error log lines ${errorLines.length}, log lines with a secret ${logLeaks}, ` +
        `problems ${JSON.stringify(Object.fromEntries([...problems].map(([k, v]) => [k, v.count])))}`,
    );

    expect(sent).toBe(NUM_REQUESTS);
    expect(Object.fromEntries(problems)).toEqual({});
    expect(answers).toHaveLength(NUM_REQUESTS);
    expect(fiveXX).toBe(0);
    expect(logLines.length).toBeGreaterThan(NUM_REQUESTS); // the logger did run, at trace level
    expect(logLeaks).toBe(0);
    expect(errorLines.slice(0, 5)).toEqual([]);
  }, 90_000);
});

/**
 * `npm run size`: the bytes of the kit a user's mini program ships, minified and gzipped (level 9).
 * Two budgets, both checked:
 * - the kit as shipped to a native mini program: the JS files of miniprogram_dist, which
 *   DevTools' "构建 npm" copies as they are (one bundled, minified CommonJS file; each file
 *   gzipped, the sizes summed); needs `npm run build` first;
 * - the ES module bundle of src/index.ts and everything it imports, minified at the package's
 *   ES2017 target: the code a bundler (Taro, uni-app) inlines, and the usual library measure
 *   (reference: wafer2-client-sdk 3.5 KB, weRequest 5.1 KB, @authing/miniapp-wx 4.7 KB, flyio 3.5 KB).
 * And, unbudgeted, each component as shipped: its JS (one self-contained file: the registry and
 * errors included) + WXML + WXSS.
 */
import { buildSync } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import pc from 'picocolors';
import { TARGET } from './build';

// ES bundle: 3 KiB until the registry every module copy shares (+150 B), 3.2 KiB until
// uploadFile, downloadFile and abort (+365 B), 3.5 KiB until logout on the server, logout winning
// at every stage, globalData cleared with a dead token and the name warning (+149 B): those cost
// more than shorter code could win back, and cutting the error messages' "what to do" is no
// saving. In-band login and renewal (+350 B as first written, +101 B as shipped) fit by making
// room, not by raising: the login POST goes through the one call path (its errors are the
// HTTPError/NetworkError that path makes), wxSend takes the method it already had, an upload's
// result keeps WeChat's object, parseLogin's throw is reported like loginData's, the stored token
// is read as stored, and five messages say the same in fewer words (3,830 B). Douyin and Alipay
// (issue 18 allows WeChat's bundle 300 B more: 4130): finding the platform, Douyin's tt, the
// platform and appid in the login POST and in-band headers, and the registry's fallback without
// globalThis cost 278 B (4,108 B); Alipay's adapter is its own entry
// (wx-login-kit/alipay), and the check below proves WeChat's bundle carries none of it. QQ's `qq`
// (shaped like `wx`, found before it) 21 B more: 4,129 B, 299 of the 300.
const BUDGETS = { shipped: 4130, esm: 4130 };
/** Names only Alipay's adapter (src/alipay.ts) uses: none may be in WeChat's bundle. */
const ALIPAY_ONLY = ['getAuthCode', 'apFilePath', 'auth_base'];
const ROOT = path.resolve(__dirname, '..');
const BUTTON = path.join(ROOT, 'src/components/login-button/index');
const PROFILE = path.join(ROOT, 'src/components/login-profile/index');
const gzip = (text: string) => zlib.gzipSync(text, { level: 9 }).length;

function bundle(entry: string, format: 'esm' | 'cjs', external: string[] = []): string {
  const out = buildSync({ entryPoints: [entry], bundle: true, minify: true, format, target: TARGET, platform: 'neutral', write: false, external });
  return out.outputFiles[0].text;
}

const dist = path.join(ROOT, 'miniprogram_dist');
if (!fs.existsSync(path.join(dist, 'index.js'))) {
  console.error(pc.red('no miniprogram_dist/index.js: run npm run build first'));
  process.exit(1);
}
// What 构建 npm copies of the kit: every .js of miniprogram_dist but the components.
const shippedFiles = fs.readdirSync(dist).filter((f) => f.endsWith('.js'));
const shipped = shippedFiles.map((f) => fs.readFileSync(path.join(dist, f), 'utf8'));
const esm = bundle(path.join(ROOT, 'src/index.ts'), 'esm');
const alipay = bundle(path.join(ROOT, 'src/index.alipay.ts'), 'esm');

const rows: Array<[string, number, number]> = [
  [`kit as shipped: miniprogram_dist (${shippedFiles.join(', ')}; budget ${BUDGETS.shipped})`, sum(shipped.map((t) => Buffer.byteLength(t))), sum(shipped.map(gzip))],
  [`kit: ES module bundle of src/index.ts (budget ${BUDGETS.esm})`, Buffer.byteLength(esm), gzip(esm)],
  ['kit for Alipay: ES module bundle of src/index.alipay.ts (wx-login-kit/alipay)', Buffer.byteLength(alipay), gzip(alipay)],
  ...component('<login-button>', BUTTON),
  ...component('<login-profile>', PROFILE),
];

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** A component's files as the package ships them: JS bundled and minified, WXML and WXSS with spaces folded. */
function component(name: string, base: string): Array<[string, number, number]> {
  const files: Array<[string, string]> = [
    [`${name} JS (self-contained)`, bundle(`${base}.ts`, 'cjs')],
    [`${name} WXML`, fs.readFileSync(`${base}.wxml`, 'utf8').replace(/>\s+</g, '><').trim()],
    [`${name} WXSS`, fs.readFileSync(`${base}.wxss`, 'utf8').replace(/\s+/g, ' ').trim()],
  ];
  return files.map(([what, text]) => [what, Buffer.byteLength(text), gzip(text)]);
}

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`${'what'.padEnd(78)}${pad('minified', 10)}${pad('gzipped', 10)}`);
for (const [name, min, gz] of rows) console.log(`${name.padEnd(78)}${pad(min, 10)}${pad(gz, 10)}`);
let failed = 0;
for (const [what, bytes, budget] of [
  ['kit as shipped', rows[0][2], BUDGETS.shipped],
  ['kit ES bundle', rows[1][2], BUDGETS.esm],
] as const) {
  if (bytes <= budget) console.log(pc.green(`✔ ${what} ${bytes} B gzipped, within the ${budget} B budget`));
  else {
    failed += 1;
    console.log(pc.red(`✖ ${what} ${bytes} B gzipped, over the ${budget} B budget by ${bytes - budget} B`));
  }
}
const leaked = ALIPAY_ONLY.filter((name) => esm.includes(name) || shipped.some((text) => text.includes(name)));
if (leaked.length) {
  failed += 1;
  console.log(pc.red(`✖ WeChat's bundle carries Alipay's adapter: ${leaked.join(', ')} found`));
} else console.log(pc.green(`✔ WeChat's bundle carries none of Alipay's adapter (no ${ALIPAY_ONLY.join(', ')})`));
console.log(`${3 - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

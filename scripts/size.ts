/**
 * `npm run size`: the bytes of the kit a user's mini program ships, minified and gzipped (level 9).
 * - the kit's JS (budgeted): src/index.ts and everything it imports as one minified ES module
 *   bundle at the package's ES2017 target: the code a bundler (Taro, uni-app) inlines, and the
 *   usual library measure (reference: wafer2-client-sdk 3.5 KB, weRequest 5.1 KB,
 *   @authing/miniapp-wx 4.7 KB, flyio 3.5 KB);
 * - the same as one CommonJS bundle: + esbuild's ESM-to-CommonJS glue (about 200 B);
 * - the per-file CommonJS of miniprogram_dist as DevTools' "构建 npm" copies it (each file
 *   minified, all gzipped together): + that glue in every file; needs `npm run build` first;
 * - the <login-button>: its JS as shipped (one self-contained file: the registry and errors
 *   included) + WXML + WXSS.
 * Fails (exit 1) when the kit's JS exceeds BUDGET.
 */
import { buildSync, transformSync } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import pc from 'picocolors';
import { TARGET } from './build';

// 3 KiB until the registry every module copy shares (+150 B), 3.2 KiB until uploadFile,
// downloadFile and abort (+365 B).
const BUDGET = 3584;
const ROOT = path.resolve(__dirname, '..');
const BUTTON = path.join(ROOT, 'src/components/login-button/index');
const PROFILE = path.join(ROOT, 'src/components/login-profile/index');
const gzip = (text: string) => zlib.gzipSync(text, { level: 9 }).length;

function bundle(entry: string, format: 'esm' | 'cjs', external: string[] = []): string {
  const out = buildSync({ entryPoints: [entry], bundle: true, minify: true, format, target: TARGET, platform: 'neutral', write: false, external });
  return out.outputFiles[0].text;
}

const rows: Array<[string, string]> = [
  ['kit JS: ES module bundle of src/index.ts (budgeted)', bundle(path.join(ROOT, 'src/index.ts'), 'esm')],
  ['kit JS: the same as one CommonJS bundle', bundle(path.join(ROOT, 'src/index.ts'), 'cjs')],
  ['<login-button> JS (self-contained, as shipped)', bundle(`${BUTTON}.ts`, 'cjs')],
  ['<login-button> WXML', fs.readFileSync(`${BUTTON}.wxml`, 'utf8').replace(/>\s+</g, '><').trim()],
  ['<login-button> WXSS', fs.readFileSync(`${BUTTON}.wxss`, 'utf8').replace(/\s+/g, ' ').trim()],
  ['<login-profile> JS (self-contained, as shipped)', bundle(`${PROFILE}.ts`, 'cjs')],
];
const dist = path.join(ROOT, 'miniprogram_dist');
if (fs.existsSync(dist)) {
  const js = fs.readdirSync(dist).filter((f) => f.endsWith('.js'));
  const code = js.map((f) => transformSync(fs.readFileSync(path.join(dist, f), 'utf8'), { minify: true, target: TARGET }).code).join('\n');
  rows.splice(2, 0, [`kit JS: ${js.length} CommonJS files of miniprogram_dist`, code]);
}

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`${'what'.padEnd(58)}${pad('minified', 10)}${pad('gzipped', 10)}`);
for (const [name, text] of rows) console.log(`${name.padEnd(58)}${pad(Buffer.byteLength(text), 10)}${pad(gzip(text), 10)}`);
const kit = gzip(rows[0][1]);
const ok = kit <= BUDGET;
console.log(ok ? pc.green(`✔ kit JS ${kit} B gzipped, within the ${BUDGET} B budget`) : pc.red(`✖ kit JS ${kit} B gzipped, over the ${BUDGET} B budget by ${kit - BUDGET} B`));
console.log(`${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed`);
process.exit(ok ? 0 : 1);

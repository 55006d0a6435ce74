/**
 * `npm run test:types`: the public API as users get it. Compiles the type tests of test/types
 * (their `@ts-expect-error` lines prove misuse fails) against the built .d.ts under strict, in the
 * settings users build with:
 * - no miniprogram-api-typings at all, with and without `skipLibCheck` (Taro's and uni-app's
 *   default): the kit's types stand alone and never turn silently into `any`;
 * - TypeScript 4.5 (the floor) and 5.9;
 * - with miniprogram-api-typings 3.0, 3.1 and 5.2: WeChat's own `wx`, request options and events fit;
 * - with Douyin's and Alipay's own typings: the calls the kit makes on `tt`, and `my` as `MyLike`.
 * The old versions live in test/types/compat (its own lock file; installed here with `npm ci`
 * when missing). Then it scans every public .d.ts for an `any` keyword or a `WechatMiniprogram`
 * name (comments and strings do not count). Run after `npm run build`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pc from 'picocolors';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'miniprogram_dist');
const TYPES = path.join(ROOT, 'test/types');
const COMPAT = path.join(TYPES, 'compat');
const results: Array<[string, string | null]> = [];
const nodeRequire = require as unknown as NodeJS.Require;

if (!fs.existsSync(path.join(COMPAT, 'node_modules/typescript'))) {
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--silent'], { cwd: COMPAT, stdio: 'inherit' });
}
const TSC = { '5.9': nodeRequire.resolve('typescript/bin/tsc'), '4.5': path.join(COMPAT, 'node_modules/typescript/bin/tsc') };
const variants: Array<[name: string, tsc: string, tsconfig: string, args?: string[]]> = [
  ['TypeScript 5.9, no miniprogram-api-typings', TSC['5.9'], 'tsconfig.json'],
  ['TypeScript 5.9, no miniprogram-api-typings, skipLibCheck', TSC['5.9'], 'tsconfig.json', ['--skipLibCheck']],
  ['TypeScript 4.5, no miniprogram-api-typings', TSC['4.5'], 'tsconfig.json'],
  ['TypeScript 5.9, miniprogram-api-typings 5.2', TSC['5.9'], 'tsconfig.typings.json'],
  ['TypeScript 4.5, miniprogram-api-typings 3.1', TSC['4.5'], 'tsconfig.typings-3.1.json'],
  // 3.0 has no CustomEvent yet: events.ts is left out.
  ['TypeScript 4.5, miniprogram-api-typings 3.0', TSC['4.5'], 'tsconfig.typings-3.0.json'],
  // The platform layer against the platforms' own typings: every call the kit makes on Douyin's tt,
  // and Alipay's my as the adapter's MyLike (their global typings fail their own check under 5.9).
  ["TypeScript 5.9, Douyin's typings (@douyin-microapp/typings)", TSC['5.9'], 'tsconfig.platforms-douyin.json'],
  ["TypeScript 5.9, Alipay's typings (@mini-types/alipay), skipLibCheck", TSC['5.9'], 'tsconfig.platforms-alipay.json', ['--skipLibCheck']],
];

for (const [name, tsc, tsconfig, args = []] of variants) {
  const label = `test/types compiles (${tsconfig}): ${name}`;
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(TYPES, tsconfig), ...args], { encoding: 'utf8' });
    results.push([label, null]);
  } catch (err) {
    results.push([label, String((err as { stdout?: string }).stdout)]);
  }
}

function declarations(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? declarations(path.join(dir, e.name)) : e.name.endsWith('.d.ts') ? [path.join(dir, e.name)] : [],
  );
}
const files = [...declarations(DIST), ...declarations(path.join(ROOT, 'dist/esm'))];
const anys: string[] = [];
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, /* skipTrivia */ true, ts.LanguageVariant.Standard, text);
  for (let t = scanner.scan(); t !== ts.SyntaxKind.EndOfFileToken; t = scanner.scan()) {
    // `any`, or a name from miniprogram-api-typings, which is `any` where those typings are absent.
    if (t === ts.SyntaxKind.AnyKeyword || (t === ts.SyntaxKind.Identifier && scanner.getTokenText() === 'WechatMiniprogram')) {
      const { line } = ts.getLineAndCharacterOfPosition(ts.createSourceFile(file, text, ts.ScriptTarget.Latest), scanner.getTokenStart());
      anys.push(`${path.relative(ROOT, file)}:${line + 1} ${scanner.getTokenText()}`);
    }
  }
}
results.push([`no \`any\` and no \`WechatMiniprogram\` in the ${files.length} public .d.ts files`, files.length === 0 ? 'no .d.ts found: run npm run build' : anys.length ? anys.join(', ') : null]);

for (const [name, failure] of results) {
  console.log(failure === null ? `${pc.green('✔')} ${name}` : `${pc.red('✖')} ${name}\n${failure}`);
}
const failed = results.filter(([, f]) => f !== null).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

/**
 * `npm run test:types`: the public API as users get it. Compiles test/types/api.ts (its
 * `@ts-expect-error` lines prove misuse fails) against the built .d.ts under strict, and scans
 * every public .d.ts for an `any` keyword (comments and names do not count).
 * Run after `npm run build`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pc from 'picocolors';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'miniprogram_dist');
const results: Array<[string, string | null]> = [];

try {
  execFileSync(process.execPath, [(require as unknown as NodeJS.Require).resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'test/types')], { encoding: 'utf8' });
  results.push(['test/types/api.ts compiles, and every @ts-expect-error line is an error', null]);
} catch (err) {
  results.push(['test/types/api.ts compiles, and every @ts-expect-error line is an error', String((err as { stdout?: string }).stdout)]);
}

function declarations(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? declarations(path.join(dir, e.name)) : e.name.endsWith('.d.ts') ? [path.join(dir, e.name)] : [],
  );
}
const files = declarations(DIST);
const anys: string[] = [];
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, /* skipTrivia */ true, ts.LanguageVariant.Standard, text);
  for (let t = scanner.scan(); t !== ts.SyntaxKind.EndOfFileToken; t = scanner.scan()) {
    if (t === ts.SyntaxKind.AnyKeyword) {
      const { line } = ts.getLineAndCharacterOfPosition(ts.createSourceFile(file, text, ts.ScriptTarget.Latest), scanner.getTokenStart());
      anys.push(`${path.relative(ROOT, file)}:${line + 1}`);
    }
  }
}
results.push([`no \`any\` in the ${files.length} public .d.ts files`, files.length === 0 ? 'no .d.ts found: run npm run build' : anys.length ? anys.join(', ') : null]);

for (const [name, failure] of results) {
  console.log(failure === null ? `${pc.green('✔')} ${name}` : `${pc.red('✖')} ${name}\n${failure}`);
}
const failed = results.filter(([, f]) => f !== null).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

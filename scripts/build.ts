/**
 * `npm run build`: the package as WeChat DevTools' "构建 npm" and bundlers consume it.
 * - miniprogram_dist/: CommonJS, one output file per source file (never one bundle: the button and
 *   the kit must share one module instance, one token, one in-flight login), ES2015 syntax.
 * - dist/esm/: the same files as ES modules, for bundlers (Taro, uni-app).
 * - .d.ts from `tsc --emitDeclarationOnly`, and the component's .json/.wxml/.wxss in both.
 */
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
/** WeChat's JS engines on the clients it supports run ES2017 (async/await); newer syntax is lowered. */
export const TARGET = 'es2017';
const SRC = path.join(ROOT, 'src');
const OUT = { cjs: path.join(ROOT, 'miniprogram_dist'), esm: path.join(ROOT, 'dist/esm') };

/** Every file below `dir`, skipping folders whose name is in `skip`. */
export function listFiles(dir: string, skip: string[] = []): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return skip.includes(e.name) ? [] : listFiles(p, skip);
    return [p];
  });
}

/**
 * Compiles the `.ts` files among `files` (not `.d.ts`) one output file per source file, at
 * TARGET, into `outdir` mirroring their place under `outbase`: how the package and the mini
 * program code WeChat runs are built.
 */
export function compilePerFile(files: string[], outbase: string, outdir: string, format: 'cjs' | 'esm' = 'cjs') {
  const entryPoints = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  return build({ entryPoints, outbase, outdir, format, bundle: false, platform: 'neutral', target: TARGET, logLevel: 'warning' });
}

export async function buildPackage(): Promise<void> {
  for (const dir of Object.values(OUT)) fs.rmSync(dir, { recursive: true, force: true });
  const all = listFiles(SRC);
  await compilePerFile(all, SRC, OUT.cjs, 'cjs');
  await compilePerFile(all, SRC, OUT.esm, 'esm');
  for (const f of all.filter((f) => /\.(json|wxml|wxss)$/.test(f))) {
    for (const dir of Object.values(OUT)) fs.cpSync(f, path.join(dir, path.relative(SRC, f)));
  }
  execFileSync(process.execPath, [(require as unknown as NodeJS.Require).resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
}

if ((require as unknown as NodeJS.Require).main === module) {
  buildPackage().then(
    () => console.log('built miniprogram_dist/ (CommonJS) and dist/esm/ (ES modules)'),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}

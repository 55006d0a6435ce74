/**
 * Compiles the demo mini program to JavaScript the way WeChat DevTools would run it: one output
 * file per source file (never one bundle: the page, the button and the app must share one kit
 * module instance), the kit under `miniprogram_npm/wx-login-kit`, and `.json/.wxml/.wxss` copied.
 * A `node_modules` link to `miniprogram_npm` lets Node resolve `require('wx-login-kit')` the way
 * the mini program runtime does.
 */
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

function files(dir: string, keep: (f: string) => boolean): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'miniprogram_npm' || e.name === 'node_modules' ? [] : files(p, keep);
    return keep(p) ? [p] : [];
  });
}

const isTs = (f: string) => f.endsWith('.ts') && !f.endsWith('.d.ts');
const isAsset = (f: string) => /\.(json|wxml|wxss)$/.test(f);

/** Builds into `outDir` (default `.tmp/demo`); returns the compiled `miniprogram/` folder. */
export async function buildDemo(outDir = path.join(ROOT, '.tmp/demo')): Promise<string> {
  const appDir = path.join(outDir, 'miniprogram');
  const kitDir = path.join(appDir, 'miniprogram_npm/wx-login-kit');
  fs.rmSync(outDir, { recursive: true, force: true });
  const common = { bundle: false, format: 'cjs', target: 'es2017', platform: 'neutral', logLevel: 'warning' } as const;
  await build({ ...common, entryPoints: files(path.join(ROOT, 'miniprogram'), isTs), outdir: appDir, outbase: path.join(ROOT, 'miniprogram') });
  await build({ ...common, entryPoints: files(path.join(ROOT, 'src'), isTs), outdir: kitDir, outbase: path.join(ROOT, 'src') });
  for (const [from, to] of [
    [path.join(ROOT, 'miniprogram'), appDir],
    [path.join(ROOT, 'src'), kitDir],
  ]) {
    for (const f of files(from, isAsset)) fs.cpSync(f, path.join(to, path.relative(from, f)));
  }
  fs.symlinkSync('miniprogram_npm', path.join(appDir, 'node_modules'));
  return appDir;
}

if ((require as unknown as NodeJS.Require).main === module) {
  buildDemo().then((dir) => console.log(`demo built in ${path.relative(ROOT, dir)}`));
}

/**
 * Compiles the demo mini program to JavaScript the way WeChat DevTools would run it: one output
 * file per source file, `.json/.wxml/.wxss` copied, and the kit installed as a user gets it:
 * `npm pack` (which builds), then the tarball's `miniprogram` folder as
 * `miniprogram_npm/wx-login-kit`, which is what DevTools' "构建 npm" makes of it.
 * A `node_modules` link to `miniprogram_npm` lets Node resolve `require('wx-login-kit')` the way
 * the mini program runtime does.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { compilePerFile, listFiles } from './build';

const ROOT = path.resolve(__dirname, '..');

/** `npm pack` into `dir`; returns the tarball's path. Runs `prepack`, i.e. `npm run build`. */
function packKit(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return path.join(dir, out.trim().split('\n').pop()!);
}

/** Builds into `outDir` (default `.tmp/demo`); returns the compiled `miniprogram/` folder. */
export async function buildDemo(outDir = path.join(ROOT, '.tmp/demo')): Promise<string> {
  const appDir = path.join(outDir, 'miniprogram');
  fs.rmSync(outDir, { recursive: true, force: true });
  const source = path.join(ROOT, 'miniprogram');
  const sources = listFiles(source, ['miniprogram_npm', 'node_modules']);
  await compilePerFile(sources, source, appDir);
  for (const f of sources.filter((f) => /\.(json|wxml|wxss)$/.test(f))) fs.cpSync(f, path.join(appDir, path.relative(source, f)));

  const unpacked = path.join(outDir, 'pack');
  fs.mkdirSync(unpacked, { recursive: true });
  execFileSync('tar', ['-xzf', packKit(outDir), '-C', unpacked]);
  const pkg = JSON.parse(fs.readFileSync(path.join(unpacked, 'package/package.json'), 'utf8')) as { miniprogram: string };
  fs.cpSync(path.join(unpacked, 'package', pkg.miniprogram), path.join(appDir, 'miniprogram_npm/wx-login-kit'), { recursive: true });
  fs.symlinkSync('miniprogram_npm', path.join(appDir, 'node_modules'));
  return appDir;
}

if ((require as unknown as NodeJS.Require).main === module) {
  buildDemo().then((dir) => console.log(`demo built in ${path.relative(ROOT, dir)}`));
}

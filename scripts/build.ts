/**
 * `npm run build`: the package as WeChat DevTools' "构建 npm" and bundlers consume it.
 * - miniprogram_dist/index.js: the kit as ONE minified CommonJS file, ES2017 syntax: what 构建 npm
 *   copies into miniprogram_npm (the "miniprogram" field) and a native mini program ships as it is,
 *   so it is as small as it can be (one module wrapper, no comments).
 * - dist/esm/: one ES module per source file (`"type": "module"`, explicit `.js` specifiers) for
 *   bundlers (Taro, uni-app), which minify and tree-shake themselves, and plain Node ESM.
 * - .d.ts from `tsc --emitDeclarationOnly`, in both.
 * - Each component of src/components as ONE self-contained CommonJS file (it shares no module
 *   state with the kit: it finds the app's instance through the global registry), with its
 *   .json/.wxml/.wxss, in miniprogram_dist/components/ (for 构建 npm) and in components/ at the
 *   package root (Taro and uni-app join the package root with the usingComponents subpath), so
 *   `wx-login-kit/components/login-button/index` resolves in all three.
 * - dist/server/: the server half (`wx-login-kit/server`, a fastify plugin) for Node only, as one
 *   ES module (index.mjs) and one CommonJS file (index.cjs), with its .d.ts. Outside
 *   miniprogram_dist, so 构建 npm never copies it into a mini program. fastify, @fastify/* and
 *   ioredis stay imports (peer dependencies); fastify-plugin is bundled in.
 * - dist/emulator/ (`wx-login-kit/emulator`, the WeChat API emulator for testing a server) and
 *   dist/uni/ (`wx-login-kit/uni`, the uni-app vite plugin): Node only, built the same way, their
 *   .d.ts in dist/node-types/; dist/taro/index.d.ts (`wx-login-kit/taro`, JSX types for Taro).
 */
import { execFileSync } from 'node:child_process';
import { build, buildSync } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
/** WeChat's JS engines on the clients it supports run ES2017 (async/await); newer syntax is lowered. */
export const TARGET = 'es2017';
const SRC = path.join(ROOT, 'src');
const OUT = {
  cjs: path.join(ROOT, 'miniprogram_dist'),
  esm: path.join(ROOT, 'dist/esm'),
  components: path.join(ROOT, 'components'),
  server: path.join(ROOT, 'dist/server'),
  emulator: path.join(ROOT, 'dist/emulator'),
  uni: path.join(ROOT, 'dist/uni'),
  taro: path.join(ROOT, 'dist/taro'),
  /** `wx-login-kit/alipay` for require(): the kit with Alipay's adapter, one CommonJS file, kept out of miniprogram_dist (WeChat ships all of that folder). */
  alipay: path.join(ROOT, 'dist/alipay'),
  nodeTypes: path.join(ROOT, 'dist/node-types'),
};
/** The server half's imports that users install next to it (peerDependencies). */
const SERVER_PEERS = ['fastify', '@fastify/rate-limit', '@fastify/swagger', 'ioredis', 'alipay-sdk'];
const COMPONENTS = path.join(SRC, 'components');

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
  const kit = listFiles(SRC, ['components']);
  fs.mkdirSync(OUT.cjs, { recursive: true });
  fs.writeFileSync(path.join(OUT.cjs, 'index.js'), commonJsBundle(path.join(SRC, 'index.ts')));
  fs.mkdirSync(OUT.alipay, { recursive: true });
  fs.writeFileSync(path.join(OUT.alipay, 'index.js'), commonJsBundle(path.join(SRC, 'index.alipay.ts')));
  await compilePerFile(kit, SRC, OUT.esm, 'esm');
  // Without it Node and vitest read dist/esm/*.js as CommonJS (the package root has no "type").
  fs.writeFileSync(path.join(OUT.esm, 'package.json'), '{ "type": "module" }\n');

  const components = listFiles(COMPONENTS);
  for (const outdir of [path.join(OUT.cjs, 'components'), OUT.components]) {
    const entryPoints = components.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
    await build({ entryPoints, outbase: COMPONENTS, outdir, format: 'cjs', bundle: true, platform: 'neutral', target: TARGET, logLevel: 'warning' });
    // WeChat's templates, and Douyin's (.ttml/.ttss) and Alipay's (.axml/.acss) where a component has them.
    for (const f of components.filter((f) => /\.(json|wxml|wxss|ttml|ttss|axml|acss)$/.test(f))) fs.cpSync(f, path.join(outdir, path.relative(COMPONENTS, f)));
  }

  const tsc = (project: string) =>
    execFileSync(process.execPath, [(require as unknown as NodeJS.Require).resolve('typescript/bin/tsc'), '-p', path.join(ROOT, project)], { stdio: 'inherit' });
  tsc('tsconfig.build.json');
  for (const f of listFiles(OUT.cjs, ['components']).filter((f) => f.endsWith('.d.ts'))) fs.cpSync(f, path.join(OUT.esm, path.relative(OUT.cjs, f)));

  for (const [entry, outdir] of [
    ['server/index.ts', OUT.server],
    ['emulator/testing.ts', OUT.emulator],
    ['integrations/uni.ts', OUT.uni],
  ] as const) {
    await buildForNode(path.join(ROOT, entry), outdir);
  }
  tsc('tsconfig.server.json');
  tsc('tsconfig.node-entries.json');
  fs.mkdirSync(OUT.taro, { recursive: true });
  fs.cpSync(path.join(ROOT, 'integrations/taro.d.ts'), path.join(OUT.taro, 'index.d.ts'));
}

/**
 * `entry` and all it imports as one minified CommonJS file. esbuild's own CommonJS output wraps an
 * ES module in helpers (`__export`, `__toCommonJS`: about 200 B gzipped, 5% of the kit); an ES
 * module bundle whose one `export {a as name, ...}` statement becomes `module.exports = {name: a,
 * ...}` needs none.
 */
export function commonJsBundle(entry: string): string {
  const esm = buildSync({ entryPoints: [entry], bundle: true, minify: true, format: 'esm', platform: 'neutral', target: TARGET, write: false, logLevel: 'warning' });
  const code = esm.outputFiles[0].text;
  const tail = /export\{([^}]*)\};\s*$/.exec(code);
  if (!tail || /\bexport\b/.test(code.slice(0, tail.index))) throw new Error(`${entry}: expected one export statement at the end of the bundle`);
  const names = tail[1].split(',').map((pair) => {
    const [local, exported = local] = pair.split(' as ');
    return `${exported}:${local}`;
  });
  return `${code.slice(0, tail.index)}module.exports={${names.join(',')}};\n`;
}

/** One Node entry as index.mjs and index.cjs in `outdir`, its peers left as imports. */
async function buildForNode(entry: string, outdir: string): Promise<void> {
  for (const [format, file] of [['esm', 'index.mjs'], ['cjs', 'index.cjs']] as const) {
    await build({
      entryPoints: [entry],
      outfile: path.join(outdir, file),
      bundle: true,
      format,
      platform: 'node',
      target: 'node20',
      external: SERVER_PEERS,
      // The optional peers are loaded with import() only when used; in CommonJS that must be a
      // require(), or a CommonJS host without ESM loader hooks (jest) cannot load them.
      supported: format === 'cjs' ? { 'dynamic-import': false } : {},
      // fastify-plugin is CommonJS and calls require('node:path'): give the ES module a require.
      banner: format === 'esm' ? { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" } : {},
      logLevel: 'warning',
    });
  }
}

if ((require as unknown as NodeJS.Require).main === module) {
  buildPackage().then(
    () => console.log('built miniprogram_dist/ (CommonJS), dist/esm/ (ES modules) and components/'),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}

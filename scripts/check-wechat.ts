/**
 * `npm run check:wechat`: WeChat's own tooling over the kit as a user installs it, offline.
 *
 * In a scratch copy of the demo (.tmp/check-wechat/, wiped first):
 * 1. `npm pack` the kit (runs `prepack`, i.e. the build).
 * 2. Copy project.config.json and miniprogram/; compile its .ts to .js with esbuild (WeChat runs JS;
 *    DevTools compiles TS with its plugin, miniprogram-ci does not) and delete the .ts; install the
 *    tarball with npm into miniprogram/node_modules.
 * 3. miniprogram-ci `packNpmManually`, DevTools' "构建 npm": miniprogram_npm/wx-login-kit must hold
 *    index.js and every component of src/components.
 * 4. miniprogram-ci `schemaValidate` on app.json, every page's json, every kit component's json,
 *    sitemap.json and project.config.json (errors and warnings both fail: an unknown key is a typo).
 * 5. miniprogram-ci `getCompiledResult`, what "上传" compiles (JSON, JS, WXML with minifyWXML,
 *    WXSS); written to .tmp/check-wechat/compiled/.
 * 6. miniprogram-ci `analyseCode` on the compiled output: no unresolved require, page or component.
 * 7. `wcc` on every .wxml and `wcsc` on every .wxss (the app's and the kit's), the compilers the
 *    simulator uses (miniprogram-compiler, shipped without the exec bit: copies are chmod-ed).
 * 8. Skyline: a copy with `"renderer": "skyline"`, glass-easel, `navigationStyle: custom` and the
 *    `rendererOptions` the README gives compiles; without rendererOptions it must not (the README
 *    says WeChat requires them).
 * Each check prints one ✔/✖ line (with what the tool said on failure); the last line is
 * `N passed, M failed`; exit 1 if anything failed. Each step times out after 120 s.
 *
 * Offline: the project gets `attr: async () => ci.DefaultProjectAttr` and a dummy private key (else
 * miniprogram-ci asks WeChat's servers for the app's attributes), and miniprogram-ci's proxy is set
 * to a closed local port, so the one call it still makes (the upload file-extension whitelist,
 * which falls back to a built-in list) fails at once instead of waiting on the network.
 *
 * CHECK_WECHAT_BREAK=<name> applies one breakage to the scratch copy after step 2, to prove the
 * checks fail (the repo is never touched). Names: see BREAKS below
 * (`CHECK_WECHAT_BREAK=list npm run check:wechat` prints them).
 */
import fs from 'node:fs';
import path from 'node:path';
import pc from 'picocolors';
import { compilePerFile, listFiles } from './build';
import { analyse, compileProject, createChecks, loadCi, packKit, readJson, rel, ROOT, run, writeJson, type CI, type Json } from './checks';

const SCRATCH = path.join(ROOT, '.tmp/check-wechat');
const PROJECT = path.join(SCRATCH, 'project');
const COMPILED = path.join(SCRATCH, 'compiled');
const BIN = path.join(SCRATCH, 'bin');
const KIT = 'wx-login-kit';
const nodeRequire = require as unknown as NodeJS.Require;
let ci: CI;

const projectConfig = readJson(path.join(ROOT, 'project.config.json'));
const APP = path.join(PROJECT, String(projectConfig.miniprogramRoot ?? ''));
const NPM_KIT = path.join(APP, 'miniprogram_npm', KIT);

/** One breakage each, applied to the scratch copy only. */
const BREAKS: Record<string, () => void> = {
  /** An unclosed tag at the end of a page's WXML (getCompiledResult lets it through; wcc does not). */
  wxml: () => fs.appendFileSync(path.join(APP, 'pages/index/index.wxml'), '\n<view class="oops">\n'),
  /** A closing tag that does not match (`<text>` closed by `</view>`). */
  'wxml-mismatch': () => fs.appendFileSync(path.join(APP, 'pages/index/index.wxml'), '\n<view><text>oops</view>\n'),
  /** A require() of a module that does not exist. */
  require: () => fs.appendFileSync(path.join(APP, 'app.js'), '\nrequire("./missing-module");\n'),
  /** usingComponents pointing at a path that does not exist. */
  component: () => {
    const file = path.join(APP, 'pages/index/index.json');
    writeJson(file, { ...readJson(file), usingComponents: { 'missing-button': '/components/missing-button/index' } });
  },
  /** A typo in a page's JSON key ("usingComponent"): only schemaValidate's warning catches it. */
  'json-typo': () => {
    const file = path.join(APP, 'pages/login/index.json');
    const { usingComponents, ...rest } = readJson(file);
    writeJson(file, { ...rest, usingComponent: usingComponents });
  },
  /** A wrong "miniprogram" field in the installed kit's package.json: 构建 npm then misses the dist. */
  'miniprogram-field': () => {
    const file = path.join(APP, 'node_modules', KIT, 'package.json');
    writeJson(file, { ...readJson(file), miniprogram: 'dist' });
  },
  /** A JS syntax error in a page. */
  js: () => fs.appendFileSync(path.join(APP, 'pages/index/index.js'), '\nconst = ;\n'),
  /** A WXSS syntax error in a page. */
  wxss: () => fs.appendFileSync(path.join(APP, 'pages/index/index.wxss'), '\n.broken { color: red;\n'),
  /** app.json lists a page that does not exist. */
  'app-page': () => {
    const file = path.join(APP, 'app.json');
    const app = readJson(file);
    writeJson(file, { ...app, pages: [...(app.pages as string[]), 'pages/missing/index'] });
  },
  /** app.json with a field of the wrong type. */
  'app-type': () => {
    const file = path.join(APP, 'app.json');
    writeJson(file, { ...readJson(file), window: 'white' });
  },
};

const { check, skip, finish } = createChecks();
const stray: string[] = [];

/** The `wcc`/`wcsc` binaries of miniprogram-compiler (a dependency of miniprogram-simulate). */
function compilerBinary(name: 'wcc' | 'wcsc'): string {
  const simulate = nodeRequire.resolve('miniprogram-simulate/package.json');
  const compiler = path.dirname(nodeRequire.resolve('miniprogram-compiler/package.json', { paths: [path.dirname(simulate)] }));
  const platform = process.platform === 'darwin' ? 'mac' : process.platform === 'win32' ? 'windows' : 'linux';
  const source = path.join(compiler, 'bin', platform, process.platform === 'win32' ? `${name}.exe` : name);
  // npm ships them without the exec bit: run a copy, leave node_modules alone.
  const copy = path.join(BIN, path.basename(source));
  if (!fs.existsSync(copy)) {
    fs.mkdirSync(BIN, { recursive: true });
    fs.copyFileSync(source, copy);
    fs.chmodSync(copy, 0o755);
  }
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Steps

let tarball = '';

async function pack(): Promise<string> {
  tarball = await packKit(SCRATCH);
  return rel(tarball);
}

async function copyAndCompileDemo(): Promise<string> {
  fs.mkdirSync(PROJECT, { recursive: true });
  fs.cpSync(path.join(ROOT, 'project.config.json'), path.join(PROJECT, 'project.config.json'));
  const source = path.join(ROOT, String(projectConfig.miniprogramRoot ?? ''));
  fs.cpSync(source, APP, { recursive: true, filter: (f) => !['node_modules', 'miniprogram_npm'].includes(path.basename(f)) });
  const ts = listFiles(APP).filter((f) => f.endsWith('.ts'));
  // The same per-file build as the package's (and the demo's in npm start).
  await compilePerFile(ts, APP, APP);
  for (const f of ts) fs.rmSync(f);
  return `${ts.length} .ts → .js`;
}

async function installKit(): Promise<string> {
  const file = path.join(APP, 'package.json');
  const pkg = readJson(file);
  writeJson(file, { ...pkg, dependencies: { ...(pkg.dependencies as Json), [KIT]: `file:${tarball}` } });
  // --offline: a tarball needs no registry, and this check must never depend on one.
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock'], APP);
  const installed = path.join(APP, 'node_modules', KIT, 'package.json');
  if (!fs.existsSync(installed)) throw new Error(`npm install left no ${rel(installed)}`);
  return `${rel(path.dirname(installed))} ${readJson(installed).version}`;
}

async function packNpm(): Promise<string> {
  const result = await ci.packNpmManually({ packageJsonPath: path.join(APP, 'package.json'), miniprogramNpmDistDir: APP });
  const problems = result.warnList.map((w) => `warning: ${JSON.stringify(w)}`);
  const components = fs.readdirSync(path.join(ROOT, 'src/components'));
  const expected = ['index.js', ...components.flatMap((c) => ['js', 'json', 'wxml', 'wxss'].map((ext) => `components/${c}/index.${ext}`))];
  for (const f of expected) if (!fs.existsSync(path.join(NPM_KIT, f))) problems.push(`missing ${rel(path.join(NPM_KIT, f))}`);
  if (problems.length) {
    const made = fs.existsSync(NPM_KIT) ? listFiles(NPM_KIT).map((f) => path.relative(NPM_KIT, f)) : [];
    const shown = made.length > 4 ? [...made.slice(0, 4), `… ${made.length - 4} more`] : made;
    throw new Error(`${problems.join('\n')}\n(miniprogram packages: ${result.miniProgramPackNum}, other npm packages: ${result.otherNpmPackNum}; ${rel(NPM_KIT)} holds: ${shown.join(', ') || 'nothing'})`);
  }
  return `${result.miniProgramPackNum} miniprogram package, ${expected.length} expected files present`;
}

/** The JSON files and the schema each one follows. */
function jsonFiles(): Array<[file: string, schema: 'app' | 'page' | 'sitemap' | 'projectconfig']> {
  const list: Array<[string, 'app' | 'page' | 'sitemap' | 'projectconfig']> = [[path.join(APP, 'app.json'), 'app']];
  let app: Json = {};
  try {
    app = readJson(path.join(APP, 'app.json'));
  } catch {
    // reported by the app.json check itself
  }
  const pages = Array.isArray(app.pages) ? app.pages.filter((p): p is string => typeof p === 'string') : [];
  // A page's .json is optional; a missing page is the compile step's to report.
  for (const page of pages) if (fs.existsSync(path.join(APP, `${page}.json`))) list.push([path.join(APP, `${page}.json`), 'page']);
  // Component JSON follows the page schema ("component", "usingComponents", window fields).
  if (fs.existsSync(NPM_KIT)) for (const f of listFiles(NPM_KIT).filter((f) => f.endsWith('.json') && fs.existsSync(f.replace(/\.json$/, '.wxml')))) list.push([f, 'page']);
  list.push([path.join(APP, typeof app.sitemapLocation === 'string' ? app.sitemapLocation : 'sitemap.json'), 'sitemap']);
  list.push([path.join(PROJECT, 'project.config.json'), 'projectconfig']);
  return list;
}

async function validate(file: string, schema: Parameters<CI['schemaValidate']>[0]): Promise<void> {
  // schemaValidate returns { warning: string, error: [...] } and never throws.
  const result = ci.schemaValidate(schema, readJson(file));
  const problems = result.error.map((e) => {
    const want = e.correctType ? ` (expected ${e.correctType.join(' | ')})` : e.requireProperty ? ` (requires ${e.requireProperty})` : '';
    return `error: ${e.errorType} ${e.errorProperty}${want}`;
  });
  if (result.warning) problems.push(`warning: unknown or deprecated field ${result.warning}`);
  if (problems.length) throw new Error(problems.join('\n'));
}

async function main(): Promise<void> {
  const breakName = process.env.CHECK_WECHAT_BREAK;
  if (breakName && !BREAKS[breakName]) {
    console.log(`CHECK_WECHAT_BREAK must be one of: ${Object.keys(BREAKS).join(', ')}`);
    process.exit(breakName === 'list' ? 0 : 2);
  }
  ci = await loadCi();
  // A tool may reject again after its check has ended (a forked compiler exiting late): record it.
  process.on('unhandledRejection', (reason) => stray.push(reason instanceof Error ? reason.message : String(reason)));
  fs.rmSync(SCRATCH, { recursive: true, force: true });
  fs.mkdirSync(SCRATCH, { recursive: true });

  const ready =
    (await check('npm pack (runs the build)', pack)) &&
    (await check(`demo copied to ${rel(PROJECT)}, TypeScript compiled (esbuild)`, copyAndCompileDemo)) &&
    (await check(`packed kit installed with npm into ${rel(APP)}`, installKit));
  if (ready) {
    if (breakName) {
      BREAKS[breakName]();
      console.log(pc.yellow(`! CHECK_WECHAT_BREAK=${breakName}: scratch copy broken on purpose`));
    }
    await check('构建 npm (miniprogram-ci packNpmManually)', packNpm);
    for (const [file, schema] of jsonFiles()) {
      const name = `schemaValidate('${schema}') ${path.relative(PROJECT, file)}`;
      if (fs.existsSync(file)) await check(name, () => validate(file, schema));
      else skip(name, 'file missing');
    }
    const compiled = await check('miniprogram-ci getCompiledResult (JSON, JS, WXML, WXSS)', () => compileProject(PROJECT, COMPILED, String(projectConfig.appid ?? 'touristappid')));
    if (compiled) await check('miniprogram-ci analyseCode: every require, page and component resolves', () => analyse(COMPILED, String(projectConfig.appid ?? 'touristappid')));
    else skip('miniprogram-ci analyseCode', 'nothing compiled');
    if (compiled) {
      await check('Skyline + glass-easel: the demo and both components compile with rendererOptions', () => compileSkyline(true));
      await check('Skyline without rendererOptions: WeChat refuses to compile (what the README warns of)', async () => {
        const err = await compileSkyline(false).then(
          () => null,
          (e: Error) => e,
        );
        if (!err) throw new Error('compiled without rendererOptions: the README says it does not');
        return err.message.split('\n')[0].slice(0, 120);
      });
    }
    const sources = listFiles(APP, ['node_modules']).sort();
    for (const file of sources.filter((f) => f.endsWith('.wxml'))) {
      await check(`wcc ${path.relative(APP, file)}`, async () => {
        await run(compilerBinary('wcc'), ['-d', path.relative(APP, file), '-o', path.join(BIN, 'out.js')], APP);
      });
    }
    for (const file of sources.filter((f) => f.endsWith('.wxss'))) {
      await check(`wcsc ${path.relative(APP, file)}`, async () => {
        await run(compilerBinary('wcsc'), ['-db', path.relative(APP, file), '-o', path.join(BIN, 'out.js')], APP);
      });
    }
  }
  if (stray.length) await check('the tools raised no stray errors', async () => Promise.reject(new Error(stray.join('\n'))));
  finish();
}

/**
 * A copy of the built project with `"renderer": "skyline"` and glass-easel in app.json (and the
 * `rendererOptions` the README gives, when `withOptions`), compiled as for upload.
 * https://developers.weixin.qq.com/miniprogram/dev/framework/runtime/skyline/migration/
 */
async function compileSkyline(withOptions: boolean): Promise<string> {
  const copy = path.join(SCRATCH, withOptions ? 'skyline' : 'skyline-bare');
  fs.rmSync(copy, { recursive: true, force: true });
  fs.cpSync(PROJECT, copy, { recursive: true, filter: (f) => !f.includes(`${path.sep}node_modules`) });
  const appJson = path.join(copy, String(projectConfig.miniprogramRoot ?? ''), 'app.json');
  const skyline = { renderer: 'skyline', componentFramework: 'glass-easel', lazyCodeLoading: 'requiredComponents' };
  const options = withOptions ? { rendererOptions: { skyline: { defaultDisplayBlock: true, disableABTest: true } } } : {};
  const app = readJson(appJson);
  // Skyline has no native navigation bar: every page draws its own (navigationStyle custom).
  const window = { ...(app.window as object), navigationStyle: 'custom' };
  writeJson(appJson, { ...app, ...skyline, ...options, window });
  return compileProject(copy, path.join(SCRATCH, withOptions ? 'skyline.compiled' : 'skyline-bare.compiled'), String(projectConfig.appid ?? 'touristappid'));
}

main().catch(async (err: Error) => {
  await check('check:wechat ran to the end', () => Promise.reject(err));
  finish();
});

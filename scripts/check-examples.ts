/**
 * `npm run check:examples`: the packed kit in each example app of examples/, built by the
 * toolchain users build with, then run.
 *
 * For each example, in a scratch copy (.tmp/check-examples/<name>/, wiped first):
 * 1. install: `npm ci` from the example's lock file plus the packed tarball (`npm install --no-save`);
 *    the native examples name `wx-login-kit` in package.json, which is pointed at the tarball;
 * 2. typecheck with the example's own settings (tsc, vue-tsc);
 * 3. build with the toolchain's CLI: `taro build --type weapp`, `uni build -p mp-weixin`; for the
 *    native ones DevTools' steps: TypeScript compiled per file (esbuild) and "构建 npm"
 *    (miniprogram-ci packNpmManually, as project.config.json says);
 * 4. miniprogram-ci getCompiledResult + analyseCode on the built mini program: every require,
 *    page and component resolves (the login button's files included);
 * 5. run the built app in Node (scripts/mini-runtime.ts) on a `wx` whose login/request reach the
 *    WeChat API emulator and the reference server over loopback: App.onLaunch logs in once; the
 *    login page's <login-button> is attached (it must find the app's instance: its code keeper
 *    runs wx.login) and tapped with what WeChat hands it for getPhoneNumber; the user being logged
 *    in, the tap must bind the number with the app's token ({phoneCode}, Bearer) and succeed.
 * 6. Taro and uni-app again for Douyin, Alipay and QQ, from the same source and dependency set
 *    (`taro build --type tt|alipay|qq`, `uni build -p mp-toutiao|mp-alipay|mp-qq`): the output
 *    holds one copy of the kit (with the Alipay adapter in the Alipay build only); <login-button>
 *    with the platform's template (Douyin's .ttml, Alipay's .axml; QQ has no phone-number button,
 *    so no login page there); run in Node on a `tt` (scripts/node-tt.ts), `my` (scripts/node-my.ts)
 *    or `qq` (scripts/node-qq.ts) shaped as the platforms' typings (QQ: WeChat's shapes) say,
 *    against the Douyin, Alipay or WeChat (for QQ) emulator behind a reference server serving a
 *    WeChat, a Douyin, an Alipay and a QQ app (`apps`): onLaunch logs in once, naming its platform and appid; the app's
 *    instance GETs /api/me (200); the server drops the session; the next GET gets 401 and
 *    recovers with exactly one login; the login page's button is attached (its code keeper
 *    runs the platform's login through the app's instance), a denial fails with `denied`;
 *    on Douyin a tap with Douyin's encryptedData logs in with the code kept before it; on Alipay
 *    (Alipay's component model: props, onSuccess/onFail) the logged-in user's tap binds
 *    my.getPhoneNumber's response with the token, and after a logout a tap logs in with it.
 * Prints one ✔/✖ line a check, a line of counts per example and platform, then `N passed, M failed`.
 *
 * CHECK_EXAMPLES=taro,uni-app runs only those. CHECK_EXAMPLES_BREAK=<name> installs a broken kit
 * to prove the checks fail (names: see BREAKS; `list` prints them).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pc from 'picocolors';
import { buildServer } from '../reference-server/app';
import { buildEmulator } from '../emulator';
import { buildAlipayEmulator } from '../emulator/alipay';
import { buildDouyinEmulator } from '../emulator/douyin';
import { compilePerFile, listFiles } from './build';
import { analyse, compileProject, createChecks, importAndRequire, loadCi, packKit, readJson, rel, ROOT, run, writeJson } from './checks';
import { createMiniRuntime } from './mini-runtime';
import { createNodeMy } from './node-my';
import { createNodeQq } from './node-qq';
import { createNodeTt, type PlatformTrace } from './node-tt';
import { createNodeWx, type WxTrace } from './node-wx';

const SCRATCH = path.join(ROOT, '.tmp/check-examples');
const EXAMPLES = path.join(ROOT, 'examples');
const KIT = 'wx-login-kit';
const APPID = 'wxexample000000000';
const TT_APPID = 'tt0e0a0m0p0l0e0001';
const ALIPAY_APPID = '2021000000000001';
const QQ_APPID = '1112345678';
const INSTALL_TIMEOUT_MS = 600_000;
const REGISTRY = Symbol.for('wx-login-kit');
const STORAGE_KEY = 'wx-login-kit:token';

interface Example {
  name: string;
  /** What the README tells users to run, shown in the log. */
  toolchain: string;
  /** Folder holding project.config.json (what miniprogram-ci compiles), relative to the example. */
  project: string;
  /** The built mini program's root (app.js, app.json), relative to the example. */
  app: string;
  /** The page holding <login-button>. */
  loginPage: string;
  /** A native `Page()` whose onLoad GETs /api/me and shows `openid` (framework pages render through their runtime: not run). */
  mePage?: string;
  typecheck: (dir: string) => Promise<string>;
  build: (dir: string) => Promise<string>;
  /** The same app built for Douyin and Alipay (no login page there). */
  targets?: Target[];
}

/** A build of an example for another platform than WeChat. */
interface Target {
  platform: 'douyin' | 'alipay' | 'qq';
  /** The toolchain's name of the platform: `tt`, `mp-alipay`, ... */
  type: string;
  /** The built mini program's root, relative to the example. */
  app: string;
  build: (dir: string) => Promise<string>;
  /** The page holding <login-button> (Douyin's .ttml, Alipay's .axml); none on QQ, which has no phone-number button. */
  loginPage?: string;
}

const npmRun = (script: string) => async (dir: string) => {
  await run('npm', ['run', '--silent', script], dir, INSTALL_TIMEOUT_MS);
  return `npm run ${script}`;
};
const tsc = async (dir: string) => {
  await run(process.execPath, [(require as unknown as NodeJS.Require).resolve('typescript/bin/tsc'), '-p', dir], dir);
  return 'tsc --noEmit';
};

/** DevTools' "构建 npm" as project.config.json configures it (packNpmRelationList, or the project root). */
async function packNpm(dir: string): Promise<string> {
  const ci = await loadCi();
  const config = readJson(path.join(dir, 'project.config.json'));
  const setting = (config.setting ?? {}) as { packNpmManually?: boolean; packNpmRelationList?: Array<{ packageJsonPath: string; miniprogramNpmDistDir: string }> };
  const relations = setting.packNpmManually && setting.packNpmRelationList ? setting.packNpmRelationList : [{ packageJsonPath: './package.json', miniprogramNpmDistDir: String(config.miniprogramRoot ?? './') }];
  const made: string[] = [];
  for (const r of relations) {
    const result = await ci.packNpmManually({ packageJsonPath: path.join(dir, r.packageJsonPath), miniprogramNpmDistDir: path.join(dir, r.miniprogramNpmDistDir) });
    if (result.warnList.length) throw new Error(result.warnList.map((w) => JSON.stringify(w)).join('\n'));
    made.push(`${result.miniProgramPackNum} miniprogram package(s) → ${path.join(r.miniprogramNpmDistDir, 'miniprogram_npm')}`);
  }
  return `构建 npm: ${made.join('; ')}`;
}

const EXAMPLE_LIST: Example[] = [
  {
    name: 'native-js',
    toolchain: 'WeChat DevTools, plain JavaScript: npm i wx-login-kit, 工具 → 构建 npm',
    project: '.',
    app: '.',
    loginPage: 'pages/login/index',
    mePage: 'pages/index/index',
    typecheck: async () => 'plain JavaScript: nothing to check',
    build: packNpm,
  },
  {
    name: 'native-ts',
    toolchain: "WeChat DevTools' TypeScript template: npm i wx-login-kit at the root, 工具 → 构建 npm",
    project: '.',
    app: 'miniprogram',
    loginPage: 'pages/login/index',
    mePage: 'pages/index/index',
    typecheck: tsc,
    build: async (dir) => {
      // DevTools compiles TypeScript with its plugin (useCompilerPlugins); esbuild per file does the same job here.
      const app = path.join(dir, 'miniprogram');
      const ts = listFiles(app, ['miniprogram_npm', 'node_modules']).filter((f) => f.endsWith('.ts'));
      await compilePerFile(ts, app, app);
      return `${ts.length} .ts → .js; ${await packNpm(dir)}`;
    },
  },
  {
    name: 'taro',
    toolchain: 'Taro 4 (React): npm i wx-login-kit, taro build --type weapp (and tt, alipay, qq)',
    project: '.',
    app: 'dist/weapp',
    loginPage: 'pages/login/index',
    typecheck: npmRun('typecheck'),
    build: npmRun('build:weapp'),
    targets: [
      { platform: 'douyin', type: 'tt', app: 'dist/tt', build: npmRun('build:tt'), loginPage: 'pages/login/index' },
      { platform: 'alipay', type: 'alipay', app: 'dist/alipay', build: npmRun('build:alipay'), loginPage: 'pages/login/index' },
      { platform: 'qq', type: 'qq', app: 'dist/qq', build: npmRun('build:qq') },
    ],
  },
  {
    name: 'uni-app',
    toolchain: 'uni-app (Vue 3, vite): npm i wx-login-kit, uni build -p mp-weixin (and mp-toutiao, mp-alipay, mp-qq)',
    project: 'dist/build/mp-weixin',
    app: 'dist/build/mp-weixin',
    loginPage: 'pages/login/index',
    typecheck: npmRun('type-check'),
    build: npmRun('build:mp-weixin'),
    targets: [
      { platform: 'douyin', type: 'mp-toutiao', app: 'dist/build/mp-toutiao', build: npmRun('build:mp-toutiao'), loginPage: 'pages/login/index' },
      { platform: 'alipay', type: 'mp-alipay', app: 'dist/build/mp-alipay', build: npmRun('build:mp-alipay'), loginPage: 'pages/login/index' },
      { platform: 'qq', type: 'mp-qq', app: 'dist/build/mp-qq', build: npmRun('build:mp-qq') },
    ],
  },
];

/** Breakages of the installed kit, to prove the checks catch what they claim to. */
const BREAKS: Record<string, (pkg: string) => void> = {
  /** The registry as a module variable again (a per-copy symbol): the button cannot find the app's instance. */
  registry: (pkg) => {
    for (const f of listFiles(pkg).filter((f) => f.endsWith('.js'))) {
      const text = fs.readFileSync(f, 'utf8');
      if (text.includes('Symbol.for("wx-login-kit")')) fs.writeFileSync(f, text.split('Symbol.for("wx-login-kit")').join('Symbol("wx-login-kit")'));
    }
  },
  /** No button at the package root (the 0.1.0 layout): Taro and uni-app find no component. */
  'root-component': (pkg) => fs.rmSync(path.join(pkg, 'components'), { recursive: true, force: true }),
  /** <login-button> registers WeChat's component model everywhere (the Alipay check must see no props/onXxx model). */
  'alipay-model': (pkg) => {
    const file = path.join(pkg, 'components/login-button/index.js');
    const text = fs.readFileSync(file, 'utf8');
    const choice = 'var alipay = typeof my == "object"';
    if (!text.includes(choice)) throw new Error(`alipay-model: ${choice} not found in the built button`);
    fs.writeFileSync(file, text.replace(choice, 'var alipay = false && typeof my == "object"'));
  },
  /** The 0.1.0 peer dependency on miniprogram-api-typings >=3.12: DevTools' TS template cannot install. */
  peer: (pkg) => {
    const file = path.join(pkg, 'package.json');
    writeJson(file, { ...readJson(file), peerDependencies: { 'miniprogram-api-typings': '>=3.12' } });
  },
};

/** The tarball, broken on purpose when CHECK_EXAMPLES_BREAK names a breakage. */
async function tarballFor(breakName: string | undefined): Promise<string> {
  const tarball = await packKit(SCRATCH);
  if (!breakName) return tarball;
  const unpacked = path.join(SCRATCH, 'broken');
  fs.mkdirSync(unpacked, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', unpacked], SCRATCH);
  BREAKS[breakName](path.join(unpacked, 'package'));
  const broken = path.join(SCRATCH, `broken-${breakName}.tgz`);
  await run('tar', ['-czf', broken, '-C', unpacked, 'package'], SCRATCH);
  return broken;
}

async function install(dir: string, tarball: string): Promise<string> {
  const pkgFile = path.join(dir, 'package.json');
  const pkg = readJson(pkgFile);
  const deps = pkg.dependencies as Record<string, string> | undefined;
  if (deps?.[KIT]) {
    // A native example names the kit as a user's app would; point it at the tarball.
    writeJson(pkgFile, { ...pkg, dependencies: { ...deps, [KIT]: `file:${tarball}` } });
    await run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], dir, INSTALL_TIMEOUT_MS);
  } else {
    await run('npm', ['ci', '--no-audit', '--no-fund'], dir, INSTALL_TIMEOUT_MS);
    await run('npm', ['install', '--no-save', '--no-audit', '--no-fund', tarball], dir, INSTALL_TIMEOUT_MS);
  }
  const installed = path.join(dir, 'node_modules', KIT, 'package.json');
  if (!fs.existsSync(installed)) throw new Error(`no ${rel(installed)} after install`);
  return `${KIT} ${readJson(installed).version} from ${path.basename(tarball)}`;
}

/** The packed kit as a dependency of a plain Node project, imported as ES module and required as CommonJS. */
async function nodeEsm(tarball: string): Promise<string> {
  const dir = path.join(SCRATCH, 'node-esm');
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', path.join(dir, 'node_modules')], dir);
  fs.renameSync(path.join(dir, 'node_modules/package'), path.join(dir, 'node_modules', KIT));
  const esm = await importAndRequire(dir, KIT, 'createAuth');
  return `${esm.length} exports: ${esm.join(', ')}`;
}

async function main(): Promise<void> {
  const { check, skip, finish } = createChecks();
  const breakName = process.env.CHECK_EXAMPLES_BREAK;
  if (breakName && !BREAKS[breakName]) {
    console.log(`CHECK_EXAMPLES_BREAK must be one of: ${Object.keys(BREAKS).join(', ')}`);
    process.exit(breakName === 'list' ? 0 : 2);
  }
  const only = process.env.CHECK_EXAMPLES?.split(',').filter(Boolean);
  const examples = EXAMPLE_LIST.filter((e) => !only || only.includes(e.name));
  await loadCi();
  fs.rmSync(SCRATCH, { recursive: true, force: true });
  fs.mkdirSync(SCRATCH, { recursive: true });

  let tarball = '';
  if (!(await check('npm pack (runs the build)', async () => rel((tarball = await tarballFor(breakName)))))) finish();
  if (breakName) console.log(pc.yellow(`! CHECK_EXAMPLES_BREAK=${breakName}: the installed kit is broken on purpose`));
  await check("Node ESM (vitest, SSR, scripts): import('wx-login-kit') loads, with the exports of require('wx-login-kit')", () => nodeEsm(tarball));

  // One emulator and one reference server for every example, on loopback.
  const secret = randomBytes(16).toString('hex');
  // The WeChat emulator plays QQ's server too: api.q.qq.com's jscode2session answers as WeChat's.
  const emulator = buildEmulator({ apps: { [APPID]: secret, [QQ_APPID]: secret } });
  const emulatorBase = await emulator.app.listen({ port: 0, host: '127.0.0.1' });
  const server = buildServer({ wechat: { apiBase: emulatorBase, appid: APPID, secret } });
  const baseURL = await server.listen({ port: 0, host: '127.0.0.1' });
  const summary: string[] = [];
  const platforms = examples.some((e) => e.targets?.length) ? await startPlatforms(emulator, emulatorBase, secret) : undefined;

  for (const example of examples) {
    console.log(pc.bold(`\n${example.name}`) + pc.dim(` — ${example.toolchain}`));
    const dir = path.join(SCRATCH, example.name);
    fs.cpSync(path.join(EXAMPLES, example.name), dir, { recursive: true, filter: (f) => !/[/\\](node_modules|dist|miniprogram_npm)$/.test(f) });
    const ready =
      (await check(`${example.name}: install (lock file + packed kit)`, () => install(dir, tarball), INSTALL_TIMEOUT_MS)) &&
      (await check(`${example.name}: typecheck`, () => example.typecheck(dir), INSTALL_TIMEOUT_MS)) &&
      (await check(`${example.name}: build`, () => example.build(dir), INSTALL_TIMEOUT_MS));
    if (!ready) {
      skip(`${example.name}: miniprogram-ci and the run`, 'nothing built');
      continue;
    }
    const project = path.join(dir, example.project);
    const compiled = path.join(SCRATCH, `${example.name}.compiled`);
    await check(`${example.name}: miniprogram-ci getCompiledResult`, () => compileProject(project, compiled, APPID))
      .then((ok) => (ok ? check(`${example.name}: miniprogram-ci analyseCode: every require, page and component resolves`, () => analyse(compiled, APPID)) : false));
    const counts = { login: 0, loginPosts: 0, phonePosts: 0, request: 0 };
    await check(`${example.name}: run in Node: onLaunch logs in once, <login-button> finds the app's instance, a phone tap binds the number`, async () => {
      const result = await runApp(path.join(dir, example.app), example, baseURL, emulatorBase, counts);
      summary.push(`${example.name}: ${result}`);
      return result;
    });
    for (const target of example.targets ?? []) {
      const name = `${example.name} ${target.type}`;
      const root = path.join(dir, target.app);
      if (!(await check(`${name}: build (same source and dependencies)`, () => target.build(dir), INSTALL_TIMEOUT_MS))) {
        skip(`${name}: the output and the run`, 'nothing built');
        continue;
      }
      let layout = '';
      const alipay = target.platform === 'alipay';
      const button = { douyin: ", without the Alipay adapter, <login-button> with Douyin's template", alipay: ", with the Alipay adapter, <login-button> with Alipay's template", qq: ', without the Alipay adapter' }[target.platform];
      await check(`${name}: output: one copy of the kit${button}`, async () => (layout = checkLayout(root, target)));
      const tap = !target.loginPage
        ? ''
        : alipay
          ? ", a denial fails with denied, the logged-in user's phone tap binds the number, after a logout a tap logs in"
          : ', a phone tap logs in with the code kept before it, a denial fails with denied';
      await check(`${name}: run in Node on ${{ douyin: 'tt', alipay: 'my', qq: 'qq' }[target.platform]}: onLaunch logs in once, GET /api/me 200, a dropped session gets 401 and one login${tap}`, async () => {
        const result = await runOnPlatform(root, target, platforms!, `user-${example.name}`);
        summary.push(`${name}: ${result}; ${layout}`);
        return result;
      });
    }
  }
  await server.close();
  await emulator.app.close();
  await platforms?.close();
  console.log(pc.bold('\nper example: what the run measured'));
  for (const line of summary) console.log(`  ${line}`);
  if (!summary.length) console.log('  (no example ran)');
  finish();
}

/** Runs the built app in Node and taps its login button; returns the measured counts. */
async function runApp(root: string, { loginPage, mePage }: Example, baseURL: string, emulatorBase: string, counts: { login: number; loginPosts: number; phonePosts: number; request: number }): Promise<string> {
  delete (globalThis as Record<symbol, unknown>)[REGISTRY];
  const waiters: Array<{ match: (e: WxTrace) => boolean; resolve: () => void }> = [];
  const trace = (e: WxTrace) => {
    if (e.kind === 'wx.login') counts.login++;
    if (e.kind === 'wx.request') {
      counts.request++;
      if (e.url === `${baseURL}/auth/login`) counts.loginPosts++;
      if (e.url === `${baseURL}/auth/phone`) counts.phonePosts++;
    }
    for (const w of waiters.splice(0)) (w.match(e) ? w.resolve() : waiters.push(w));
  };
  const client = createNodeWx({ emulatorBase, appid: APPID, user: `user-${path.basename(path.dirname(root))}`, extConfig: { baseURL }, onTrace: trace });
  /** Resolves at the next wx call that matches, then lets the kit's promise callbacks run. */
  const next = (what: string, match: (e: WxTrace) => boolean) => quiet(within(new Promise<void>((resolve) => waiters.push({ match, resolve })).then(flush), what));
  const stored = () => (client.storage.getStorageSync(STORAGE_KEY) as { token?: string } | '') || {};

  const runtime = createMiniRuntime(root, client.wx);
  const launched = next('the login POST of onLaunch', (e) => e.kind === 'wx.request' && e.url === `${baseURL}/auth/login` && e.statusCode === 200);
  const app = runtime.launch();
  runtime.loadPages();
  await launched;
  if (!stored().token) throw new Error('no token in storage after the login of onLaunch');
  if (counts.loginPosts !== 1) throw new Error(`onLaunch made ${counts.loginPosts} login POSTs, expected 1`);
  let me = '';
  if (mePage) {
    const data = await within(runtime.openPage(mePage), `${mePage} onLoad`);
    if (typeof data.openid !== 'string' || !data.openid) throw new Error(`${mePage} shows no openid after GET /api/me: ${JSON.stringify(data)}`);
    me = `, ${mePage} GET /api/me 200`;
  }

  // The button keeps a fresh code for the tap through the app's instance: a wx.login at attach
  // proves it found that instance (a button on another instance would fail or log in elsewhere).
  const kept = next('the wx.login of the button\'s code keeper', (e) => e.kind === 'wx.login');
  const button = runtime.mountComponent(loginPage, 'login-button');
  await kept;

  const detail = await client.openData('getPhoneNumber');
  const token = stored().token;
  let phonePost: Extract<WxTrace, { kind: 'wx.request' }> | undefined;
  const posted = next('the phone POST', (e) => e.kind === 'wx.request' && e.url === `${baseURL}/auth/phone` && !!(phonePost = e));
  const outcome = quiet(within(button.nextEvent('success', 'fail'), 'the button\'s success or fail event'));
  await button.fire('getphonenumber', detail);
  const { name, detail: answer } = await outcome;
  await posted;
  if (name !== 'success') throw new Error(`the button emitted fail: ${JSON.stringify(answer, (k, v) => (v instanceof Error ? v.message : v))}`);
  const { purePhoneNumber } = answer as { purePhoneNumber?: string };
  if (!/^\d{11}$/.test(String(purePhoneNumber))) throw new Error(`success without a phone number: ${JSON.stringify(Object.keys(answer as object))}`);
  // The user is logged in (onLaunch): the tap binds the number with the app's token, {phoneCode}
  // only. A button on another instance would hold no token and send a login code instead.
  if (!phonePost!.authorized || Object.keys(phonePost!.data as object).join() !== 'phoneCode') {
    throw new Error(`the phone POST sent ${JSON.stringify(Object.keys(phonePost!.data as object))}${phonePost!.authorized ? '' : ' with no token'}: the button used another instance than the app's`);
  }
  // Bound to the session: the app's token stays, in storage and in globalData where the app keeps one.
  if (!token || stored().token !== token) throw new Error('the token in storage changed with a phone binding');
  const globalData = app.globalData as Record<string, unknown> | undefined;
  if (globalData && 'token' in globalData && globalData.token !== token) throw new Error('getApp().globalData.token is not the app\'s token');
  if (counts.loginPosts !== 1) throw new Error(`${counts.loginPosts} login POSTs in all, expected 1`);
  const stubs = runtime.stubbed.size ? `; wx stubs used: ${[...runtime.stubbed].sort().join(', ')}` : '';
  return `wx.login ${counts.login}, login POSTs ${counts.loginPosts}, phone POSTs ${counts.phonePosts}, wx.request ${counts.request}${me}, button ${button.file}${stubs}`;
}

/**
 * The Douyin and Alipay emulators and a reference server serving a WeChat, a Douyin, an Alipay and
 * a QQ app (`apps`), each app pointed at its emulator (QQ's at the WeChat one), on loopback.
 */
async function startPlatforms(wechat: ReturnType<typeof buildEmulator>, wechatApiBase: string, wechatSecret: string) {
  const douyinSecret = randomBytes(16).toString('hex');
  const douyin = buildDouyinEmulator({ apps: { [TT_APPID]: douyinSecret } });
  const douyinBase = await douyin.app.listen({ port: 0, host: '127.0.0.1' });
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // The app's AES content key ("接口内容加密方式"): my.getPhoneNumber's response is sealed with it.
  const aesKey = randomBytes(16).toString('base64');
  const alipay = buildAlipayEmulator({ apps: { [ALIPAY_APPID]: { appPublicKey: keys.publicKey.export({ type: 'spki', format: 'pem' }) as string, aesKey } } });
  const alipayBase = await alipay.app.listen({ port: 0, host: '127.0.0.1' });
  const server = buildServer({
    apps: [
      { platform: 'wechat', appid: APPID, secret: wechatSecret, apiBase: wechatApiBase },
      { platform: 'qq', appid: QQ_APPID, secret: wechatSecret, apiBase: wechatApiBase },
      { platform: 'douyin', appid: TT_APPID, secret: douyinSecret, apiBase: douyinBase },
      { platform: 'alipay', appid: ALIPAY_APPID, privateKey: keys.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string, alipayPublicKey: alipay.alipayPublicKey, aesKey, gateway: `${alipayBase}/gateway.do` },
    ],
  });
  const baseURL = await server.listen({ port: 0, host: '127.0.0.1' });
  return {
    baseURL,
    server,
    wechat,
    douyin,
    alipay,
    close: () => Promise.all([server.close(), douyin.app.close(), alipay.app.close()]),
  };
}
type Platforms = Awaited<ReturnType<typeof startPlatforms>>;

const KIT_MARK = '[wx-login-kit]';
/** The Alipay adapter's own call: my.getAuthCode with the silent scope. */
const ADAPTER_MARK = /scopes:\s*["']auth_base["']/;

/**
 * The built output of a Douyin or Alipay target: exactly one JS file carries the kit (one module
 * state; <login-button>'s own self-contained file aside), the Alipay adapter is there in the Alipay
 * build only, and <login-button> is there with the platform's template (.ttml, .axml). Returns where the kit is, how often the output uses each platform
 * global, and the global webpack's chunks hang on (Taro).
 */
function checkLayout(root: string, target: Target): string {
  const template = target.platform === 'alipay' ? 'axml' : 'ttml';
  let component: string | undefined;
  if (target.loginPage) {
    const spec = (readJson(path.join(root, `${target.loginPage}.json`)).usingComponents as Record<string, string> | undefined)?.['login-button'];
    if (!spec) throw new Error(`${target.loginPage}.json names no login-button`);
    // Absolute from the mini program's root (uni-app), or relative to the page (Taro's npm copy).
    component = spec.startsWith('/') ? path.join(root, spec) : path.resolve(path.dirname(path.join(root, target.loginPage)), spec);
    for (const ext of [template, 'js', 'json']) {
      if (!fs.existsSync(`${component}.${ext}`)) throw new Error(`<login-button> has no ${path.relative(root, component)}.${ext} in the ${target.type} build`);
    }
    if (!(readJson(`${component}.json`) as { component?: unknown }).component) throw new Error(`${path.relative(root, component)}.json does not say "component": true`);
  }
  const files = listFiles(root, []).filter((f) => f.endsWith('.js'));
  // The kit's components are self-contained files of their own (uni-app copies wxcomponents/ on QQ unused).
  const own = (f: string) => f === `${component}.js` || /[/\\]login-(button|profile)[/\\]index\.js$/.test(f);
  const withKit = files.filter((f) => !own(f) && fs.readFileSync(f, 'utf8').includes(KIT_MARK));
  if (withKit.length !== 1) throw new Error(`${withKit.length} built files carry the kit (expected 1): ${withKit.map((f) => path.relative(root, f)).join(', ')}`);
  const kit = fs.readFileSync(withKit[0], 'utf8');
  const adapter = ADAPTER_MARK.test(kit);
  if (adapter !== (target.platform === 'alipay')) throw new Error(`the kit in ${path.relative(root, withKit[0])} ${adapter ? 'carries' : 'lacks'} the Alipay adapter in a ${target.platform} build`);
  const chunks = new Set(files.flatMap((f) => [...fs.readFileSync(f, 'utf8').matchAll(/\b(wx|tt|my|qq)\["webpackJsonp"\]/g)].map((m) => `${m[1]}["webpackJsonp"]`)));
  // Member uses of each platform global in the whole output (the kit's code for the other platforms included; not in strings).
  const uses: Record<string, number> = { wx: 0, tt: 0, my: 0, qq: 0 };
  for (const f of files) for (const m of fs.readFileSync(f, 'utf8').matchAll(/(?<![\w$.'"`])(wx|tt|my|qq)\.[A-Za-z_$]/g)) uses[m[1]]++;
  const globals = Object.entries(uses).map(([k, n]) => `${k}. ${n}×`).join(', ');
  const buttonAt = component ? `; <login-button> at ${path.relative(root, component)}.${template}` : '; no login page (no phone-number button on QQ)';
  return `kit in ${path.relative(root, withKit[0])} (${Math.round(kit.length / 1024)} KB file${adapter ? ', with the Alipay adapter' : ''})${buttonAt}; output JS uses ${globals}${chunks.size ? `; webpack chunks on ${[...chunks].join(', ')}` : ''}`;
}

/**
 * Runs a Douyin or Alipay build in Node on the platform's fake global: onLaunch's login (one,
 * naming the platform and the appid), GET /api/me through the app's own instance (found in the
 * registry, as <login-button> finds it), then the server drops the session and the next GET must
 * meet a 401 and recover with exactly one login. Returns the counts.
 */
async function runOnPlatform(root: string, target: Target, stack: Platforms, user: string): Promise<string> {
  delete (globalThis as Record<symbol, unknown>)[REGISTRY];
  const { baseURL } = stack;
  const douyin = target.platform === 'douyin';
  const global = ({ douyin: 'tt', alipay: 'my', qq: 'qq' } as const)[target.platform];
  const appid = { douyin: TT_APPID, alipay: ALIPAY_APPID, qq: QQ_APPID }[target.platform];
  const loginApi = global === 'my' ? 'my.getAuthCode' : `${global}.login`;
  const requestApi = `${global}.request`;
  const counts = { login: 0, loginPosts: 0, request: 0, unauthorized: 0, phone: 0 };
  const loginPosts: Array<Extract<PlatformTrace, { kind: 'request' }>> = [];
  const waiters: Array<{ match: (e: PlatformTrace) => boolean; resolve: () => void }> = [];
  const onTrace = (e: PlatformTrace) => {
    if (e.kind === 'login' && e.code) counts.login++;
    if (e.kind === 'phone') counts.phone++;
    if (e.kind === 'request') {
      counts.request++;
      if (e.status === 401) counts.unauthorized++;
      if (e.url === `${baseURL}/auth/login`) counts.loginPosts++, loginPosts.push(e);
    }
    for (const w of waiters.splice(0)) (w.match(e) ? w.resolve() : waiters.push(w));
  };
  const options = { appid, user, extConfig: { baseURL }, onTrace };
  let token: () => string | undefined;
  let api: object;
  if (global !== 'my') {
    // Douyin's and QQ's are WeChat-shaped: positional storage.
    const { storage, ...made } = douyin ? createNodeTt(options, (a, u) => stack.douyin.login(a, u)) : createNodeQq(options, (a, u) => stack.wechat.issueCode(a, u));
    api = 'tt' in made ? made.tt : made.qq;
    token = () => ((storage.getStorageSync(STORAGE_KEY) as { token?: string } | '') || {}).token;
  } else {
    const { my, store } = createNodeMy(
      options,
      (a, u) => stack.alipay.authCode(a, u),
      (a, u) => stack.alipay.phoneResponse(a, u),
    );
    api = my;
    token = () => (store.has(STORAGE_KEY) ? (JSON.parse(store.get(STORAGE_KEY)!) as { token?: string }).token : undefined);
  }

  const runtime = createMiniRuntime(root, api, global);
  const launched = quiet(within(new Promise<void>((resolve) => waiters.push({ match: (e) => e.kind === 'request' && e.url === `${baseURL}/auth/login` && e.status === 200, resolve })).then(flush), 'the login POST of onLaunch'));
  const app = runtime.launch();
  runtime.loadPages();
  await launched;
  if (!token()) throw new Error('no token in storage after the login of onLaunch');
  // uni-app's App keeps globalData (auth.launch(this) mirrors the token there); Taro's has none.
  const globalData = app.globalData as Record<string, unknown> | undefined;
  const mirrored = globalData && 'token' in globalData;
  if (mirrored && globalData.token !== token()) throw new Error('getApp().globalData.token is not the stored token');
  if (counts.login !== 1 || counts.loginPosts !== 1) throw new Error(`onLaunch made ${counts.login} ${loginApi} calls and ${counts.loginPosts} login POSTs, expected 1 and 1`);
  const named = loginPosts[0].data as { platform?: unknown; appid?: unknown };
  if (named.platform !== target.platform || named.appid !== appid) throw new Error(`the login POST named ${JSON.stringify({ platform: named.platform, appid: named.appid })}, expected ${JSON.stringify({ platform: target.platform, appid })}`);

  // The app's own instance (the one its code made, in its bundle), as <login-button> would find it.
  const instances = (globalThis as Record<symbol, Record<string, { request(o: object): Promise<{ statusCode: number; data: unknown }> }> | undefined>)[REGISTRY];
  const auth = instances?.default;
  if (!auth) throw new Error('the app registered no auth instance (globalThis[Symbol.for("wx-login-kit")].default)');
  const me = async (what: string) => {
    const res = await within(auth.request({ url: '/api/me' }), what);
    const openid = (res.data as { openid?: unknown } | undefined)?.openid;
    if (res.statusCode !== 200 || typeof openid !== 'string' || !openid) throw new Error(`${what}: ${res.statusCode} ${JSON.stringify(res.data)}`);
    return openid;
  };
  const openid = await me('GET /api/me after the launch');

  const revoked = await stack.server.wxLogin.revokeAll({ platform: target.platform, appid, openid });
  if (revoked !== 1) throw new Error(`the server dropped ${revoked} sessions of the user, expected 1`);
  const before = { ...counts };
  await me('GET /api/me after the server dropped the session');
  const logins = counts.login - before.login;
  const posts = counts.loginPosts - before.loginPosts;
  if (counts.unauthorized - before.unauthorized !== 1 || logins !== 1 || posts !== 1) {
    throw new Error(`after the session was dropped: ${counts.unauthorized - before.unauthorized} answers 401, ${logins} ${loginApi} calls, ${posts} login POSTs (expected 1, 1, 1)`);
  }
  if (mirrored && globalData.token !== token()) throw new Error('getApp().globalData.token is not the new token after the re-login');
  const kept = mirrored ? ', globalData.token follows' : '';
  const tap = { appid, user, baseURL, token, counts, waiters };
  // QQ has no phone-number button: no login page there.
  const tapped = !target.loginPage
    ? ''
    : douyin
      ? await tapDouyinButton(runtime, target.loginPage, stack, tap)
      : await tapAlipayButton(runtime, root, target.loginPage, auth as unknown as { logout(): unknown }, tap);
  const stubs = runtime.stubbed.size ? `; stubs used: ${[...runtime.stubbed].sort().join(', ')}` : '';
  return `${loginApi} ${counts.login}, login POSTs ${counts.loginPosts} (platform ${named.platform}, appid ${named.appid}), ${requestApi} ${counts.request} (401s ${counts.unauthorized}), GET /api/me 200, dropped session → 401 → 1 login → 200${kept}${tapped}${stubs}`;
}

/**
 * Douyin's <login-button> on the login page: attached, its code keeper runs tt.login through the
 * app's instance; a denial (an errMsg Douyin's docs list) fails with `denied` and sends nothing; an
 * allowed tap hands over encryptedData + iv sealed with the session_key of that latest code, which
 * the button POSTs with the code kept before the tap (and the app it is for) to /auth/phone: the
 * server decrypts it with that code's session_key and logs the user in.
 */
async function tapDouyinButton(
  runtime: ReturnType<typeof createMiniRuntime>,
  loginPage: string,
  stack: Platforms,
  run: { appid: string; user: string; baseURL: string; token: () => string | undefined; counts: { login: number; request: number }; waiters: Array<{ match: (e: PlatformTrace) => boolean; resolve: () => void }> },
): Promise<string> {
  const next = (what: string, match: (e: PlatformTrace) => boolean) => quiet(within(new Promise<void>((resolve) => run.waiters.push({ match, resolve })).then(flush), what));
  const kept = next("the tt.login of the button's code keeper", (e) => e.kind === 'login' && !!e.code);
  const button = runtime.mountComponent(loginPage, 'login-button');
  await kept;
  const requests = run.counts.request;
  const denied = quiet(within(button.nextEvent('success', 'fail'), "the button's fail event"));
  await button.fire('getphonenumber', { errMsg: 'getPhoneNumber:fail auth deny' });
  const refusal = await denied;
  if (refusal.name !== 'fail' || (refusal.detail as { reason?: unknown }).reason !== 'denied') throw new Error(`a denial emitted ${refusal.name} ${JSON.stringify(refusal.detail)}`);
  if (run.counts.request !== requests) throw new Error('a denied tap sent a request');
  let phonePost: Extract<PlatformTrace, { kind: 'request' }> | undefined;
  const posted = next('the phone POST', (e) => e.kind === 'request' && e.url === `${run.baseURL}/auth/phone` && !!(phonePost = e));
  const outcome = quiet(within(button.nextEvent('success', 'fail'), "the button's success or fail event"));
  await button.fire('getphonenumber', stack.douyin.phoneNumberDetail(run.appid, run.user));
  const { name, detail } = await outcome;
  await posted;
  if (name !== 'success') throw new Error(`the button emitted fail: ${JSON.stringify(detail, (k, v) => (v instanceof Error ? v.message : v))}`);
  const answer = detail as { purePhoneNumber?: unknown; token?: unknown };
  if (!/^\d{11}$/.test(String(answer.purePhoneNumber))) throw new Error(`success without a phone number: ${JSON.stringify(Object.keys(answer))}`);
  const sent = Object.keys(phonePost!.data as object).sort().join();
  if (sent !== 'appid,code,encryptedData,iv,platform') throw new Error(`the phone POST sent {${sent}}`);
  if (typeof answer.token !== 'string' || run.token() !== answer.token) throw new Error("storage does not hold the phone login's token: the button used another instance than the app's");
  return `; <login-button>: denial → fail denied (nothing sent), tap → POST /auth/phone {code, encryptedData, iv, platform, appid} → ${answer.purePhoneNumber}, its token stored`;
}

/**
 * Alipay's <login-button> (Alipay's component model: props, didMount, the page's onSuccess/onFail
 * props) on the login page, whose built template must hand it onSuccess and onFail; mounted with
 * the attributes that template passes (Taro: `id` and `data-sid`, which its event handler finds the
 * node by; uni-app: `id`), which the events must carry back: attached, its code keeper runs my.getAuthCode through
 * the app's instance; the authorization button's onError fails with `denied`, sends nothing and
 * asks for no number; onGetAuthorize runs my.getPhoneNumber, and the user being logged in
 * (onLaunch), its response is bound with the token ({response}, Bearer): the number, no new token;
 * after a logout a tap logs in with it ({code, response, platform, appid}) and its token is stored.
 */
async function tapAlipayButton(
  runtime: ReturnType<typeof createMiniRuntime>,
  root: string,
  loginPage: string,
  auth: { logout(): unknown },
  run: { baseURL: string; token: () => string | undefined; counts: { login: number; request: number; phone: number }; waiters: Array<{ match: (e: PlatformTrace) => boolean; resolve: () => void }> },
): Promise<string> {
  const next = (what: string, match: (e: PlatformTrace) => boolean) => quiet(within(new Promise<void>((resolve) => run.waiters.push({ match, resolve })).then(flush), what));
  const kept = next("the my.getAuthCode of the button's code keeper", (e) => e.kind === 'login' && !!e.code);
  const page = `${loginPage}.axml`;
  const tag = /<login-button\b[^>]*>/.exec(fs.readFileSync(path.join(root, page), 'utf8'))?.[0];
  if (!tag || !/\sonSuccess=/.test(tag) || !/\sonFail=/.test(tag)) throw new Error(`${page} does not hand <login-button> onSuccess and onFail: ${tag ?? 'no <login-button>'}`);
  // The page's values ({{...}} ones made up, as the framework would fill them).
  const attrs: Record<string, string> = {};
  for (const [, name, value] of tag.matchAll(/\s(id|data-sid)="([^"]*)"/g)) attrs[name] = value.includes('{{') ? `_n_${name.length}` : value;
  const button = runtime.mountComponent(loginPage, 'login-button', attrs);
  await kept;
  const requests = run.counts.request;
  const denied = quiet(within(button.nextEvent('success', 'fail'), "the button's fail event"));
  // Alipay's onError detail: {type: 'getAuthorize', errorMessage}; the wording is not documented, and the reason does not depend on it.
  await button.fire('error', { type: 'getAuthorize', errorMessage: 'user denied' });
  const refusal = await denied;
  if (refusal.name !== 'fail' || (refusal.detail as { reason?: unknown }).reason !== 'denied') throw new Error(`a denial emitted ${refusal.name} ${JSON.stringify(refusal.detail)}`);
  const target = (button.events.at(-1)!.event as { currentTarget?: { id?: unknown; dataset?: { sid?: unknown } } }).currentTarget;
  if (target?.id !== attrs.id || target.dataset?.sid !== attrs['data-sid']) throw new Error(`the fail event's currentTarget ${JSON.stringify(target)} does not carry the id and data-sid the page passed, ${JSON.stringify(attrs)} (Taro finds its node by them)`);
  if (run.counts.request !== requests || run.counts.phone) throw new Error('a denied tap sent a request or asked my.getPhoneNumber');

  const tapOnce = async (what: string) => {
    let post: Extract<PlatformTrace, { kind: 'request' }> | undefined;
    const posted = next(`the phone POST ${what}`, (e) => e.kind === 'request' && e.url === `${run.baseURL}/auth/phone` && !!(post = e));
    const outcome = quiet(within(button.nextEvent('success', 'fail'), `the button's success or fail event ${what}`));
    await button.fire('getAuthorize', {});
    const { name, detail } = await outcome;
    await posted;
    if (name !== 'success') throw new Error(`${what}: the button emitted fail: ${JSON.stringify(detail, (k, v) => (v instanceof Error ? v.message : v))}`);
    const answer = detail as { purePhoneNumber?: unknown; token?: unknown };
    if (!/^\d{11}$/.test(String(answer.purePhoneNumber))) throw new Error(`${what}: success without a phone number: ${JSON.stringify(Object.keys(answer))}`);
    return { answer, sent: Object.keys(post!.data as object).sort().join(), authorized: post!.authorized };
  };
  const token = run.token();
  const bound = await tapOnce('of the logged-in user');
  if (bound.sent !== 'response' || !bound.authorized) throw new Error(`the logged-in tap sent {${bound.sent}}${bound.authorized ? '' : ' without the token'}, expected {response} with it`);
  if (bound.answer.token !== undefined || run.token() !== token) throw new Error('binding the number changed the token');
  auth.logout();
  if (run.token()) throw new Error('a token is still stored after logout()');
  const login = await tapOnce('after a logout');
  if (login.sent !== 'appid,code,platform,response' || login.authorized) throw new Error(`the tap after a logout sent {${login.sent}}${login.authorized ? ' with a token' : ''}, expected {appid, code, platform, response} without one`);
  if (typeof login.answer.token !== 'string' || run.token() !== login.answer.token) throw new Error("storage does not hold the phone login's token: the button used another instance than the app's");
  return `; <login-button> (the page hands it ${Object.keys(attrs).concat('onSuccess', 'onFail').join(', ')}): denial → fail denied (nothing sent), logged-in tap → my.getPhoneNumber ${run.counts.phone}× in all → POST /auth/phone {response} + token → ${bound.answer.purePhoneNumber}, after logout a tap → {code, response, platform, appid} → its token stored`;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));
/** A promise awaited later, maybe never (a step before it threw): its rejection must not crash the run. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after 10 s waiting for ${what}`)), 10_000)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

main().catch((err: Error) => {
  console.log(pc.red(err.stack ?? String(err)));
  console.log('0 passed, 1 failed');
  process.exit(1);
});

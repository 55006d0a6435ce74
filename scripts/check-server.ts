/**
 * `npm run check:server`: the server half as a user gets it. In a scratch copy of examples/server
 * (a whole login server in 28 lines), installs the packed kit with fastify, @fastify/* and ioredis
 * from the npm registry, typechecks it (its JS with checkJs, against the package's .d.ts), loads
 * `wx-login-kit/server` as ES module and as CommonJS, then runs two instances of it on one
 * throwaway redis-server against the WeChat API emulator and logs in through them over HTTP, and
 * one with Redis unreachable, which must exit instead of listening.
 * Also checks that the mini program half of the tarball holds nothing of the server.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildEmulator } from '../emulator';
import { startProcess, type StartedProcess } from '../test/support/process';
import { startRedis } from '../test/support/redis';
import { createChecks, importAndRequire, packKit, readJson, rel, ROOT, run, writeJson } from './checks';

const KIT = 'wx-login-kit';
const SCRATCH = path.join(ROOT, '.tmp/check-server');
const APP = path.join(SCRATCH, 'server');
const APPID = 'wxcheckserver0001';
const INSTALL_TIMEOUT_MS = 300_000;

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Runs `node server.js` with env; resolves with its URL once fastify says it listens. */
async function startExample(env: NodeJS.ProcessEnv): Promise<StartedProcess & { url: string }> {
  const server = await startProcess(process.execPath, ['server.js'], {
    cwd: APP,
    env: { ...process.env, ...env },
    ready: /Server listening at (http:\/\/127\.0\.0\.1:\d+)/,
    name: 'examples/server/server.js',
  });
  return { ...server, url: server.match[1] };
}

async function main(): Promise<void> {
  const { check, skip, finish } = createChecks();
  fs.rmSync(SCRATCH, { recursive: true, force: true });
  fs.mkdirSync(SCRATCH, { recursive: true });
  let tarball = '';

  await check('npm pack: the mini program half holds nothing of the server', async () => {
    tarball = await packKit(SCRATCH);
    const { stdout } = await run('tar', ['-tzf', tarball], SCRATCH);
    const files = stdout.split('\n').filter(Boolean);
    const server = files.filter((f) => f.startsWith('package/dist/server/'));
    const leaked = files.filter((f) => /^package\/(miniprogram_dist|components|dist\/esm)\//.test(f) && /server|plugin|redis|fastify/i.test(f));
    if (!server.some((f) => f.endsWith('index.mjs')) || !server.some((f) => f.endsWith('index.cjs'))) throw new Error('no dist/server/index.{mjs,cjs} in the tarball');
    if (leaked.length) throw new Error(`server files in the mini program half: ${leaked.join(', ')}`);
    const deps = (readJson(path.join(ROOT, 'package.json')).dependencies ?? {}) as object;
    if (Object.keys(deps).length) throw new Error(`the package has dependencies (${Object.keys(deps).join(', ')}): 构建 npm would build them into the mini program`);
    return `${server.length} files in dist/server, none elsewhere; no dependencies`;
  });

  const installed = tarball !== '' && (await check('install examples/server with the packed kit', async () => {
    fs.cpSync(path.join(ROOT, 'examples/server'), APP, { recursive: true, filter: (f) => !f.includes('node_modules') });
    const pkgFile = path.join(APP, 'package.json');
    const pkg = readJson(pkgFile);
    writeJson(pkgFile, { ...pkg, dependencies: { ...(pkg.dependencies as object), [KIT]: `file:${tarball}` } });
    await run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], APP, INSTALL_TIMEOUT_MS);
    return `${KIT} ${readJson(path.join(APP, 'node_modules', KIT, 'package.json')).version}, fastify ${readJson(path.join(APP, 'node_modules/fastify/package.json')).version}`;
  }, INSTALL_TIMEOUT_MS));

  if (!installed) {
    for (const name of ['typecheck', 'import and require', 'two instances on one Redis', 'server types stand alone', 'Redis unreachable at start-up']) skip(name, 'not installed');
    finish();
  }

  await check('typecheck server.js (checkJs, nodenext) against the package types', async () => {
    await run(process.execPath, [path.join(APP, 'node_modules/typescript/bin/tsc'), '-p', APP], APP);
  });

  await check(`import and require ${KIT}/server from Node`, async () => {
    const esm = await importAndRequire(APP, `${KIT}/server`, 'wxLogin');
    return `${esm.length} exports`;
  });

  await check('two instances of server.js on one Redis: log in on one, use the token on both, /openapi.json', async () => {
    const secret = randomBytes(16).toString('hex');
    const redis = await startRedis();
    const emulator = buildEmulator({ apps: { [APPID]: secret } });
    const apiBase = await emulator.app.listen({ port: 0, host: '127.0.0.1' });
    const env = { WX_APPID: APPID, WX_SECRET: secret, REDIS_URL: redis.path, WECHAT_API_BASE: apiBase, PORT: '0', HOST: '127.0.0.1' };
    const instances: StartedProcess[] = [];
    try {
      const [a, b] = await Promise.all([startExample(env), startExample(env)]);
      instances.push(a, b);
      const { code } = (await postJson(`${apiBase}/emulator/login`, { appid: APPID, user: 'alice' })).body as { code: string };
      const login = await postJson(`${a.url}/auth/login`, { code });
      if (login.status !== 200) throw new Error(`POST /auth/login answered ${login.status} ${JSON.stringify(login.body)}`);
      const token = login.body.token as string;
      const openids = new Set<unknown>();
      for (const { url } of [a, b]) {
        const me = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
        if (me.status !== 200) throw new Error(`GET /api/me on ${url} answered ${me.status}`);
        openids.add(((await me.json()) as { openid: unknown }).openid);
      }
      if (openids.size !== 1) throw new Error(`the two instances gave different openids: ${[...openids].join(', ')}`);
      const logout = await postJson(`${b.url}/auth/logout`, undefined, { authorization: `Bearer ${token}` });
      const after = await fetch(`${a.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      if (logout.status !== 200 || after.status !== 401) throw new Error(`logout through B: ${logout.status}, then A answered ${after.status} (want 200, 401)`);
      const doc = (await (await fetch(`${a.url}/openapi.json`)).json()) as { paths?: object };
      const paths = Object.keys(doc.paths ?? {});
      if (!paths.includes('/auth/login')) throw new Error(`/openapi.json has paths ${paths.join(', ')}`);
      const printed = instances.map((i) => i.output()).join('');
      for (const leak of [token, secret]) if (printed.includes(leak)) throw new Error('a token or the secret is in the server log');
      return `one login, the token works on both, logout through B refused by A, ${paths.length} paths in /openapi.json`;
    } finally {
      await Promise.all(instances.map((i) => i.stop()));
      await emulator.app.close();
      await redis.stop();
    }
  });

  await check('the server types stand alone: fastify without ioredis, skipLibCheck off', async () => {
    const dir = path.join(SCRATCH, 'types-only');
    fs.mkdirSync(dir, { recursive: true });
    const example = readJson(path.join(ROOT, 'examples/server/package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    writeJson(path.join(dir, 'package.json'), {
      private: true,
      type: 'module',
      dependencies: { fastify: example.dependencies.fastify, [KIT]: `file:${tarball}` },
      devDependencies: example.devDependencies,
    });
    writeJson(path.join(dir, 'tsconfig.json'), {
      compilerOptions: { strict: true, skipLibCheck: false, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, types: ['node'] },
      include: ['server.ts'],
    });
    // A memory-store server as a TypeScript user writes it, and the Redis store's options type.
    fs.writeFileSync(
      path.join(dir, 'server.ts'),
      [
        "import Fastify from 'fastify';",
        `import { createMemoryStore, serverOptions, wxLogin, type RedisStoreOptions } from '${KIT}/server';`,
        "const app = Fastify(serverOptions({ logger: true }));",
        "await app.register(wxLogin, { appid: 'wx', secret: 's', store: createMemoryStore(), rateLimit: false, openapi: false });",
        "app.get('/me', { preHandler: app.requireAuth }, async (request) => ({ openid: request.auth?.openid }));",
        "export type Options = RedisStoreOptions;",
        '',
      ].join('\n'),
    );
    await run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], dir, INSTALL_TIMEOUT_MS);
    const absent = ['ioredis', '@types/ioredis', '@fastify/rate-limit', '@fastify/swagger'].filter((p) => fs.existsSync(path.join(dir, 'node_modules', p)));
    if (absent.length) throw new Error(`installed although not asked for: ${absent.join(', ')}`);
    await run(process.execPath, [path.join(dir, 'node_modules/typescript/bin/tsc'), '-p', dir], dir);
    return 'tsc --strict, skipLibCheck false, nodenext: no errors; ioredis and @fastify/* not installed';
  }, INSTALL_TIMEOUT_MS);

  await check('server.js with Redis unreachable at start-up: exits non-zero within seconds, saying why', async () => {
    const redis = await startRedis();
    const dead = redis.path;
    await redis.stop(); // nothing listens on that socket any more
    const env = { WX_APPID: APPID, WX_SECRET: 'unused', REDIS_URL: dead, PORT: '0', HOST: '127.0.0.1' };
    const started = Date.now();
    const err = await startExample(env).then(
      async (server) => {
        await server.stop();
        return null;
      },
      (e: Error) => e,
    );
    if (!err) throw new Error('server.js started listening although Redis was unreachable');
    if (!/could not connect to Redis/.test(err.message)) throw new Error(`server.js exited without saying why: ${err.message.slice(-500)}`);
    return `exited after ${Date.now() - started} ms: "could not connect to Redis within 5000 ms"`;
  });

  console.log(`scratch: ${rel(SCRATCH)}`);
  finish();
}

void main();

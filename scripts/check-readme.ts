/**
 * `npm run check:readme`: the READMEs (zh and en) work for someone with only the npm tarball.
 *
 * 1. Every relative link names a file the tarball ships (the registry page and node_modules have
 *    nothing else).
 * 2. The server example is examples/server/server.js, code for code (comments may be translated):
 *    check:server installs, typechecks and runs that file from the tarball.
 * 3. In a scratch project with the packed kit, fastify, TypeScript and miniprogram-api-typings
 *    from the npm registry:
 *    - "Test your server" runs with `node --test`, as pasted;
 *    - the mini program snippets of "Use it in a mini program" (auth.ts and app.ts, a page, the
 *      upload inside a page method) type-check with `tsc --strict` against the package's types.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createChecks, packKit, readJson, rel, ROOT, run, writeJson } from './checks';

const KIT = 'wx-login-kit';
const SCRATCH = path.join(ROOT, '.tmp/check-readme');
const APP = path.join(SCRATCH, 'app');
const READMES = ['README.md', 'README.en.md'];
const INSTALL_TIMEOUT_MS = 300_000;

interface Block {
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
}

function blocks(file: string): Block[] {
  const found: Block[] = [];
  let open: { lang: string; line: number; lines: string[] } | null = null;
  fs.readFileSync(path.join(ROOT, file), 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const fence = /^```(\w*)\s*$/.exec(text);
      if (fence && !open) open = { lang: fence[1], line: i + 1, lines: [] };
      else if (fence && open) {
        found.push({ lang: open.lang, line: open.line, code: open.lines.join('\n') + '\n' });
        open = null;
      } else open?.lines.push(text);
    });
  return found;
}

/** The one block of `file` in `lang` that contains every `marker`. */
function block(file: string, lang: string, ...markers: string[]): Block {
  const matches = blocks(file).filter((b) => b.lang === lang && markers.every((m) => b.code.includes(m)));
  if (matches.length !== 1) throw new Error(`${file}: ${matches.length} \`\`\`${lang} blocks contain ${markers.join(' and ')} (want 1)`);
  return matches[0];
}

/** Code without comments and blank lines, for comparing a README's block with a file. */
const codeOnly = (text: string) =>
  text
    .split('\n')
    .map((l) => l.replace(/\s*\/\/.*$/, '').trimEnd())
    .filter((l) => l.trim() !== '')
    .join('\n');

async function main(): Promise<void> {
  const { check, skip, finish } = createChecks();
  fs.rmSync(SCRATCH, { recursive: true, force: true });
  fs.mkdirSync(APP, { recursive: true });
  let tarball = '';
  let shipped: string[] = [];

  await check('npm pack (runs the build)', async () => {
    tarball = await packKit(SCRATCH);
    const { stdout } = await run('tar', ['-tzf', tarball], SCRATCH);
    shipped = stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    return rel(tarball);
  });

  for (const file of READMES) {
    await check(`${file}: every relative link names a file the tarball ships`, async () => {
      if (!shipped.includes(file)) throw new Error(`${file} is not in the tarball (package.json "files")`);
      const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
      const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((href) => !/^(https?:|mailto:|#)/.test(href));
      const dead = links.filter((href) => !shipped.includes(path.posix.normalize(href.split('#')[0])));
      if (dead.length) throw new Error(`links to files the tarball lacks: ${dead.join(', ')}`);
      return `${links.length} relative links, all shipped`;
    });
    await check(`${file}: the server example is examples/server/server.js, code for code`, async () => {
      const readme = block(file, 'js', 'wxLogin', 'app.listen');
      const example = fs.readFileSync(path.join(ROOT, 'examples/server/server.js'), 'utf8');
      if (codeOnly(readme.code) !== codeOnly(example)) {
        const a = codeOnly(readme.code).split('\n');
        const b = codeOnly(example).split('\n');
        const i = a.findIndex((l, k) => l !== b[k]);
        throw new Error(`line ${readme.line + 1}+: the README has\n  ${a[i]}\nwhere the example has\n  ${b[i]}`);
      }
    });
  }

  const installed =
    tarball !== '' &&
    (await check(
      'scratch project: the packed kit, fastify, typescript, miniprogram-api-typings',
      async () => {
        const example = readJson(path.join(ROOT, 'examples/server/package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
        const own = readJson(path.join(ROOT, 'package.json')) as { devDependencies: Record<string, string> };
        writeJson(path.join(APP, 'package.json'), {
          private: true,
          type: 'module',
          dependencies: { [KIT]: `file:${tarball}`, fastify: example.dependencies.fastify },
          devDependencies: { ...example.devDependencies, 'miniprogram-api-typings': own.devDependencies['miniprogram-api-typings'] },
        });
        await run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], APP, INSTALL_TIMEOUT_MS);
        return `${KIT} ${readJson(path.join(APP, 'node_modules', KIT, 'package.json')).version}`;
      },
      INSTALL_TIMEOUT_MS,
    ));

  for (const file of READMES) {
    const name = `${file}: "Test your server" passes with node --test, as pasted`;
    if (!installed) {
      skip(name, 'not installed');
      continue;
    }
    await check(name, async () => {
      const test = path.join(APP, `server.${path.basename(file, '.md')}.test.mjs`);
      fs.writeFileSync(test, block(file, 'js', 'startWechatEmulator', 'node:test').code);
      const { stdout } = await run(process.execPath, ['--test', test], APP);
      const passed = /^# pass (\d+)/m.exec(stdout)?.[1];
      if (!passed || passed === '0') throw new Error(`node --test ran no test:\n${stdout}`);
      return `${passed} passed`;
    });

    await check(`${file}: the mini program snippets type-check against the package (tsc --strict)`, async () => {
      const dir = path.join(APP, `miniprogram-${path.basename(file, '.md')}`);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(path.join(dir, 'pages/index'), { recursive: true });
      const [auth, app] = block(file, 'ts', "createAuth({ baseURL: 'https://api.example.com' })").code.split(/^(?=\/\/ app\.ts)/m);
      fs.writeFileSync(path.join(dir, 'auth.ts'), auth);
      fs.writeFileSync(path.join(dir, 'app.ts'), app);
      fs.writeFileSync(path.join(dir, 'pages/index/index.ts'), block(file, 'ts', 'Page({', 'auth.request').code);
      // The upload snippet is the body of a page method: `this` is the page, avatarUrl a chosen file.
      const upload = block(file, 'ts', 'auth.uploadFile').code;
      fs.writeFileSync(
        path.join(dir, 'pages/index/upload.ts'),
        `import { auth } from '../../auth';\ndeclare const avatarUrl: string;\nPage({\n  data: { progress: 0 },\n  async onChooseAvatar() {\n${upload}    return file;\n  },\n});\n`,
      );
      writeJson(path.join(dir, 'tsconfig.json'), {
        compilerOptions: { strict: true, noEmit: true, target: 'es2020', module: 'commonjs', moduleResolution: 'node', lib: ['es2020'], types: ['miniprogram-api-typings'], typeRoots: ['../node_modules'] },
        include: ['**/*.ts'],
      });
      await run(process.execPath, [path.join(APP, 'node_modules/typescript/bin/tsc'), '-p', dir], dir);
      return 'auth.ts, app.ts, a page, an upload';
    });
  }

  console.log(`scratch: ${rel(SCRATCH)}`);
  finish();
}

void main();

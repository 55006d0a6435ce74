/**
 * What `npm run check:wechat` and `npm run check:examples` share: a runner of named checks that
 * prints one ✔/✖ line each and `N passed, M failed` at the end, a child-process runner, and
 * WeChat's own tooling (miniprogram-ci) run offline: compile a project as "上传" does, then
 * analyse the result for unresolved requires, pages and components.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pc from 'picocolors';

export const ROOT = path.resolve(__dirname, '..');
export const STEP_TIMEOUT_MS = 120_000;
export const rel = (file: string) => path.relative(ROOT, file);

export type Json = Record<string, unknown>;
export const readJson = (file: string): Json => JSON.parse(fs.readFileSync(file, 'utf8')) as Json;
export const writeJson = (file: string, value: unknown) => fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);

/** Runs fn with stdout/stderr captured (tools log freely; we show it only on failure), with a time limit. */
export async function quietly<T>(fn: () => Promise<T>, timeoutMs = STEP_TIMEOUT_MS): Promise<{ value?: T; error?: unknown; output: string }> {
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture = ((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = capture;
  process.stderr.write = capture;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    return { value: await Promise.race([fn(), timeout]), output: chunks.join('') };
  } catch (error) {
    return { error, output: chunks.join('') };
  } finally {
    clearTimeout(timer);
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

function indent(text: string, max = 25): string {
  const lines = text.split(ROOT + path.sep).join('').trim().split('\n');
  const shown = lines.length > max ? [...lines.slice(0, max), `… ${lines.length - max} more lines`] : lines;
  return shown.map((l) => `    ${l}`).join('\n');
}

/** A tally of named checks. */
export function createChecks() {
  const counts = { passed: 0, failed: 0 };
  return {
    counts,
    /**
     * One named check. `run` throws to fail (its message is what the tool said) and may return a
     * short note. Returns whether it passed, so that later steps that need its output can skip.
     */
    async check(name: string, run: () => Promise<string | void>, timeoutMs?: number): Promise<boolean> {
      const started = Date.now();
      const { value, error, output } = await quietly(run, timeoutMs);
      const took = pc.dim(`${((Date.now() - started) / 1000).toFixed(1)} s`);
      if (error === undefined) {
        counts.passed++;
        console.log(`${pc.green('✔')} ${name}${value ? pc.dim(` (${value})`) : ''} ${took}`);
        return true;
      }
      counts.failed++;
      console.log(`${pc.red('✖')} ${name} ${took}`);
      console.log(pc.red(indent(error instanceof Error ? error.message : String(error))));
      // The tool's own log, when the error alone says little (miniprogram-ci logs the details).
      const log = output.split('\n').filter((l) => /error|fail|err:/i.test(l) && !/getwhiteextlist|white ext list/.test(l));
      if (log.length) console.log(pc.dim(indent(log.join('\n'), 10)));
      return false;
    },
    skip(name: string, because: string): void {
      console.log(`${pc.yellow('-')} ${name} ${pc.dim(`(skipped: ${because})`)}`);
    },
    /** Prints `N passed, M failed` and exits 1 if anything failed (miniprogram-ci leaves handles open). */
    finish(): never {
      console.log(`${counts.passed} passed, ${counts.failed} failed`);
      process.exit(counts.failed ? 1 : 0);
    },
  };
}

/** Runs a program; rejects with both streams (npm prints the prepack build's errors on stdout). */
export function run(file: string, args: string[], cwd: string, timeoutMs = STEP_TIMEOUT_MS, env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: env ?? process.env }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${path.basename(file)} ${args.join(' ')} exited ${error.code ?? error.signal}\n${stdout}\n${stderr}`.replace(/\n+/g, '\n').trim()));
      else resolve({ stdout, stderr });
    });
  });
}

/**
 * Loads `specifier` from a Node project in `dir` both as ES module (`import()`) and as CommonJS
 * (`require`); returns its export names, and throws unless both give the same ones, `expected` among them.
 */
export async function importAndRequire(dir: string, specifier: string, expected: string): Promise<string[]> {
  const script = `import { createRequire } from 'node:module';
const esm = await import('${specifier}');
const cjs = createRequire(process.cwd() + '/')('${specifier}');
console.log(JSON.stringify([Object.keys(esm).sort(), Object.keys(cjs).sort()]));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], dir);
  const [esm, cjs] = JSON.parse(stdout) as [string[], string[]];
  if (esm.join() !== cjs.join() || !esm.includes(expected)) throw new Error(`import() gave ${esm.join(', ')}; require() gave ${cjs.join(', ')}`);
  return esm;
}

/** `npm pack` of the kit into `dir` (runs `prepack`, i.e. the build); returns the tarball's path. */
export async function packKit(dir: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], ROOT);
  const tarball = path.join(dir, stdout.trim().split('\n').pop()!);
  if (!fs.existsSync(tarball)) throw new Error(`npm pack printed ${stdout}, but ${rel(tarball)} does not exist`);
  return tarball;
}

// ---------------------------------------------------------------------------------------------
// miniprogram-ci, offline

export type CI = typeof import('miniprogram-ci');
let ci: CI | undefined;

/**
 * miniprogram-ci, loaded quietly (requiring it logs "[miniprogram-builder] initservices CI") and
 * made offline: any request to WeChat's servers fails at once (connection refused) instead of
 * hanging. The one call it still makes (the upload file-extension whitelist) falls back to a
 * built-in list.
 */
export async function loadCi(): Promise<CI> {
  if (!ci) {
    await quietly(async () => {
      ci = (require as unknown as NodeJS.Require)('miniprogram-ci') as CI;
      ci.proxy('http://127.0.0.1:9');
    });
    // miniprogram-ci forks plain-JS compiler processes, which inherit execArgv: without this they
    // would load tsx, which then looks for tsconfig.run.json in their cwd and exits with code 1.
    process.execArgv = process.execArgv.filter((arg, i, all) => !/[/\\]tsx[/\\]/.test(arg) && !/[/\\]tsx[/\\]/.test(all[i + 1] ?? ''));
  }
  return ci!;
}

/** A miniprogram-ci project that never asks WeChat's servers for the app's attributes. */
export function ciProject(projectPath: string, appid = 'touristappid'): InstanceType<CI['Project']> {
  return new ci!.Project({
    appid,
    type: 'miniProgram',
    projectPath,
    privateKey: 'offline', // never used offline; an empty key makes miniprogram-ci read privateKeyPath
    ignores: ['node_modules/**/*'],
    // Without `attr`, miniprogram-ci fetches the app's attributes from WeChat's servers.
    attr: async () => ci!.DefaultProjectAttr,
  } as ConstructorParameters<CI['Project']>[0]); // `attr` is read at runtime but missing from the typings
}

/**
 * miniprogram-ci `getCompiledResult`, what "上传" compiles (JSON, JS, WXML with minifyWXML, WXSS),
 * written to `outDir`. minifyWXML parses the WXML: without it a mismatched end tag compiles.
 */
export async function compileProject(projectPath: string, outDir: string, appid?: string): Promise<string> {
  const files = await ci!.getCompiledResult({
    project: ciProject(projectPath, appid),
    version: '0.0.0', // required by the typings, unused: nothing is uploaded
    setting: { es6: true, minifyWXML: true, minifyWXSS: true, minifyJS: false, autoPrefixWXSS: true },
  });
  fs.rmSync(outDir, { recursive: true, force: true });
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(outDir, name)), { recursive: true });
    fs.writeFileSync(path.join(outDir, name), content);
  }
  return `${Object.keys(files).length} files → ${rel(outDir)}`;
}

/** miniprogram-ci `analyseCode` on compiled output: throws on any unresolved require, page or component. */
export async function analyse(compiledDir: string, appid?: string): Promise<string> {
  const result = await ci!.analyseCode(ciProject(compiledDir, appid), { silent: true });
  if (!result) throw new Error('analyseCode returned nothing');
  const problems: string[] = [];
  for (const m of result.modules) {
    if (m.buildError) problems.push(`${m.path}: ${m.buildError}`);
    for (const e of m.errors ?? []) problems.push(`${m.path}: ${e}`);
    // Optional rule-based deps (e.g. functional-pages/) resolve to nothing without an error.
    for (const d of m.deps) if (d.error) problems.push(d.error);
  }
  if (problems.length) throw new Error(problems.join('\n'));
  return `${result.modules.length} modules, ${result.files.length} files`;
}

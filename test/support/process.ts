/**
 * A child process that tests and checks wait on: its output collected, ready once that output
 * matches a pattern, stopped by a signal. Used for redis-server (./redis), the server processes
 * of test/server/multi-instance.test.ts and the example server of scripts/check-server.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface StartedProcess {
  proc: ChildProcess;
  /** What it printed so far, stdout and stderr. */
  output(): string;
  /** The match of `ready` in its output. */
  match: RegExpExecArray;
  /** Sends `signal` and resolves once it has exited (at once if it already had). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Matched against all of the output so far, so a line split across chunks still matches. */
  ready: RegExp;
  /** How errors name it, e.g. 'redis-server'. */
  name: string;
}

/** Starts `file args`; resolves once its output matches `ready`, rejects if it fails to start or exits first. */
export function startProcess(file: string, args: string[], opts: StartOptions): Promise<StartedProcess> {
  const proc = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
  };
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = opts.ready.exec(output);
      if (match) resolve({ proc, output: () => output, match, stop });
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('error', (err) => reject(new Error(`${opts.name} could not start (${err.message})`)));
    proc.once('exit', (code, signal) => reject(new Error(`${opts.name} exited (${signal ?? code}) before it was ready:\n${output.slice(-2000)}`)));
  });
}

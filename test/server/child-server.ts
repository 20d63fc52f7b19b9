import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** The package's bin, as a user runs it. */
export const BIN = resolve(import.meta.dirname, '../../bin/chronicle-server.mjs');

export interface ChildServer {
  url: string;
  process: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** True while the process runs. */
  alive(): boolean;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL. */
  kill(): Promise<void>;
}

const children = new Set<ChildProcess>();

/** Kills every child still running (for afterAll). */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

/**
 * Starts `chronicle-server` (or another entry, e.g. an older version's bin) as
 * a child process and waits until it says it listens.
 */
export function startChildServer(args: string[], options: { bin?: string; env?: Record<string, string> } = {}): Promise<ChildServer> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [options.bin ?? BIN, '--port', '0', '--rate', '0', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    children.add(child);
    let output = '';
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const onData = (data: Buffer): void => {
      output += data.toString();
      const m = /listening on (http:\/\/[^\s"]+)/.exec(output);
      if (m) {
        resolvePromise({
          url: m[1]!,
          process: child,
          output: () => output,
          alive: () => child.exitCode === null && child.signalCode === null,
          stop: () => {
            if (child.exitCode !== null || child.signalCode !== null) return exited;
            child.kill('SIGTERM');
            return exited;
          },
          kill: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            await exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      children.delete(child);
      reject(new Error(`chronicle-server exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}

/** Runs `chronicle-server` with `args` to its end (a command such as move-log or migrate): its exit code and everything it wrote. */
export function runCli(args: string[], options: { env?: Record<string, string> } = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    children.add(child);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      children.delete(child);
      resolvePromise({ code, output });
    });
  });
}

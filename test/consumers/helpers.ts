/**
 * Shared by the consumer suites: run a fixture's script in the fixture app, serve
 * a built app, and open a page in Chromium to read what the app reported.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../setup/chromium.ts';

const exec = promisify(execFile);

/** Runs `node <script>` in the fixture app; resolves with stdout, rejects with stdout and stderr. */
export async function node(app: string, script: string, timeout = 120_000): Promise<string> {
  try {
    const { stdout } = await exec(process.execPath, [script], { cwd: app, timeout, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`node ${script} failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/** The last line of a script's output, parsed as JSON. */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

/** A static file server for a built app on a free loopback port. */
export async function serveDir(root: string, headers: Record<string, string> = {}): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    void (async () => {
      const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
      const file = join(root, path.endsWith('/') ? `${path}index.html` : path);
      if (!file.startsWith(root)) return void response.writeHead(403).end();
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) return void response.writeHead(404).end('not found');
      response.writeHead(200, { ...headers, 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
      createReadStream(file).pipe(response);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Starts a long-running fixture script that prints `URL <address>`; resolves once it has. */
export function startServer(app: string, script: string): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [script], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} printed no URL in 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /URL (\S+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        url: match[1]!,
        child,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
          }),
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before printing a URL:\n${output}`));
    });
  });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

export interface PageReport {
  result: Record<string, unknown>;
  /** Messages the page logged as errors (other than failed loads), and its uncaught exceptions. */
  errors: string[];
  /** Requests answered with 4xx/5xx or not at all, as `status url` (the browser's own favicon probe left out). */
  failedRequests: string[];
  /** Requests the page made for a worker script (URL and status). */
  workerScripts: string[];
}

/** Opens `url` in a fresh context and waits for the app's `window.__result`. */
export async function visit(
  browser: Browser,
  url: string,
  readyWhen = 'window.__result !== undefined',
): Promise<PageReport & { close(): Promise<void>; page: import('playwright-core').Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  const failedRequests: string[] = [];
  const workerScripts: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) errors.push(message.text());
  });
  page.on('requestfailed', (request) => failedRequests.push(`failed ${request.url()}`));
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('response', (response) => {
    if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) failedRequests.push(`${response.status()} ${response.url()}`);
    if (response.request().resourceType() === 'script' && /worker/i.test(response.url()))
      workerScripts.push(`${response.status()} ${response.url()}`);
  });
  page.on('worker', (worker) => workerScripts.push(`worker ${worker.url()}`));
  await page.goto(url);
  await page.waitForFunction(readyWhen, undefined, { timeout: 60_000 });
  const result = (await page.evaluate('window.__result')) as Record<string, unknown>;
  return { result, errors, failedRequests, workerScripts, page, close: () => context.close() };
}

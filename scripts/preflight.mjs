#!/usr/bin/env node
// Run by `npm test` before anything else: finds what the suites need, installs
// Chromium where it can (as .ci/run does), and otherwise says in one line what
// is missing and how to get it.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { connect } from 'node:net';

const fail = (line) => {
  console.error(`npm test: ${line}`);
  process.exit(1);
};

if (!existsSync(new URL('../node_modules/vitest/package.json', import.meta.url)))
  fail('dependencies are not installed: run `npm ci` first.');

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!executable(chromium)) {
  if (process.env.CHROMIUM_PATH)
    fail(`CHROMIUM_PATH=${chromium} is not an executable; point it at Chromium, or unset it to use /usr/bin/chromium.`);
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt)
    fail('Chromium is missing: install it (Debian/Ubuntu: `sudo apt-get install chromium`) or set CHROMIUM_PATH to a Chromium binary.');
  console.log('npm test: Chromium is missing; installing the Debian chromium package (apt-get)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
  } catch {
    fail('could not install Chromium with apt-get; install it yourself or set CHROMIUM_PATH.');
  }
  if (!executable(chromium)) fail(`apt-get ran, but ${chromium} is still missing; set CHROMIUM_PATH.`);
}

// PostgreSQL: its suites skip with a notice where none answers, except in CI.
const answers = await new Promise((resolve) => {
  const socket = connect({ host: '127.0.0.1', port: 5432 });
  const done = (ok) => {
    socket.destroy();
    resolve(ok);
  };
  socket.setTimeout(1_000, () => done(false));
  socket.once('connect', () => done(true));
  socket.once('error', () => done(false));
});
if (!answers) {
  if (process.env.CI === 'true')
    fail('PostgreSQL does not answer on 127.0.0.1:5432, and CI=true requires it (start it, e.g. `pg_ctlcluster 15 main start`).');
  console.warn('npm test: notice: PostgreSQL does not answer on 127.0.0.1:5432; its suites will be skipped (CI=true makes this an error).');
}

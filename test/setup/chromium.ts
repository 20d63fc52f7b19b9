/**
 * The system Chromium every browser suite, the e2e and consumer suites and the
 * bench drive: `CHROMIUM_PATH` when set, else Debian's /usr/bin/chromium
 * (`apt-get install chromium`; scripts/preflight.mjs finds or installs it).
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless flags for this machine class: no sandbox as root, no GPU, no calls home. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

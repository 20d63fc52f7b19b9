#!/usr/bin/env node
// `npm run demo`: the sync server (embedded PGlite in ./chronicle-data) and the
// demo app (Vite dev server), both on 127.0.0.1. Ctrl-C stops both.
//
//   npm run demo -- --port 5173 --sync-port 8787 --data ./chronicle-data
//   npm run demo -- --temp          # a throwaway log in a temporary directory
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { register } from 'tsx/esm/api';

register();
const { startDemo } = await import('./server.ts');

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '5173' },
    'sync-port': { type: 'string', default: process.env.SYNC_PORT ?? '8787' },
    host: { type: 'string', default: '127.0.0.1' },
    data: { type: 'string', default: './chronicle-data' },
    temp: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(`npm run demo -- [--port 5173] [--sync-port 8787] [--host 127.0.0.1] [--data ./chronicle-data | --temp]`);
  process.exit(0);
}

const demo = await startDemo({
  host: args.host,
  port: Number(args.port),
  syncPort: Number(args['sync-port']),
  ...(args.temp ? {} : { dataDir: resolve(args.data) }),
}).catch((error) => {
  console.error(`demo: could not start: ${error instanceof Error ? error.message : String(error)}`);
  if (/EADDRINUSE/.test(String(error))) console.error('demo: a port is taken; pass --port / --sync-port (0 picks a free one).');
  process.exit(1);
});

const second = new URL(demo.appUrl);
second.searchParams.set('device', 'b');
console.log(`
  Chronicle order-entry demo

  App:          ${demo.appUrl}
  2nd device:   ${second.href}   (its own local store, same server log)
  Sync server:  ${demo.syncUrl}   (log "${demo.config.log}", data in ${demo.dataDir})

  Open the app in two tabs or browsers, switch one offline, edit the same order, switch back.
  Ctrl-C stops both servers.
`);

let stopping = false;
const stop = async (signal) => {
  if (stopping) {
    console.log(`\n${signal} again: exiting now`);
    process.exit(130);
  }
  stopping = true;
  console.log(`\n${signal}: stopping the app and the sync server…`);
  await demo.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

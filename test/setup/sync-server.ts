import type { TestProject } from 'vitest/node';
import { createPgliteStore, createSyncServer, silentLogger } from '../../src/server/index.ts';
import { startStrictCorsGateway } from './strict-cors-gateway.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of a sync server (embedded PGlite store) that browser suites can reach. */
    syncUrl: string;
    /** The same server behind a gateway whose CORS preflights allow only authorization and content-type. */
    strictCorsUrl: string;
  }
}

/** Global setup for the browser project: a real sync server in Node for the suites running in Chromium. */
export default async function setup(project: TestProject) {
  const store = await createPgliteStore();
  const server = createSyncServer({ store, logger: silentLogger, auth: { tokens: { 'browser-token': { read: ['*'], write: ['*'] } } } });
  const address = await server.listen(0);
  project.provide('syncUrl', address.url);
  const gateway = await startStrictCorsGateway(address.url, 'authorization, content-type');
  project.provide('strictCorsUrl', gateway.url);
  return async () => {
    await gateway.close();
    await server.close();
  };
}

/**
 * Serves the demo: a Chronicle sync server on its embedded PGlite store, and
 * a Vite dev server for the app. `npm run demo` (demo/serve.mjs) and the
 * end-to-end tests both start it through `startDemo`.
 *
 * The app learns where the sync server is from GET /config.json, answered by
 * a small Vite middleware below.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, defaultClientConditions, type Plugin, type ViteDevServer } from 'vite';
import { consoleLogger, createPgliteStore, createSyncServer, silentLogger, type SyncServer } from 'chronicle/server';
import { historyIdOf, holdsData } from './history-id.ts';
import { Order } from './src/model.ts';

export interface DemoOptions {
  /** Interface both servers listen on; default 127.0.0.1. */
  host?: string;
  /** The app's port; 0 picks a free one. Default 5173. */
  port?: number;
  /** The sync server's port; 0 picks a free one. Default 8787. */
  syncPort?: number;
  /** Where the sync server keeps its log (embedded PGlite). Omit for a temporary directory removed on close. */
  dataDir?: string;
  /** The log (tenant) the app syncs; default "demo". */
  log?: string;
  /** Vite's dependency cache; default node_modules/.vite/demo. */
  cacheDir?: string;
  /** Print server and Vite logs (default true). */
  verbose?: boolean;
}

export interface DemoServer {
  /** The app, e.g. http://127.0.0.1:5173/ */
  appUrl: string;
  /** The sync server, e.g. http://127.0.0.1:8787 */
  syncUrl: string;
  dataDir: string;
  /** What the app reads from /config.json. */
  config: DemoConfig;
  close(): Promise<void>;
}

export interface DemoConfig {
  syncUrl: string;
  log: string;
  token: string;
  /**
   * The server's data directory's own id: a new one (`--temp`, or a deleted
   * ./chronicle-data) holds a new history, so the app opens a new local store
   * for it rather than meet it with the old one's (which the sync would
   * refuse: SYNC_SERVER_BEHIND).
   */
  history: string;
}

const demoRoot = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** A random bearer token per run: the demo server still authenticates every request. */
const randomToken = () => `demo-${crypto.randomUUID()}`;

function configPlugin(config: DemoConfig): Plugin {
  return {
    name: 'chronicle-demo-config',
    configureServer(server) {
      server.middlewares.use('/config.json', (_request, response) => {
        response.setHeader('content-type', 'application/json; charset=utf-8');
        response.setHeader('cache-control', 'no-store');
        response.end(JSON.stringify(config));
      });
    },
  };
}

export async function startDemo(options: DemoOptions = {}): Promise<DemoServer> {
  const host = options.host ?? '127.0.0.1';
  const verbose = options.verbose ?? true;
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'chronicle-demo-')));
  const token = randomToken();
  const log = options.log ?? 'demo';

  let sync: SyncServer | undefined;
  let vite: ViteDevServer | undefined;
  let http: Server | undefined;
  const close = async () => {
    if (http?.listening) {
      const closed = new Promise<void>((resolve) => http!.close(() => resolve()));
      http.closeAllConnections();
      await closed;
    }
    await vite?.close().catch(() => undefined);
    await sync?.close().catch(() => undefined);
    if (temporary) await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
  };

  try {
    const heldDataBefore = await holdsData(dataDir);
    const store = await createPgliteStore({ dataDir });
    sync = createSyncServer({
      store,
      auth: { tokens: { [token]: { read: [log], write: [log] } } },
      logger: verbose ? consoleLogger : silentLogger,
      // The app's own rules on every pushed event: a client that skips them gets 422, not a place in the log.
      checkEvents: { aggregates: [Order] },
      // Requests from a tab that went away must not hold up Ctrl-C.
      shutdownTimeoutMs: 2_000,
    });
    const address = await sync.listen(options.syncPort ?? 8787, host);
    const config: DemoConfig = { syncUrl: address.url, log, token, history: await historyIdOf(dataDir, heldDataBefore) };

    // Vite as middleware on our own HTTP server: port 0 then really means "any free port".
    const server = (http = createHttpServer());
    vite = await createServer({
      configFile: false,
      root: demoRoot,
      appType: 'spa',
      cacheDir: options.cacheDir ?? join(repoRoot, 'node_modules/.vite/demo'),
      logLevel: verbose ? 'info' : 'error',
      clearScreen: false,
      server: {
        middlewareMode: true,
        hmr: { server },
        fs: { allow: [repoRoot] },
      },
      // TSX without a plugin: esbuild's automatic runtime (react/jsx-runtime).
      esbuild: { jsx: 'automatic' },
      // The package's `chronicle-source` export condition: the demo runs on the
      // TypeScript source (no build step), through the same entry points an app uses.
      resolve: { conditions: ['chronicle-source', ...defaultClientConditions] },
      worker: { format: 'es' },
      optimizeDeps: {
        entries: ['index.html'],
        // The engine's Web Worker is not scanned for dependencies: list them, so
        // Vite does not discover them on first use and reload the page.
        include: ['idb', 'comlink', 'zod', 'react', 'react-dom', 'react-dom/client', 'react/jsx-runtime', 'react/jsx-dev-runtime'],
      },
      plugins: [configPlugin(config)],
    });
    server.on('request', vite.middlewares);
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 5173, host, () => {
        server.off('error', reject);
        resolve((server.address() as { port: number }).port);
      });
    });
    const appUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
    return { appUrl, syncUrl: address.url, dataDir, config, close };
  } catch (error) {
    await close();
    throw error;
  }
}

import { ConfigError } from '../core/errors.ts';

/**
 * The server's drivers (pg, @electric-sql/pglite, ws, prom-client) are optional
 * peer dependencies: an app installs only the ones it runs, and
 * `import('chronicle/server')` works with none of them. So nothing here imports
 * a driver at the top of a module; each is loaded where it is first needed,
 * through this function, and a missing one becomes a ConfigError that says
 * which package to install.
 */

/** Loads a module; `() => import('pg')` in production, anything in tests. */
export type PeerImporter<T> = () => Promise<T>;

/** True when `error` says that `pkg` itself could not be found (not one of its own imports failing). */
function isMissing(error: unknown, pkg: string): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND' && !/Cannot find (package|module)/.test(message)) return false;
  return message.includes(`'${pkg}'`) || message.includes(`"${pkg}"`) || message.includes(` ${pkg} `) || message.endsWith(pkg);
}

/**
 * Loads the optional peer `pkg` for `neededBy` (the API that wants it, as the
 * user called it). Throws ConfigError("createPostgresStore needs the "pg"
 * package: npm install pg") when it is not installed; other failures pass
 * through unchanged.
 */
export async function loadPeer<T>(pkg: string, neededBy: string, importer: PeerImporter<T>): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    if (!isMissing(error, pkg)) throw error;
    throw new ConfigError(`${neededBy} needs the "${pkg}" package: npm install ${pkg}`, { package: pkg, neededBy });
  }
}

/** Default-export interop: `import('pg')` gives `{ default: pg }` in ESM, the namespace itself in some bundlers. */
export function defaultExport<T>(module: T | { default: T }): T {
  const withDefault = module as { default?: T };
  return withDefault.default ?? (module as T);
}

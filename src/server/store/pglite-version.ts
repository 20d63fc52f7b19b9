import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../core/errors.ts';

/**
 * Why PGlite could not open a data directory, when the reason is PostgreSQL's
 * major version. PostgreSQL reads only data directories of its own major
 * version, and each PGlite release line runs one (0.5: PostgreSQL 18; 0.6:
 * 19). Asked to open another's, PGlite says only "PGlite failed to initialize
 * properly" and leaves the directory as it was; a server upgraded or
 * downgraded past a PGlite line would not say what is wrong.
 */

/** The major version in a PG_VERSION file's text ("18\n"), or undefined when it holds anything else. Pure. */
export function parseMajorVersion(text: string | undefined): number | undefined {
  const match = /^\s*(\d{1,4})\s*$/.exec(text ?? '');
  return match ? Number(match[1]) : undefined;
}

/** The major version in PostgreSQL's server_version_num ("180006": 18), or undefined for anything else. Pure. */
export function majorOfVersionNum(versionNum: unknown): number | undefined {
  const num = typeof versionNum === 'string' && /^\d{5,8}$/.test(versionNum) ? Number(versionNum) : NaN;
  return Number.isFinite(num) ? Math.floor(num / 10000) : undefined;
}

/** The refusal for a data directory made by PostgreSQL `madeBy` that a PGlite running PostgreSQL `runs` cannot open. Pure. */
export function versionMismatchError(dataDir: string, madeBy: number, runs: number): ConfigError {
  return new ConfigError(
    `The data directory ${dataDir} was made by PostgreSQL ${madeBy}, and the installed @electric-sql/pglite runs ` +
      `PostgreSQL ${runs}, which cannot open it (PostgreSQL reads only its own major version's data; the ` +
      `directory is left as it was). Install the @electric-sql/pglite release that made it ` +
      `(Chronicle supports ^0.5.16, PostgreSQL 18), or start with an empty --data directory`,
    { dataDir, madeByPostgres: madeBy, pglitePostgres: runs },
  );
}

/** What the in-memory probe needs of PGlite: create one, ask, close. */
interface ProbeDatabase {
  query<R>(text: string): Promise<{ rows: R[] }>;
  close(): Promise<void>;
}

/**
 * After PGlite failed to open `<dataDir>/pgdata`: the version refusal when
 * the directory's PostgreSQL major is not the one this PGlite runs, else
 * undefined (the failure was something else). Costs an in-memory PGlite for
 * the comparison, on this failure path only.
 */
export async function explainOpenFailure(
  dataDir: string,
  pgdata: string,
  createInMemory: () => Promise<ProbeDatabase>,
): Promise<ConfigError | undefined> {
  const madeBy = parseMajorVersion(await readFile(join(pgdata, 'PG_VERSION'), 'utf8').catch(() => undefined));
  if (madeBy === undefined) return undefined;
  let runs: number | undefined;
  try {
    const probe = await createInMemory();
    try {
      runs = majorOfVersionNum((await probe.query<{ server_version_num: unknown }>('SHOW server_version_num')).rows[0]?.server_version_num);
    } finally {
      await probe.close().catch(() => undefined);
    }
  } catch {
    return undefined; // PGlite does not start at all: not a matter of the directory's version
  }
  return runs !== undefined && runs !== madeBy ? versionMismatchError(dataDir, madeBy, runs) : undefined;
}

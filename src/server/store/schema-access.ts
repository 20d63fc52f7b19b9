import type { SqlDriver, SqlExecutor } from './sql-driver.ts';

/**
 * What a server's database role must be able to do with Chronicle's tables,
 * apart from the migration itself (schema.ts). A deployment often runs the
 * servers as a role that may only read and write the tables another role
 * owns: a start then creates nothing that exists, and checks up front that it
 * may do what pushes and pulls will ask, rather than fail the first push.
 */

/** The tables and indexes a schema script creates (`CREATE TABLE|INDEX IF NOT EXISTS name`), by name. */
export function schemaObjectNames(sql: string): { tables: string[]; indexes: string[] } {
  const tables: string[] = [];
  const indexes: string[] = [];
  for (const match of sql.matchAll(/CREATE\s+(TABLE|INDEX)\s+IF\s+NOT\s+EXISTS\s+(\w+)/gi)) {
    (match[1]!.toUpperCase() === 'TABLE' ? tables : indexes).push(match[2]!);
  }
  return { tables, indexes };
}

/** Which of `names` the database lacks (to_regclass follows the search path, as the schema's statements do). */
export async function missingObjects(tx: SqlExecutor, names: readonly string[]): Promise<string[]> {
  const rows = await tx.query<{ name: string }>(`SELECT n AS name FROM unnest($1::text[]) AS n WHERE to_regclass(n) IS NULL`, [names]);
  return rows.map((row) => row.name);
}

/** Every table's privileges a server uses; the schema-version table is only read outside a migration. */
const DATA_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;

/** Per table, the privileges the current role lacks of those a server uses (none listed: it has them all). */
export async function missingPrivileges(
  tx: SqlExecutor,
  dataTables: readonly string[],
  readTables: readonly string[],
): Promise<Map<string, string[]>> {
  const rows = await tx.query<{ table_name: string; privilege: string }>(
    `SELECT w.table_name, w.privilege
       FROM (SELECT t, p FROM unnest($1::text[]) AS t, unnest($2::text[]) AS p
             UNION ALL SELECT t, 'SELECT' FROM unnest($3::text[]) AS t) AS w(table_name, privilege)
      WHERE to_regclass(w.table_name) IS NOT NULL AND NOT has_table_privilege(to_regclass(w.table_name), w.privilege)`,
    [dataTables, DATA_PRIVILEGES, readTables],
  );
  const missing = new Map<string, string[]>();
  for (const { table_name, privilege } of rows) missing.set(table_name, [...(missing.get(table_name) ?? []), privilege]);
  return missing;
}

/** The error of a role that lacks some of them: which, and the GRANT that gives them. */
export function privilegesError(role: string, missing: ReadonlyMap<string, readonly string[]>): Error {
  const lacks = [...missing].map(([table, privileges]) => `${privileges.join(', ')} on ${table}`).join('; ');
  const tables = [...missing.keys()].join(', ');
  return new Error(
    `Role "${role}" lacks privileges a Chronicle server needs: ${lacks}. As the tables' owner: ` +
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ${tables} TO "${role}";`,
  );
}

/** insufficient_privilege: the role may not create or alter what a set-up or a migration needs. */
export const NOT_PERMITTED = '42501';

/** The role the driver's connections log in as. */
export async function currentRole(db: SqlExecutor): Promise<string> {
  const rows = await db.query<{ role: string }>('SELECT current_user AS role').catch(() => []);
  return rows[0]?.role ?? 'this role';
}

/** A set-up or migration the role may not run, said so, with what to do. */
export async function notPermitted(driver: SqlDriver, error: unknown, what: string): Promise<Error> {
  const role = await currentRole(driver);
  return new Error(
    `Role "${role}" may not ${what} (${(error as Error).message}). Run \`chronicle-server migrate\` (or start a server ` +
      `once) as the role that owns Chronicle's tables or may create them, then this one: it needs SELECT, INSERT, ` +
      `UPDATE and DELETE on them.`,
    { cause: error },
  );
}

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

/** A table whose privileges fall short: its schema-qualified, quoted name, and what the role lacks on it. */
export interface MissingPrivileges {
  table: string;
  privileges: string[];
}

/**
 * The privileges the current role lacks on the tables, of those a server uses
 * (empty: it has them all). Catalog functions only, so a role with no grant at
 * all gets an answer too. A privilege held on every column (SELECT, INSERT,
 * UPDATE can be granted per column) counts as held.
 */
export async function missingPrivileges(
  tx: SqlExecutor,
  dataTables: readonly string[],
  readTables: readonly string[],
): Promise<MissingPrivileges[]> {
  // Each (table, privilege) wanted, in the order given (data tables first), then the ones the role lacks.
  const rows = await tx.query<{ qualified: string; privilege: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS qualified, w.privilege
       FROM (SELECT t, p, o FROM unnest($1::text[]) WITH ORDINALITY AS u(t, o), unnest($2::text[]) AS p
             UNION ALL SELECT t, 'SELECT', o + 1000 FROM unnest($3::text[]) WITH ORDINALITY AS u(t, o)) AS w(table_name, privilege, o)
       JOIN pg_class c ON c.oid = to_regclass(w.table_name)
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT has_table_privilege(c.oid, w.privilege)
        AND (w.privilege = 'DELETE' OR EXISTS (
              SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                 AND NOT has_column_privilege(c.oid, a.attnum, w.privilege)))
      ORDER BY w.o, array_position($2::text[], w.privilege)`,
    [dataTables, DATA_PRIVILEGES, readTables],
  );
  const byTable = new Map<string, string[]>();
  for (const { qualified, privilege } of rows) byTable.set(qualified, [...(byTable.get(qualified) ?? []), privilege]);
  return [...byTable].map(([table, privileges]) => ({ table, privileges }));
}

/** A role name as an SQL identifier (quoted, its own quotes doubled). */
const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** The error of a role that lacks some of them: which, and the GRANTs (valid SQL) that give them. */
export function privilegesError(role: string, missing: readonly MissingPrivileges[]): Error {
  const lacks = missing.map(({ table, privileges }) => `${privileges.join(', ')} on ${table}`).join('; ');
  const grants = missing.map(({ table, privileges }) => `GRANT ${privileges.join(', ')} ON ${table} TO ${quoteIdent(role)};`).join(' ');
  return new Error(`Role "${role}" lacks privileges a Chronicle server needs: ${lacks}. As the tables' owner: ${grants}`);
}

/** insufficient_privilege: the role may not create or alter what a set-up or a migration needs. */
export const NOT_PERMITTED = '42501';

/** The role the driver's connections log in as: asked, or as configured when no connection answers. */
export async function currentRole(db: SqlExecutor & { readonly role?: string }): Promise<string> {
  const rows = await db.query<{ role: string }>('SELECT current_user AS role').catch(() => []);
  return rows[0]?.role ?? db.role ?? 'this role';
}

/**
 * The message for a role the database refuses a connection (CONNECT revoked
 * from it or from PUBLIC), with the GRANT that gives it back; undefined for
 * any other refusal.
 */
export function connectRefusal(role: string, error: unknown): string | undefined {
  const database = /permission denied for database "?([^"\s]+)"?/.exec((error as Error | null)?.message ?? '')?.[1];
  if (database === undefined) return undefined;
  return (
    `Role "${role}" may not connect to database "${database}" (CONNECT revoked). ` +
    `As its owner: GRANT CONNECT ON DATABASE ${quoteIdent(database)} TO ${quoteIdent(role)};`
  );
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

/**
 * CPU time used while a probe's step runs: PostgreSQL's (every postgres
 * process on this machine, from /proc, so run probes on a quiet database
 * server) and this Node process's (every thread: a server's event loop, its
 * push decoders, the clients' worker). On 2 busy cores a side's rate is about
 * 2 cores / its CPU per event, so these say where a rate goes.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU time of every postgres process, in ms (clock ticks of 10 ms). */
export function postgresCpuMs(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres')) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks * 10;
}

/** A connection to the server's database that can read its WAL position. */
interface WalReader {
  query<R>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

/** The server's WAL insert position, as a number of bytes. */
async function walPosition(db: WalReader): Promise<number> {
  const { rows } = await db.query<{ at: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::text AS at`);
  return Number(rows[0]!.at);
}

/**
 * Runs `fn`; returns its result and the CPU milliseconds PostgreSQL and this
 * process used meanwhile, and with `wal`, the bytes of WAL the server wrote
 * meanwhile (every database of it: run on a quiet server).
 */
export async function measure<T>(
  fn: () => Promise<T>,
  wal?: WalReader,
): Promise<{ result: T; postgresMs: number; nodeMs: number; walBytes?: number }> {
  const wal0 = wal ? await walPosition(wal) : 0;
  const pg0 = postgresCpuMs();
  const node0 = process.cpuUsage();
  const result = await fn();
  const node = process.cpuUsage(node0);
  const measured = { result, postgresMs: postgresCpuMs() - pg0, nodeMs: Math.round((node.user + node.system) / 1000) };
  return wal ? { ...measured, walBytes: (await walPosition(wal)) - wal0 } : measured;
}

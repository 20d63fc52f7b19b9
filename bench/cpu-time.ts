/**
 * CPU time used while a probe's step runs: PostgreSQL's (every postgres
 * process on this machine, from /proc, so run probes on a quiet database
 * server) and this Node process's (every thread: a server's event loop, its
 * push decoders, the clients' worker). On 2 busy cores a side's rate is about
 * 2 cores / its CPU per event, so these say where a rate goes. Two more
 * readings say whether that holds: the event loop's own share of the Node
 * time (the main thread, where a server judges and writes), and the idle
 * time of the machine. A side that leaves the cores idle is bound by waits,
 * not by CPU.
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

/** CPU time of this process's main thread (the event loop), in ms: its tid is the pid. */
export function mainThreadCpuMs(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The machine's idle and busy clock ticks so far, summed over its cores (the first line of /proc/stat). */
function machineTicks(): { idle: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are the time no core had work.
  const total = fields.slice(0, 8).reduce((sum, ticks) => sum + ticks, 0);
  return { idle: fields[3]! + fields[4]!, total };
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

/** What measure() read while its step ran. */
export interface Measurement<T> {
  result: T;
  postgresMs: number;
  nodeMs: number;
  mainThreadMs: number;
  idlePercent: number;
  walBytes?: number;
}

/**
 * Runs `fn`; returns its result and the CPU milliseconds PostgreSQL, this
 * process and its main thread used meanwhile, the share of the machine's
 * time (every core) that was idle, and with `wal`, the bytes of WAL the
 * server wrote meanwhile (every database of it: run on a quiet server).
 */
export async function measure<T>(fn: () => Promise<T>, wal?: WalReader): Promise<Measurement<T>> {
  const wal0 = wal ? await walPosition(wal) : 0;
  const pg0 = postgresCpuMs();
  const node0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const ticks0 = machineTicks();
  const result = await fn();
  const node = process.cpuUsage(node0);
  const ticks = machineTicks();
  const measured: Measurement<T> = {
    result,
    postgresMs: postgresCpuMs() - pg0,
    nodeMs: Math.round((node.user + node.system) / 1000),
    mainThreadMs: mainThreadCpuMs() - main0,
    idlePercent: Math.round((100 * (ticks.idle - ticks0.idle)) / Math.max(1, ticks.total - ticks0.total)),
  };
  return wal ? { ...measured, walBytes: (await walPosition(wal)) - wal0 } : measured;
}

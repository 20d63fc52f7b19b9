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

/** Runs `fn`; returns its result and the CPU milliseconds PostgreSQL and this process used meanwhile. */
export async function measure<T>(fn: () => Promise<T>): Promise<{ result: T; postgresMs: number; nodeMs: number }> {
  const pg0 = postgresCpuMs();
  const node0 = process.cpuUsage();
  const result = await fn();
  const node = process.cpuUsage(node0);
  return { result, postgresMs: postgresCpuMs() - pg0, nodeMs: Math.round((node.user + node.system) / 1000) };
}

import { addOverride } from './shard-map-file.ts';
import { LogMoveError } from './store/log-move.ts';
import type { ShardedLogStore } from './store/sharded.ts';

/**
 * `chronicle-server move-log`, once its flags are read (cli.ts): runs the
 * move with its steps printed, then records where the log went in the shard
 * map (--update-map) or says what to add. Returns the exit code.
 */
export interface MoveLogRun {
  store: ShardedLogStore;
  log: string;
  to: string;
  batchEvents?: number | undefined;
  /** The map file to add the override to (--update-map), if any. */
  updateMap?: string | undefined;
  say(line: string): void;
}

/** Copy progress is printed once per this many events (batches end on page boundaries, so a count rarely lands on one). */
const PROGRESS_EVERY = 50_000;

export async function runMoveLog({ store, log, to, batchEvents, updateMap, say }: MoveLogRun): Promise<number> {
  say(`moving log ${log} to ${to} (now on ${store.shardOf(log)} by the map)`);
  let reported = 0;
  try {
    const report = await store.moveLog(log, to, {
      ...(batchEvents ? { batchEvents } : {}),
      onStep: (step) => {
        if (step.step === 'copying') {
          if (Math.floor(step.copied / PROGRESS_EVERY) === Math.floor(reported / PROGRESS_EVERY) && step.copied !== step.head) return;
          reported = step.copied;
        }
        say(`  ${JSON.stringify(step)}`);
      },
    });
    const empty = report.head === 0 ? ' (it holds no events: a log not written yet, or a misspelled name?)' : '';
    say(
      `moved log ${log} from ${report.from} to ${report.to}: ${report.head} events, ${report.clients} clients, ${report.chunks} checksums equal, ${report.ms} ms${report.resumed ? ' (resumed)' : ''}${empty}`,
    );
    say(JSON.stringify(report));
  } catch (error) {
    if (!(error instanceof LogMoveError)) throw error;
    if (error.details.reason !== 'already-there') {
      console.error(`chronicle-server move-log: ${error.message}\n${JSON.stringify(error.details)}`);
      return 1;
    }
    // Run again after a move that stopped before the map was updated: only that step is left.
    say(`log ${log} is already on ${to}: nothing to move`);
  }
  if (updateMap) {
    await addOverride(updateMap, log, to);
    say(`${updateMap}: override ${log} -> ${to} added; send the servers SIGHUP (or restart them) to route it there directly`);
  } else {
    say(`add "${log}": "${to}" to the overrides of every server's shard map (servers that lack it follow the tombstone meanwhile)`);
  }
  return 0;
}

import { ChronicleError } from '../../src/core/errors.ts';
import type { PullPage } from './transport.ts';

/**
 * Does the server still hold the history this client has confirmed? A
 * server restored from an older backup, or a client pointed at another
 * server or log, would otherwise go unnoticed: the client pulls after the
 * last position it holds, gets nothing (or someone else's later events), and
 * its copy of the log and the server's part ways for good while every round
 * reports success. So each round's first pull starts one position early, at
 * the last event the client holds, and this rule reads the answer before
 * anything is stored or pushed. Pure: the caller does the I/O.
 *
 * - The server's head is below that position: `SYNC_SERVER_BEHIND`. It lost
 *   events this client holds (or a pull was served by a copy that lags). The
 *   round fails and is retried with backoff, so sync resumes by itself once
 *   the server holds them again.
 * - The server holds another event at that position: `SYNC_DIVERGED`. Its
 *   history is not the one this client built on; nothing more is exchanged
 *   until it is.
 *
 * `localId` is the id of the event the client holds at `confirmed` (kept in
 * its metadata, so compaction does not lose it), or undefined when it does not
 * know it (a store last synced by an older version, whose page compaction
 * dropped): then only the head can be checked.
 */
export function serverHistoryProblem(confirmed: number, localId: string | undefined, page: PullPage): ChronicleError | undefined {
  if (confirmed <= 0) return undefined;
  if (page.head < confirmed) {
    return new ChronicleError(
      'SYNC_SERVER_BEHIND',
      `The sync server's log ends at position ${page.head}, but this client holds it up to ${confirmed}: ` +
        'the server lost events (restored from an older backup?) or this is another server or log. ' +
        'Nothing is pushed until it holds them again.',
      { serverHead: page.head, confirmedPosition: confirmed },
    );
  }
  const first = page.events[0];
  if (localId === undefined || first === undefined || first.position !== confirmed || first.id === localId) return undefined;
  return new ChronicleError(
    'SYNC_DIVERGED',
    `The sync server holds another event at position ${confirmed} (${first.id}) than this client (${localId}): ` +
      'its history is not the one this client synced (restored from an older backup and written to since?). ' +
      'Nothing is pushed or pulled until it is.',
    { position: confirmed, serverId: first.id, localId },
  );
}

import { moveRefusal, toLogMove } from './move-state.ts';
import { eventsOfPage, parseEnds } from './pages.ts';
import type { SqlExecutor } from './sql-driver.ts';
import { num, PULL_SQL } from './statements.ts';
import type { PullInput, PullPage } from './types.ts';

/** A row of PULL_SQL: the log row and the client's mark, with one page that holds positions of the pull (or none). */
interface PullRow {
  head: string | number | null;
  move_state: string | null;
  move_peer: string | null;
  client_seq: string | number | null;
  first_position: string | number | null;
  events: string | null;
  ends: string | null;
  /** The bytes of this page's events and the pages before it in the pull. */
  through_bytes: string | number | null;
}

/**
 * About how much event JSON one pull reads and answers with (bytes, as
 * PostgreSQL stores them): pages are read until the ones before hold this
 * much, so a reply is at most this plus one page (1 MiB, or one event larger
 * than that). A pull of the default 1000 events of usual size stays far
 * below it; a shorter page says hasMore, and the client pulls on.
 */
export const PULL_MAX_BYTES = 8 * 1024 * 1024;

/**
 * One pull (docs/protocol.md, Pull) from the reference store: one statement,
 * hence one snapshot, then the positions asked for taken out of the pages it
 * read, up to about `maxBytes` of them (PULL_MAX_BYTES). Refuses a log that
 * is moved away or moving in (move-state.ts).
 */
export async function readPull(
  db: SqlExecutor,
  log: string,
  { after, limit, clientId }: PullInput,
  maxBytes = PULL_MAX_BYTES,
): Promise<PullPage> {
  const rows = await db.query<PullRow>(PULL_SQL, [log, after, limit, clientId ?? null, maxBytes], 'chronicle_pull');
  const first = rows[0];
  const refusal = moveRefusal(log, toLogMove(first?.move_state, first?.move_peer), false);
  if (refusal) throw refusal;
  const head = num(first?.head);
  const eventsJson: string[] = [];
  let upTo = Math.min(after + limit, head);
  let lastRead: { last: number; throughBytes: number } | undefined;
  for (const row of rows) {
    if (row.events === null) continue;
    const page = { first: num(row.first_position), events: row.events, ends: parseEnds(row.ends ?? '') };
    eventsOfPage(page, after, upTo, eventsJson);
    lastRead = { last: page.first + page.ends.length - 1, throughBytes: num(row.through_bytes) };
  }
  // The byte bound stopped the pages early: the reply ends with the last page read (hasMore says so).
  if (lastRead && lastRead.throughBytes >= maxBytes) upTo = Math.min(upTo, lastRead.last);
  // Pages are contiguous up to the head; a shortfall is a damaged store, never a page served with a hole.
  if (eventsJson.length !== Math.max(0, upTo - after)) {
    throw new Error(`log "${log}" is missing stored events between positions ${after + 1} and ${upTo}`);
  }
  // Positions are gapless, so more events exist exactly when the last one read is below the head.
  const page: PullPage = { eventsJson, head, hasMore: after + eventsJson.length < head };
  if (clientId !== undefined) page.clientSeq = num(first?.client_seq);
  return page;
}

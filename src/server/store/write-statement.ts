import type { Judged, LogState } from '../push-judge.ts';
import type { WriteTicket } from './log-knowledge.ts';
import type { SqlExecutor } from './sql-driver.ts';
import { buildPages, clientRanges, lastSeqs, pageParams, rangeParams } from './pages.ts';
import { num, withPosition, writeFailure, writeSql } from './statements.ts';

/** The write statement of a store (statements.ts, writeSql), with its NOTIFY when the store announces head moves. */
export interface WriteStatement {
  sql: string;
  notify?: { channel: string; writerId: string };
}

export function writeStatement(notify?: { channel: string; writerId: string }): WriteStatement {
  return { sql: writeSql(notify !== undefined), ...(notify ? { notify } : {}) };
}

/**
 * Runs the write statement: 'written', or how it failed having written
 * nothing (see writeFailure); throws on any other failure.
 */
export async function runWrite(
  db: SqlExecutor,
  statement: WriteStatement,
  log: string,
  state: LogState,
  judged: Judged,
  current: WriteTicket,
  afterTicket: number | null,
): Promise<'written' | 'moved' | 'blocked' | 'taken'> {
  const { rows } = judged;
  const ids: string[] = new Array(rows.length);
  const texts: string[] = new Array(rows.length);
  rows.forEach((r, i) => {
    ids[i] = r.id;
    texts[i] = withPosition(r.json, r.position);
  });
  const heads = lastSeqs(rows);
  const ranges = clientRanges(rows);
  const changed = [...judged.changedClients];
  const params: unknown[] = [
    log,
    state.head,
    JSON.stringify(ids),
    ...pageParams(buildPages(state.head + 1, texts)),
    JSON.stringify([...heads.keys()]),
    JSON.stringify([...heads.values()]),
    ...rangeParams(ranges),
    JSON.stringify(changed.map(([clientId]) => clientId)),
    JSON.stringify(changed.map(([, c]) => c.mark)),
    JSON.stringify(changed.map(([, c]) => c.epoch)),
    judged.head,
    state.writeId,
    current.id,
    rows.length,
    current.ticket,
    afterTicket,
  ];
  if (statement.notify) params.push(statement.notify.channel, JSON.stringify({ log, head: judged.head, by: statement.notify.writerId }));
  let result: { n: string | number; l: string | number; h: string | number; g: string | number }[];
  try {
    result = await db.query(statement.sql, params, statement.notify ? 'chronicle_write_notify' : 'chronicle_write');
  } catch (error) {
    const failure = writeFailure(error);
    if (failure) return failure;
    throw error;
  }
  const row = result[0];
  if (num(row?.n) !== rows.length || num(row?.l) !== 1 || num(row?.h) !== heads.size || num(row?.g) !== ranges.length)
    throw new Error('push wrote an unexpected number of events');
  return 'written';
}

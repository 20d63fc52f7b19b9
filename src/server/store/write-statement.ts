import type { Judged, LogState } from '../push-judge.ts';
import type { WriteTicket } from './log-knowledge.ts';
import type { SqlExecutor } from './sql-driver.ts';
import { eventsArray, num, withPosition, writeFailure, writeSql } from './statements.ts';

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
  const aggregates: string[] = new Array(rows.length);
  const seqs: number[] = new Array(rows.length);
  const clients: string[] = new Array(rows.length);
  const clientSeqs: number[] = new Array(rows.length);
  const events: string[] = new Array(rows.length);
  rows.forEach((r, i) => {
    ids[i] = r.id;
    aggregates[i] = r.aggregateId;
    seqs[i] = r.seq;
    clients[i] = r.clientId;
    clientSeqs[i] = r.clientSeq;
    events[i] = withPosition(r.json, r.position);
  });
  const changed = [...judged.changedClients];
  const params: unknown[] = [
    log,
    state.head,
    JSON.stringify(ids),
    JSON.stringify(aggregates),
    JSON.stringify(seqs),
    JSON.stringify(clients),
    JSON.stringify(clientSeqs),
    eventsArray(events),
    JSON.stringify(changed.map(([clientId]) => clientId)),
    JSON.stringify(changed.map(([, c]) => c.mark)),
    judged.head,
    state.writeId,
    current.id,
    rows.length,
    current.ticket,
    afterTicket,
    JSON.stringify(changed.map(([, c]) => c.epoch)),
  ];
  if (statement.notify) params.push(statement.notify.channel, JSON.stringify({ log, head: judged.head, by: statement.notify.writerId }));
  let result: { n: string | number; l: string | number }[];
  try {
    result = await db.query(statement.sql, params, statement.notify ? 'chronicle_write_notify' : 'chronicle_write');
  } catch (error) {
    const failure = writeFailure(error);
    if (failure) return failure;
    throw error;
  }
  const row = result[0];
  if (num(row?.n) !== rows.length || num(row?.l) !== 1) throw new Error('push wrote an unexpected number of events');
  return 'written';
}

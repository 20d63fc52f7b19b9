import type { Judged, LogState } from '../push-judge.ts';
import type { WriteTicket } from './log-knowledge.ts';
import type { OrderedExecutor, SqlExecutor } from './sql-driver.ts';
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

/** What the write statement returns when it wrote everything (see writeSql's final SELECT). */
interface WriteRow {
  n: string | number;
  l: string | number;
  h: string | number;
  g: string | number;
}

/** A write to make: the batch judged against `state`, as write `current`, behind `afterTicket` (null: none). */
export interface WriteInput {
  statement: WriteStatement;
  log: string;
  state: LogState;
  judged: Judged;
  current: WriteTicket;
  afterTicket: number | null;
}

/** The write's parameters, and the row counts its answer must show. */
function writeParams({ statement, log, state, judged, current, afterTicket }: WriteInput): {
  params: unknown[];
  expected: { events: number; heads: number; ranges: number };
} {
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
  return { params, expected: { events: rows.length, heads: heads.size, ranges: ranges.length } };
}

/** The name the write statement is prepared under. */
const writeName = (statement: WriteStatement): string => (statement.notify ? 'chronicle_write_notify' : 'chronicle_write');

/** 'written' when the answer shows every row written; how it failed having written nothing (see writeFailure); throws otherwise. */
async function writeOutcome(
  answer: Promise<WriteRow[]>,
  expected: { events: number; heads: number; ranges: number },
): Promise<'written' | 'moved' | 'blocked' | 'taken'> {
  let result: WriteRow[];
  try {
    result = await answer;
  } catch (error) {
    const failure = writeFailure(error);
    if (failure) return failure;
    throw error;
  }
  const row = result[0];
  if (num(row?.n) !== expected.events || num(row?.l) !== 1 || num(row?.h) !== expected.heads || num(row?.g) !== expected.ranges)
    throw new Error('push wrote an unexpected number of events');
  return 'written';
}

/**
 * Runs the write statement in `db` (the slow path's transaction): 'written',
 * or how it failed having written nothing (see writeFailure); throws on any
 * other failure.
 */
export async function runWrite(db: SqlExecutor, input: WriteInput): Promise<'written' | 'moved' | 'blocked' | 'taken'> {
  const { params, expected } = writeParams(input);
  return writeOutcome(db.query<WriteRow>(input.statement.sql, params, writeName(input.statement)), expected);
}

/**
 * Sends the write statement the fast path's way (OrderedExecutor): as
 * runWrite, and `onSent` is called once the statement is on its connection.
 */
export async function sendWrite(
  db: OrderedExecutor,
  input: WriteInput,
  onSent: () => void,
): Promise<'written' | 'moved' | 'blocked' | 'taken'> {
  const { params, expected } = writeParams(input);
  return writeOutcome(db.query<WriteRow>(input.statement.sql, params, writeName(input.statement), onSent), expected);
}

import type { StoredEvent } from '../src/core/event.ts';

/**
 * How events are written inside a page's JSON. Each event is a row (an
 * array), not an object: the keys would repeat in every event and make up a
 * third of the bytes, and a full replay's cost is reading and parsing those
 * bytes. A row is
 *
 *   [id, aggregateId, aggregateType, seq, type, version, data, occurredAt,
 *    clientId, clientSeq, position (0 = pending), correlationId?, causationId?]
 *
 * Pages written as arrays of event objects (the first layout) still decode.
 */
export type EventRow = [
  string,
  string,
  string,
  number,
  string,
  number,
  unknown,
  number,
  string,
  number,
  number,
  (string | null)?,
  (string | null)?,
];

export function rowOf(e: StoredEvent): EventRow {
  const row: EventRow = [
    e.id,
    e.aggregateId,
    e.aggregateType,
    e.seq,
    e.type,
    e.version,
    e.data,
    e.meta.occurredAt,
    e.meta.clientId,
    e.meta.clientSeq,
    e.position ?? 0,
  ];
  if (e.meta.correlationId !== undefined || e.meta.causationId !== undefined) {
    row.push(e.meta.correlationId ?? null, e.meta.causationId ?? null);
  }
  return row;
}

/** The JSON of one event's row. */
export function rowJson(e: StoredEvent): string {
  return JSON.stringify(rowOf(e));
}

export function eventOf(row: EventRow): StoredEvent {
  const meta: StoredEvent['meta'] = { occurredAt: row[7], clientId: row[8], clientSeq: row[9] };
  if (row[11] != null) meta.correlationId = row[11];
  if (row[12] != null) meta.causationId = row[12];
  const event: StoredEvent = {
    id: row[0],
    aggregateId: row[1],
    aggregateType: row[2],
    seq: row[3],
    type: row[4],
    version: row[5],
    data: row[6],
    meta,
  };
  if (row[10] > 0) event.position = row[10];
  return event;
}

/** The events of a page, in order, from its JSON. */
export function decodePageJson(json: string): StoredEvent[] {
  const items = JSON.parse(json) as (EventRow | StoredEvent)[];
  const out = new Array<StoredEvent>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    out[i] = Array.isArray(item) ? eventOf(item) : item;
  }
  return out;
}

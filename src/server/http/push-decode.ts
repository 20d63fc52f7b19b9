import { isUtf8 } from 'node:buffer';
import { utf8Length } from '../../core/json-data.ts';
import { pushRequestSchema, type PushRequest } from '../../core/protocol.ts';
import type { ErrorDetails } from '../../core/errors.ts';
import { SyncError } from '../errors.ts';
import type { DecodedPush } from '../store/types.ts';
import { acceptPush } from '../validate.ts';
import { describeClientValue, jsonTypeOf } from './client-value.ts';
import { zodDetails } from './zod-details.ts';

/**
 * A push body from bytes to what the store needs (docs/protocol.md, Push and
 * Limits), in the order the protocol checks it: JSON object (400), protocol
 * version (400 UNSUPPORTED_PROTOCOL), number of events (413), the schema (400),
 * each event's size (413). The same code runs on the event loop and in the
 * push decoder's worker threads (push-decoder.ts), so both give the same
 * replies to the same bytes.
 */

/** The limits a push body is checked against. */
export interface DecodeLimits {
  maxEventsPerPush: number;
  maxEventBytes: number;
}

/**
 * Parses a request body as a JSON object: 400 for anything else, bytes that
 * are not UTF-8 included. Decoding would read those as U+FFFD, and two ids
 * sent with different bad bytes would be stored as one.
 */
export function parseJsonObject(raw: Uint8Array): Record<string, unknown> {
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (!isUtf8(bytes)) throw new SyncError('BAD_REQUEST', 'The body is not valid UTF-8', {});
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new SyncError('BAD_REQUEST', `The body is not valid JSON: ${(error as Error).message}`, {});
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SyncError('BAD_REQUEST', 'The body must be a JSON object', {});
  }
  return body as Record<string, unknown>;
}

/**
 * The protocol version is checked before the rest of the body, so an old or new client learns what this
 * server speaks. The refusal repeats a number as sent and anything else by its JSON type only
 * (client-value.ts): a version nested thousands of levels deep, or a string of megabytes, is a 400 of a
 * few hundred bytes, not a stack overflow (500) or a reply twice the size of the request.
 */
export function checkVersion(candidate: Record<string, unknown>, supported: readonly number[]): void {
  const version = candidate.protocolVersion;
  if (typeof version === 'number' && supported.includes(version)) return;
  throw new SyncError(
    'UNSUPPORTED_PROTOCOL',
    `This server speaks protocol versions ${supported.join(', ')}; the request says ${describeClientValue(version)}`,
    { supported: [...supported], received: typeof version === 'number' ? version : null, receivedType: jsonTypeOf(version) },
  );
}

/** How many events a candidate body says it holds (for logs and metrics), whatever else is wrong with it. */
export function eventCount(candidate: Record<string, unknown>): number | undefined {
  return Array.isArray(candidate.events) ? candidate.events.length : undefined;
}

/**
 * The rest of a push body's checks, after the version: the number of events,
 * the schema, and each event's size. Returns the push as the schema gives it
 * and each event's JSON (what the store keeps).
 */
export function validatePush(candidate: Record<string, unknown>, limits: DecodeLimits): { push: PushRequest; eventsJson: string[] } {
  if (Array.isArray(candidate.events) && candidate.events.length > limits.maxEventsPerPush) {
    throw new SyncError('PAYLOAD_TOO_LARGE', `The push holds ${candidate.events.length} events; the limit is ${limits.maxEventsPerPush}`, {
      what: 'events',
      count: candidate.events.length,
      limit: limits.maxEventsPerPush,
    });
  }
  // A valid push takes the fast check; anything it cannot vouch for goes to the schema, which decides and explains.
  let push = acceptPush(candidate);
  if (!push) {
    const parsed = pushRequestSchema.safeParse(candidate);
    if (!parsed.success) {
      const { message, details } = zodDetails(parsed.error.issues);
      throw new SyncError('BAD_REQUEST', `Invalid push: ${message}`, details);
    }
    push = parsed.data;
  }
  // The JSON of each event as validated: its size is checked here, and the store keeps it as is.
  const eventsJson = push.events.map((event) => JSON.stringify(event));
  // A string of n UTF-16 code units is at most 3n bytes of UTF-8: only an event that could be over the
  // limit is measured.
  const certain = Math.floor(limits.maxEventBytes / 3);
  for (let index = 0; index < eventsJson.length; index++) {
    const json = eventsJson[index]!;
    if (json.length <= certain) continue;
    const bytes = utf8Length(json);
    if (bytes > limits.maxEventBytes) {
      const event = push.events[index]!;
      throw new SyncError(
        'PAYLOAD_TOO_LARGE',
        `Event ${event.id} (clientSeq ${event.meta.clientSeq}, number ${index} of this push) is ${bytes} bytes; the limit is ${limits.maxEventBytes}`,
        {
          what: 'event',
          index,
          id: event.id,
          clientSeq: event.meta.clientSeq,
          bytes,
          limit: limits.maxEventBytes,
        },
      );
    }
  }
  return { push, eventsJson };
}

/** A push as its columns: what crosses from a decoder thread (strings and numbers copy cheaply; objects do not). */
export interface PushColumns {
  protocolVersion: PushRequest['protocolVersion'];
  clientId: string;
  epoch: number | undefined;
  from: number;
  to: number;
  ids: string[];
  aggregateIds: string[];
  seqs: number[];
  eventsJson: string[];
}

export function toColumns(push: PushRequest, eventsJson: string[]): PushColumns {
  const n = push.events.length;
  const ids: string[] = new Array(n);
  const aggregateIds: string[] = new Array(n);
  const seqs: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const event = push.events[i]!;
    ids[i] = event.id;
    aggregateIds[i] = event.aggregateId;
    seqs[i] = event.seq;
  }
  return {
    protocolVersion: push.protocolVersion,
    clientId: push.clientId,
    epoch: push.epoch,
    from: push.from,
    to: push.to,
    ids,
    aggregateIds,
    seqs,
    eventsJson,
  };
}

/** The store's form of a decoded push (its events as their keys, with their JSON). */
export function fromColumns(columns: PushColumns): DecodedPush {
  const { ids, aggregateIds, seqs } = columns;
  const events = new Array<{ id: string; aggregateId: string; seq: number }>(ids.length);
  for (let i = 0; i < ids.length; i++) events[i] = { id: ids[i]!, aggregateId: aggregateIds[i]!, seq: seqs[i]! };
  const push: DecodedPush = {
    protocolVersion: columns.protocolVersion,
    clientId: columns.clientId,
    from: columns.from,
    to: columns.to,
    events,
    eventsJson: columns.eventsJson,
  };
  if (columns.epoch !== undefined) push.epoch = columns.epoch;
  return push;
}

/** What a decoder answers for one body: the push's columns, or the error the body gets (and how many events it said it had). */
export type DecodeOutcome =
  | { ok: true; columns: PushColumns; events: number }
  | { ok: false; code: SyncError['code']; message: string; details: ErrorDetails; events: number | undefined }
  | { ok: false; internal: string; events: number | undefined };

/** A whole push body, bytes to columns; never throws (the outcome says what went wrong). */
export function decodePushBody(raw: Uint8Array, supported: readonly number[], limits: DecodeLimits): DecodeOutcome {
  let events: number | undefined;
  try {
    const candidate = parseJsonObject(raw);
    checkVersion(candidate, supported);
    events = eventCount(candidate);
    const { push, eventsJson } = validatePush(candidate, limits);
    return { ok: true, columns: toColumns(push, eventsJson), events: push.events.length };
  } catch (error) {
    if (error instanceof SyncError) return { ok: false, code: error.code, message: error.message, details: error.details, events };
    return { ok: false, internal: error instanceof Error ? error.message : String(error), events };
  }
}

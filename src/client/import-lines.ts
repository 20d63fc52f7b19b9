import { findDataProblem } from '../core/data-check.ts';
import { ChronicleError, ValidationError } from '../core/errors.ts';
import type { StoredEvent } from '../core/event.ts';
import { findJsonProblem } from '../core/json-data.ts';
import type { Registry } from '../core/registry.ts';
import { storedEventSchema } from '../core/schemas.ts';
import { describeArgument } from './argument-checks.ts';

/**
 * A line importLog refuses: a ValidationError whose message and
 * `.details.line` name the line, and `.details.field` the field when one is
 * at fault (`meta.clientSeq`, `data.items[0].qty`).
 */
function refuse(line: number, reason: string, field?: string): ValidationError {
  const error = new ValidationError('imported', `line ${line}`, field === undefined ? reason : `${field}: ${reason}`);
  Object.assign(error.details, field === undefined ? { line } : { line, field });
  return error;
}

/**
 * The first thing storedEventSchema refuses, as a field path. Unknown fields
 * are refused by name: storing the event would drop them silently, so the
 * imported log would not be the exported one.
 */
function envelopeProblem(event: unknown): { field: string; reason: string } | undefined {
  const parsed = storedEventSchema.safeParse(event);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  const at = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return { field: [...at, issue.keys[0]!].join('.'), reason: 'is not a field of a stored event (storing it would drop it)' };
  }
  return { field: at.length > 0 ? at.join('.') : '(event)', reason: issue.message };
}

/**
 * Whether the event of one line is one this store could have stored itself:
 * the stored-event shape the sync protocol uses (ids and links by the id
 * rules, seq, clientSeq and position safe positive integers, no unknown
 * field), data that is JSON data by the store's rules (storable strings,
 * finite numbers, bounded depth: a 10,000-level value would otherwise fail
 * deep in IndexedDB or postMessage, with no line number), and, where this
 * build defines the type at that version or a later one, data its schema and
 * upcasters read as the store reads it (core/data-check.ts, the sync server's
 * push check). An event of a type this build does not define, or of a newer
 * version, is kept as it is, as a sync pull keeps it: the log is shared with
 * other builds (DESIGN: an unknown type is kept and surfaced, never dropped),
 * and reads surface it with `known: false`. Pure.
 */
export function checkImportedEvent(registry: Registry, event: StoredEvent, line: number): void {
  const envelope = envelopeProblem(event);
  if (envelope) throw refuse(line, envelope.reason, envelope.field);
  const json = findJsonProblem(event.data);
  // findJsonProblem's path is relative to the data: `items[0].qty`, or `[0]` for an array's item.
  if (json)
    throw refuse(line, json.reason, json.path === '' ? 'data' : json.path.startsWith('[') ? `data${json.path}` : `data.${json.path}`);
  const data = findDataProblem(registry, event);
  if (data) throw refuse(line, data.reason, data.path);
}

/**
 * The rules an exported log file keeps, checked line by line as importLog
 * reads it: each line one event object, each event id once in the file, and
 * each aggregate's confirmed events in seq order without a gap. Each event is
 * then checked by checkImportedEvent, how each aggregate's first new event
 * continues the stream stored here by importLog (it reads the store), and
 * pending ones by the engine when they are stored. A file that breaks one is
 * another file than an export (edited, truncated, two exports joined) and
 * would break the log's rules once stored. Pure.
 */
export function createLineChecker(): (text: unknown, line: number) => StoredEvent {
  const lineOfId = new Map<string, number>();
  const lastConfirmed = new Map<string, { seq: number; line: number }>();
  return (text, line) => {
    // An iterable's item may be anything (an app that passes the parsed events, a Uint8Array of the file).
    if (typeof text !== 'string') throw refuse(line, `not a line of text (a string): got ${describeArgument(text)}`);
    let event: StoredEvent;
    try {
      event = JSON.parse(text) as StoredEvent;
    } catch (error) {
      throw refuse(line, `not JSON: ${String(error)}`);
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw refuse(line, 'not an event (a JSON object)');
    const { id, aggregateId, seq } = event;
    if (typeof id === 'string') {
      const first = lineOfId.get(id);
      if (first !== undefined) throw refuse(line, `event id ${id} is the id of line ${first} too`);
      lineOfId.set(id, line);
    }
    if (event.position !== undefined && typeof aggregateId === 'string' && Number.isInteger(seq)) {
      const before = lastConfirmed.get(aggregateId);
      if (before && seq !== before.seq + 1) {
        throw new ChronicleError(
          'SEQ_GAP',
          `Line ${line} holds seq ${seq} of ${aggregateId}, whose last event in the file (line ${before.line}) is seq ${before.seq}`,
          { aggregateId, expected: before.seq + 1, got: seq, line },
        );
      }
      lastConfirmed.set(aggregateId, { seq, line });
    }
    return event;
  };
}

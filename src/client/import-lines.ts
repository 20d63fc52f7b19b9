import { ChronicleError, ValidationError } from '../core/errors.ts';
import type { StoredEvent } from '../core/event.ts';

/**
 * The rules an exported log file keeps, checked line by line as importLog
 * reads it: each line one event object, each event id once in the file, and
 * each aggregate's confirmed events in seq order without a gap (pending ones
 * are checked against the stream they continue when they are stored). A file
 * that breaks one is another file than an export (edited, truncated, two
 * exports joined) and would break the log's rules once stored. Pure.
 */
export function createLineChecker(): (text: string, line: number) => StoredEvent {
  const lineOfId = new Map<string, number>();
  const lastConfirmed = new Map<string, { seq: number; line: number }>();
  return (text, line) => {
    let event: StoredEvent;
    try {
      event = JSON.parse(text) as StoredEvent;
    } catch (error) {
      throw new ValidationError('imported', `line ${line}`, `not JSON: ${String(error)}`);
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event))
      throw new ValidationError('imported', `line ${line}`, 'not an event (a JSON object)');
    const { id, aggregateId, seq } = event;
    if (typeof id === 'string') {
      const first = lineOfId.get(id);
      if (first !== undefined) throw new ValidationError('imported', `line ${line}`, `event id ${id} is the id of line ${first} too`);
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

import type { StoredEvent } from '../../src/core/event.ts';

/**
 * What the sync does when the server refuses a push: a pure decision from the
 * error the server sent (code, status, details) and the events pushed. The
 * round (sync-round.ts) carries it out.
 *
 * A refusal that retrying cannot fix and that points at events (a schema
 * failure naming `events.N`, an event too large, an id stored elsewhere)
 * rejects those events: they move to the rejected store with the reason, the
 * app sees the `rejected` outcome, and the rest of the queue is pushed. A
 * permanent refusal that names no event is narrowed down by pushing halves
 * until it does, so one poison event never blocks the events behind it.
 * Refusals that are not about the events (credentials, rate, the server's
 * protocol version, a server error, HTTP the server could not read) are retried with backoff and reject
 * nothing.
 */
export type RefusalAction =
  /** SEQ_CONFLICT: pull, then rebase the pending events after the server's. */
  | { kind: 'rebase' }
  /** CLIENT_SEQ_GAP: renumber the pending events from the clientSeq the server expects. */
  | { kind: 'renumber'; from: number }
  /** CLIENT_SEQ_MISMATCH: learn the server's mark, then renumber after it. */
  | { kind: 'renumber-after-mark' }
  /** STALE_EPOCH: a push made before this client's last fence; carry at least `current` from now on and push again. */
  | { kind: 'epoch'; current: number }
  /** The events refused for good, with the code and reason each is kept with. */
  | { kind: 'reject'; events: Map<string, { code: string; reason: string }> }
  /**
   * Push fewer events at a time (at most `size`): the request was too large, or a refusal must be narrowed
   * down. `serverLimit`: `size` is the server's own limit of events per push, which holds for later rounds too.
   */
  | { kind: 'split'; size: number; serverLimit?: true }
  /** Not the events' fault, or not permanent: fail the round and retry later. */
  | { kind: 'retry' };

export interface Refusal {
  status: number;
  code: string;
  message: string;
  details: Record<string, unknown>;
  /** The reply carried the protocol's error body; without it, it is not a Chronicle server's judgement of the events. */
  errorBody: boolean;
}

/** 4xx codes that are about the request or the caller, never about the events in it. */
const NOT_THE_EVENTS = new Set([
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'REQUEST_TIMEOUT',
  'RATE_LIMITED',
  'UNSUPPORTED_PROTOCOL',
  'UNSUPPORTED_MEDIA_TYPE',
  'HEADERS_TOO_LARGE',
]);

/** The index of the event a refusal names: `details.index`, or a field/issue path `events.N...`. */
function namedIndex(details: Record<string, unknown>): number | undefined {
  if (typeof details.index === 'number') return details.index;
  const paths: unknown[] = [details.field];
  if (Array.isArray(details.issues)) for (const issue of details.issues) paths.push((issue as { path?: unknown } | null)?.path);
  if (Array.isArray(details.path)) paths.push(details.path.join('.'));
  for (const path of paths) {
    const match = typeof path === 'string' ? /^events\.(\d+)(\.|$)/.exec(path) : null;
    if (match) return Number(match[1]);
  }
  return undefined;
}

/**
 * The pushed events a refusal lists in `details.events` (entries with an
 * `index` into the push and, where given, the same `id`), each with its own
 * reason; entries that do not match an event of the push are ignored.
 */
function listedEvents(
  details: Record<string, unknown>,
  events: readonly StoredEvent[],
  code: string,
): Map<string, { code: string; reason: string }> {
  const out = new Map<string, { code: string; reason: string }>();
  if (!Array.isArray(details.events)) return out;
  for (const entry of details.events as unknown[]) {
    const { index, id, reason, field } = (entry ?? {}) as { index?: unknown; id?: unknown; reason?: unknown; field?: unknown };
    const event = typeof index === 'number' && Number.isInteger(index) ? events[index] : undefined;
    if (!event || (id !== undefined && id !== event.id)) continue;
    // The field without its place in the push (`events.3.`), which means nothing to the app.
    const where = typeof field === 'string' ? `${field.replace(/^events\.\d+\./, '')}: ` : '';
    const why = typeof reason === 'string' ? `${where}${reason}` : 'refused by the server';
    out.set(event.id, { code, reason: why });
  }
  return out;
}

/**
 * Whether a push's clientSeqs fail to run on without a gap from its first. A queue with a hole (a store
 * restored from a backup, whose events the server confirmed under other numbers and a pull then took out
 * of its middle) is renumbered from its first event before it is pushed (sync-round.ts): pushed as it
 * is, the server would refuse the numbering, not an event.
 */
export function hasHole(events: readonly StoredEvent[]): boolean {
  return events.some((event, i) => event.meta.clientSeq !== events[0]!.meta.clientSeq + i);
}

/**
 * Whether a refusal is about this client's numbering of the push rather than any event's content: the
 * count against from..to, or an event's clientSeq. Where the push's numbering has a hole, the events are
 * not at fault: renumbering them is the cure, never rejecting the event the refusal happens to name.
 */
function namesNumbering(details: Record<string, unknown>): boolean {
  const paths: unknown[] = [details.field];
  if (Array.isArray(details.issues)) for (const issue of details.issues) paths.push((issue as { path?: unknown } | null)?.path);
  if (Array.isArray(details.path)) paths.push(details.path.join('.'));
  return paths.some((path) => typeof path === 'string' && /^events(\.\d+\.meta\.clientSeq)?$/.test(path));
}

/** Whether a refusal is about the request as a whole rather than any event in it (a bad clientId, from, to...). */
function namesAnotherField(details: Record<string, unknown>): boolean {
  const field = details.field;
  return typeof field === 'string' && field !== '' && !field.startsWith('events');
}

/**
 * Whether a 400 is about the HTTP request rather than its body: the server says why in `details.reason`
 * and names no field (a missing Host header, HTTP it cannot parse, an Upgrade header on a push). Something
 * between this client and the server mangled it; pushing halves would send each event alone into the same
 * refusal and reject them all, when none is at fault (docs/protocol.md, "Which refusals are permanent").
 */
function aboutTheHttpRequest(code: string, details: Record<string, unknown>): boolean {
  return code === 'BAD_REQUEST' && typeof details.reason === 'string' && details.field === undefined && namedIndex(details) === undefined;
}

export function decideRefusal(refusal: Refusal, events: readonly StoredEvent[]): RefusalAction {
  const { status, code, details } = refusal;
  if (status >= 500 || status < 400 || NOT_THE_EVENTS.has(code)) return { kind: 'retry' };
  // A 4xx without the protocol's error body comes from something in between (a proxy's login page, a
  // gateway's 404, a body cut off): it says nothing about the events, so it rejects none of them.
  if (!refusal.errorBody) return { kind: 'retry' };
  const reject = (event: StoredEvent | undefined): RefusalAction =>
    event ? { kind: 'reject', events: new Map([[event.id, { code, reason: refusal.message }]]) } : { kind: 'retry' };
  const half = (): RefusalAction => ({ kind: 'split', size: Math.max(1, Math.floor(events.length / 2)) });

  switch (code) {
    case 'SEQ_CONFLICT':
      return { kind: 'rebase' };
    case 'CLIENT_SEQ_GAP':
      // Numbers the pending events are renumbered with, and stored: a safe integer, or the refusal is not acted on.
      return Number.isSafeInteger(details.expected) && (details.expected as number) >= 1
        ? { kind: 'renumber', from: details.expected as number }
        : { kind: 'retry' };
    case 'CLIENT_SEQ_MISMATCH':
      return { kind: 'renumber-after-mark' };
    case 'STALE_EPOCH':
      return Number.isSafeInteger(details.current) && (details.current as number) >= 0
        ? { kind: 'epoch', current: details.current as number }
        : { kind: 'retry' };
    case 'DUPLICATE_EVENT_ID': {
      const id = typeof details.id === 'string' ? details.id : undefined;
      return reject(events.find((e) => e.id === id));
    }
    case 'PAYLOAD_TOO_LARGE':
      if (details.what === 'event') return reject(events[namedIndex(details) ?? -1] ?? events.find((e) => e.id === details.id));
      // Too many events: as many as the server says it takes. Too many bytes in the request: fewer at a
      // time. One event alone too large is its own fault.
      if (
        details.what === 'events' &&
        Number.isSafeInteger(details.limit) &&
        (details.limit as number) >= 1 &&
        (details.limit as number) < events.length
      )
        return { kind: 'split', size: details.limit as number, serverLimit: true };
      return events.length > 1 ? half() : reject(events[0]);
    default: {
      // A refusal that lists several events (INVALID_EVENT's details.events) rejects them all at once: one
      // renumbering of the queue instead of one round per event.
      const listed = listedEvents(details, events, code);
      if (listed.size > 1) return { kind: 'reject', events: listed };
      // BAD_REQUEST, and any 4xx code this client does not know (treated by its status class).
      // Only where renumbering changes something: a push numbered without a hole that is refused all the same
      // goes on below (rejected or halved), never renumbered in a loop that makes no progress.
      if (namesNumbering(details) && hasHole(events)) return { kind: 'renumber', from: events[0]!.meta.clientSeq };
      const index = namedIndex(details);
      if (index !== undefined) return reject(events[index]);
      if (namesAnotherField(details) || aboutTheHttpRequest(code, details)) return { kind: 'retry' };
      return events.length > 1 ? half() : reject(events[0]);
    }
  }
}

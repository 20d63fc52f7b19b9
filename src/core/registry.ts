import type { z } from 'zod';
import {
  AggregateTypeError,
  ChronicleError,
  ConfigError,
  DuplicateInBatchError,
  EventTooLargeError,
  UnknownEventTypeError,
  UnserializableDataError,
  ValidationError,
} from './errors.ts';
import type { AnyEventDefinition, EventInput, LogEvent, StoredEvent } from './event.ts';
import type { AnyAggregateDefinition } from './aggregate.ts';
import { isEncryptedEnvelope } from './envelope.ts';
import { findJsonProblem, utf8Length } from './json-data.ts';
import { findIdProblem, findStringProblem, MAX_ID_LENGTH } from './text-rules.ts';
import { uuidv7 } from './ids.ts';
import { describeThrown } from './thrown.ts';

/** Why data shaped exactly like an encrypted envelope is refused (see encodeOne). */
const ENVELOPE_SHAPED =
  'is exactly { $enc: 1, kid, iv, ct }, the shape Chronicle reserves for encrypted payloads (README, Encryption): add or rename a field';

const isThenable = (value: unknown): boolean =>
  (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';

/** Default upper bound for one event's stored JSON, in bytes. */
export const DEFAULT_MAX_EVENT_BYTES = 256 * 1024;

/**
 * An event that passed validation, ready for the engine. `body` is the JSON
 * of `type, version, data, occurredAt` (an array's inside, without brackets)
 * and `tail` that of the optional `correlationId, causationId` (with a leading
 * comma, or empty): the engine splices them around the numbers it assigns in
 * its transaction (seq, clientSeq) into the event's row (worker/page-codec.ts),
 * without parsing the data again.
 */
export interface EncodedEvent {
  id: string;
  type: string;
  occurredAt: number;
  body: string;
  tail: string;
  /** The id was made here (UUIDv7), not given by the app: it cannot be stored already. */
  generated?: boolean;
}

export interface Registry {
  readonly eventTypes: readonly string[];
  readonly maxEventBytes: number;
  definition(type: string): AnyEventDefinition | undefined;
  /** Validates inputs and encodes them; throws a typed error before anything is written. */
  encode(inputs: readonly EventInput[], now?: number): EncodedEvent[];
  /** The aggregate type for an append: the explicit one, or the single aggregate declaring these types. */
  resolveAggregateType(inputs: readonly EventInput[], explicit?: string): string;
  /** Upcasts a stored event to the current schema; an unknown type, or a version newer than the app's, is surfaced as an UnknownEvent, not dropped. */
  decode(stored: StoredEvent): LogEvent;
  /** decode() that turns `stored` itself into the event (no copy): for readers that drop the stored form. */
  decodeInPlace(stored: StoredEvent): LogEvent;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = 'data';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  return out;
}

/** The first thing a schema refused: its path (`data.items[0].qty`) and the schema's message. */
export function firstSchemaIssue(error: z.ZodError): { path: string; reason: string } {
  const issue = error.issues[0];
  if (!issue) return { path: 'data', reason: 'invalid' };
  return { path: formatPath(issue.path), reason: issue.message };
}

export interface RegistryOptions {
  events: readonly AnyEventDefinition[];
  aggregates?: readonly AnyAggregateDefinition[] | undefined;
  maxEventBytes?: number | undefined;
}

export function createRegistry(options: RegistryOptions): Registry {
  const byType = new Map<string, AnyEventDefinition>();
  const add = (def: AnyEventDefinition) => {
    const existing = byType.get(def.type);
    if (existing && existing !== def) throw new ConfigError(`Event type "${def.type}" is defined twice`);
    byType.set(def.type, def);
  };
  for (const def of options.events) add(def);
  // Aggregates may bring event definitions the events list forgot.
  const aggregatesByEventType = new Map<string, string[]>();
  for (const agg of options.aggregates ?? []) {
    for (const def of agg.events) {
      add(def);
      const owners = aggregatesByEventType.get(def.type) ?? [];
      owners.push(agg.type);
      aggregatesByEventType.set(def.type, owners);
    }
  }
  const eventTypes = [...byType.keys()];
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;

  /** `seen`: ids given earlier in the same call (made on the first given id: most calls give none). */
  const encodeOne = (input: EventInput, index: number, now: number, seen: { ids?: Set<string> }): EncodedEvent => {
    if (typeof input !== 'object' || input === null || typeof input.type !== 'string') {
      throw new ValidationError(String((input as { type?: unknown } | null)?.type ?? '?'), 'type', 'an event needs a string "type"', index);
    }
    const def = byType.get(input.type);
    if (!def) throw new UnknownEventTypeError(input.type, eventTypes);
    const parsed = def.schema.safeParse(input.data);
    if (!parsed.success) {
      const { path, reason } = firstSchemaIssue(parsed.error);
      throw new ValidationError(def.type, path, reason, index);
    }
    const data: unknown = parsed.data;
    const problem = findJsonProblem(data);
    if (problem) throw new UnserializableDataError(def.type, problem.path ? `data.${problem.path}` : 'data', problem.reason, index);
    // Every store that syncs the log would take such data for ciphertext: one without keys stops its sync there
    // for good (no-keys), one with keys fails to open it (the server keeps events forever).
    if (isEncryptedEnvelope(data)) throw new ValidationError(def.type, 'data', ENVELOPE_SHAPED, index);
    // An id made here is a UUIDv7, valid and new by construction: only a given id is checked.
    const given = input.id !== undefined && input.id !== null;
    const id = input.id ?? uuidv7(now);
    if (given) {
      const idProblem = findIdProblem(id);
      if (idProblem !== undefined) throw new ValidationError(def.type, 'id', `id ${idProblem}`, index);
      seen.ids ??= new Set();
      if (seen.ids.has(id)) throw new DuplicateInBatchError(id);
      seen.ids.add(id);
    }
    const metaIn = input.meta ?? {};
    const occurredAt = metaIn.occurredAt ?? now;
    if (!Number.isFinite(occurredAt)) {
      throw new ValidationError(def.type, 'meta.occurredAt', 'must be epoch milliseconds (a finite number)', index);
    }
    for (const key of ['correlationId', 'causationId'] as const) {
      const value = metaIn[key];
      if (value === undefined) continue;
      if (typeof value !== 'string') throw new ValidationError(def.type, `meta.${key}`, 'must be a string', index);
      if (value.length > MAX_ID_LENGTH)
        throw new ValidationError(def.type, `meta.${key}`, `must be at most ${MAX_ID_LENGTH} characters`, index);
      const problem = findStringProblem(value);
      if (problem !== undefined) throw new ValidationError(def.type, `meta.${key}`, problem, index);
    }
    const inner = JSON.stringify([def.type, def.version, data, occurredAt]);
    const body = inner.slice(1, -1);
    const hasLinks = metaIn.correlationId !== undefined || metaIn.causationId !== undefined;
    const tail = hasLinks ? `,${JSON.stringify([metaIn.correlationId ?? null, metaIn.causationId ?? null]).slice(1, -1)}` : '';
    // A UTF-16 code unit is at most 3 bytes of UTF-8: most events are counted only when that bound could pass the limit.
    const envelope = tail.length + id.length + 160; // envelope fields added by the engine
    if (body.length * 3 + envelope > maxEventBytes) {
      const bytes = utf8Length(body) + envelope;
      if (bytes > maxEventBytes) throw new EventTooLargeError(def.type, bytes, maxEventBytes, index);
    }
    return !given ? { id, type: def.type, occurredAt, body, tail, generated: true } : { id, type: def.type, occurredAt, body, tail };
  };

  return {
    eventTypes,
    maxEventBytes,
    definition: (type) => byType.get(type),
    encode(inputs, now = Date.now()) {
      if (!Array.isArray(inputs)) throw new ValidationError('?', 'events', 'events must be an array');
      const seen: { ids?: Set<string> } = {};
      return inputs.map((input, i) => encodeOne(input, i, now, seen));
    },
    resolveAggregateType(inputs, explicit) {
      if (explicit !== undefined) {
        if (typeof explicit !== 'string' || explicit.length === 0) {
          throw new AggregateTypeError('aggregateType must be a non-empty string');
        }
        return explicit;
      }
      const candidates = new Set<string>();
      for (const input of inputs) {
        if (!byType.has(input?.type)) throw new UnknownEventTypeError(String(input?.type), eventTypes);
        const owners = aggregatesByEventType.get(input.type) ?? [];
        if (owners.length !== 1) {
          throw new AggregateTypeError(
            owners.length === 0
              ? `No aggregate declares event type "${input.type}"; pass { aggregate } or { aggregateType } to append`
              : `Event type "${input.type}" belongs to several aggregates (${owners.join(', ')}); pass { aggregate } or { aggregateType }`,
            { eventType: input.type, owners },
          );
        }
        candidates.add(owners[0]!);
      }
      if (candidates.size !== 1) {
        throw new AggregateTypeError(`These events belong to different aggregates (${[...candidates].join(', ')})`, {
          owners: [...candidates],
        });
      }
      return [...candidates][0]!;
    },
    decodeInPlace(stored) {
      const def = byType.get(stored.type);
      if (def && stored.version === def.version) {
        const event = stored as StoredEvent & { known: true; storedVersion: number };
        event.known = true;
        event.storedVersion = stored.version;
        return event as LogEvent;
      }
      return this.decode(stored);
    },
    decode(stored) {
      const def = byType.get(stored.type);
      // A type this app does not define, or a version newer than its definition (a newer app version wrote
      // it): this app cannot read its data, so nothing folds it as if it could (see UnknownEvent).
      if (!def || stored.version > def.version) {
        return { ...stored, known: false, storedVersion: stored.version };
      }
      let data: unknown = stored.data;
      if (stored.version < def.version) data = upcast(def, stored, data);
      const event = {
        ...stored,
        known: true as const,
        version: def.version,
        storedVersion: stored.version,
        data,
      };
      return event as LogEvent;
    },
  };
}

/**
 * Lifts `data` of an older version through the definition's upcasters, then
 * through its schema as an append would (defaults filled, unknown keys
 * dropped): reducers never see data in a shape the schema refuses, and an
 * upcast event reads as a fresh append of it would have.
 */
function upcast(def: AnyEventDefinition, stored: StoredEvent, storedData: unknown): unknown {
  let data = storedData;
  for (let v = stored.version; v < def.version; v++) {
    const up = def.upcasters[v];
    if (!up) {
      throw new ChronicleError('UPCAST', `No upcaster for ${def.type} from version ${v}`, {
        eventType: def.type,
        from: v,
        eventId: stored.id,
      });
    }
    const failed = (why: string) =>
      new ChronicleError('UPCAST', `Upcasting ${def.type} ${stored.id} from version ${v} failed: ${why}`, {
        eventType: def.type,
        from: v,
        eventId: stored.id,
      });
    try {
      data = up(data);
    } catch (cause) {
      throw failed(describeThrown(cause));
    }
    if (isThenable(data)) {
      // Its rejection, if it comes, is nobody's to handle: observe it so that it cannot end a Node process.
      Promise.resolve(data).catch(() => undefined);
      throw failed('the upcaster returned a Promise (upcasters must be synchronous)');
    }
  }
  let checked: ReturnType<typeof def.schema.safeParse>;
  try {
    checked = def.schema.safeParse(data);
  } catch (cause) {
    // A transform or refinement of the app's schema that throws (or is async) is a failed upcast, not a crash.
    throw new ChronicleError(
      'UPCAST',
      `Upcasting ${def.type} ${stored.id} from version ${stored.version}: version ${def.version}'s schema threw: ${describeThrown(cause)}`,
      { eventType: def.type, from: stored.version, eventId: stored.id, path: 'data', reason: describeThrown(cause) },
    );
  }
  if (checked.success) return checked.data;
  const { path, reason } = firstSchemaIssue(checked.error);
  throw new ChronicleError(
    'UPCAST',
    `Upcasting ${def.type} ${stored.id} from version ${stored.version} gave data that version ${def.version}'s schema refuses: ${path}: ${reason}`,
    { eventType: def.type, from: stored.version, eventId: stored.id, path, reason },
  );
}

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
import { stringifyJsonData, utf8Length } from './json-data.ts';
import { findIdProblem, findLinkProblem, MAX_ID_LENGTH, showName } from './text-rules.ts';
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

/** The stream an append's events go to. */
export interface EventStream {
  aggregateId: string;
  aggregateType: string;
}

export interface Registry {
  readonly eventTypes: readonly string[];
  readonly maxEventBytes: number;
  definition(type: string): AnyEventDefinition | undefined;
  /**
   * Validates inputs and encodes them; throws a typed error before anything is written. `now`: the
   * occurredAt of events that give none (default Date.now()). `stream`: the aggregate id and type they
   * are appended to, for an exact size count (without it, both count at their longest). `stream` comes
   * last so that a caller of the two-argument form, `encode(inputs, now)`, means what it meant.
   */
  encode(inputs: readonly EventInput[], now?: number, stream?: EventStream): EncodedEvent[];
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

/**
 * What the sync server counts of an event (src/server/http/push-decode.ts: the UTF-8 bytes of
 * JSON.stringify of the pushed event) besides the body's type, version, data and occurredAt, the id and the
 * links: the keys, the aggregate id and type, and the fields the engine fills in its transaction. The
 * aggregate id and type are counted as encode is given them (append gives them: exact), else at their
 * longest (MAX_ID_LENGTH code units, each escaped as \u00XX); the sequence numbers at the longest safe
 * integer, the client id as the UUIDv7 the engine makes: an event the client accepts is never refused by
 * the server for its size (README, Errors).
 */
const SERVER_EVENT_KEYS =
  '{"id":,"aggregateId":,"aggregateType":,"seq":,"type":,"version":,"data":,"meta":{"occurredAt":,"clientId":,"clientSeq":}}';
const LONGEST_ID_JSON_BYTES = MAX_ID_LENGTH * 6 + 2;
const UUID_JSON_BYTES = 38;
const LONGEST_SEQ_DIGITS = String(Number.MAX_SAFE_INTEGER).length;
/** The keys (less the body's three commas: its keys are counted instead), the client id and the sequence numbers. */
const KEYS_AND_NUMBERS_BYTES = SERVER_EVENT_KEYS.length - 3 + UUID_JSON_BYTES + 2 * LONGEST_SEQ_DIGITS;
/** With the aggregate id and type at their longest: the most an event's envelope can count. */
export const EVENT_ENVELOPE_BYTES = KEYS_AND_NUMBERS_BYTES + 2 * LONGEST_ID_JSON_BYTES;

/** The server's bytes for the links: `,"correlationId":"…"` and `,"causationId":"…"`, each only when given. */
function linkBytes(correlationId: string | undefined, causationId: string | undefined): number {
  let bytes = 0;
  if (correlationId !== undefined) bytes += ',"correlationId":'.length + utf8Length(JSON.stringify(correlationId));
  if (causationId !== undefined) bytes += ',"causationId":'.length + utf8Length(JSON.stringify(causationId));
  return bytes;
}

/** A correlation or causation id as given, checked by the rule the server applies to it (text-rules.ts). */
function checkLink(eventType: string, key: 'correlationId' | 'causationId', value: unknown, index: number): string | undefined {
  if (value === undefined) return undefined;
  const problem = findLinkProblem(value);
  if (problem !== undefined) throw new ValidationError(eventType, `meta.${key}`, problem, index);
  return value as string;
}

/**
 * An append's data parsed by its type's schema. A schema that throws (a transform that throws, an async
 * refinement or transform, which zod refuses in a synchronous parse, a getter zod reads) is a ValidationError
 * like a schema that says no: every error is a ChronicleError (README, Errors).
 */
function parseData(def: AnyEventDefinition, data: unknown, index: number): unknown {
  let parsed: ReturnType<typeof def.schema.safeParse>;
  try {
    parsed = def.schema.safeParse(data);
  } catch (cause) {
    const reason = `the schema threw (${describeThrown(cause)}); its refinements and transforms must be synchronous and report problems to zod, not throw`;
    throw new ValidationError(def.type, 'data', reason, index);
  }
  if (!parsed.success) {
    const { path, reason } = firstSchemaIssue(parsed.error);
    throw new ValidationError(def.type, path, reason, index);
  }
  return parsed.data;
}

export interface RegistryOptions {
  events: readonly AnyEventDefinition[];
  aggregates?: readonly AnyAggregateDefinition[] | undefined;
  /**
   * Definitions used only for types nothing above defines (a listed projection's): a copy of a type
   * defined there is left out rather than refused as "defined twice", and the first copy of a type wins.
   */
  fallbackEvents?: readonly AnyEventDefinition[] | undefined;
  maxEventBytes?: number | undefined;
}

export function createRegistry(options: RegistryOptions): Registry {
  const byType = new Map<string, AnyEventDefinition>();
  const add = (def: AnyEventDefinition) => {
    // defineEvent checks its type; a definition written as an object literal is checked here, by the same rule.
    const typeProblem = findIdProblem(def.type);
    if (typeProblem !== undefined) throw new ConfigError(`Event type ${showName(def.type)}: ${typeProblem}`);
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
  for (const def of options.fallbackEvents ?? []) if (!byType.has(def?.type)) add(def);
  const eventTypes = [...byType.keys()];
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  // Below this, every append would be refused as too large: say so once, at openStore.
  if (maxEventBytes <= EVENT_ENVELOPE_BYTES + UUID_JSON_BYTES) {
    throw new ConfigError(
      `maxEventBytes ${maxEventBytes} leaves no room for data: an event's ids and meta alone count up to ${EVENT_ENVELOPE_BYTES + UUID_JSON_BYTES} bytes`,
    );
  }

  /**
   * `seen`: ids given earlier in the same call (made on the first given id: most calls give none); `envelope`: the
   * bytes the server counts besides the body, the id and the links (EVENT_ENVELOPE_BYTES at most).
   */
  const encodeOne = (input: EventInput, index: number, now: number, seen: { ids?: Set<string> }, envelope: number): EncodedEvent => {
    if (typeof input !== 'object' || input === null || typeof input.type !== 'string') {
      throw new ValidationError(String((input as { type?: unknown } | null)?.type ?? '?'), 'type', 'an event needs a string "type"', index);
    }
    const def = byType.get(input.type);
    if (!def) throw new UnknownEventTypeError(input.type, eventTypes);
    const data = parseData(def, input.data, index);
    // Checked and written in one walk, so that what is stored is what was checked (a getter reads once).
    const dataJson = stringifyJsonData(data);
    if (typeof dataJson !== 'string') {
      const path = dataJson.path === '' ? 'data' : dataJson.path.startsWith('[') ? `data${dataJson.path}` : `data.${dataJson.path}`;
      // App code that threw while its data was read is data that cannot be read, not data of the wrong kind.
      if (dataJson.thrown) throw new ValidationError(def.type, path, dataJson.reason, index);
      throw new UnserializableDataError(def.type, path, dataJson.reason, index);
    }
    // Every store that syncs the log would take such data for ciphertext: one without keys stops its sync there
    // for good (no-keys), one with keys fails to open it (the server keeps events forever). Judged on the JSON
    // stored; only data that names `$enc` is parsed again.
    if (dataJson.charCodeAt(0) === 123 && dataJson.includes('"$enc":') && isEncryptedEnvelope(JSON.parse(dataJson))) {
      throw new ValidationError(def.type, 'data', ENVELOPE_SHAPED, index);
    }
    // An id made here is a UUIDv7, valid and new by construction: only a given id is checked.
    const givenId = input.id;
    const given = givenId !== undefined && givenId !== null;
    const id = given ? givenId : uuidv7(now);
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
    const correlationId = checkLink(def.type, 'correlationId', metaIn.correlationId, index);
    const causationId = checkLink(def.type, 'causationId', metaIn.causationId, index);
    // For a finite number JSON.stringify writes what String() does: the body is JSON.stringify([type, version, data, occurredAt]) without its brackets.
    const body = `${JSON.stringify(def.type)},${def.version},${dataJson},${occurredAt}`;
    const hasLinks = correlationId !== undefined || causationId !== undefined;
    const tail = hasLinks ? `,${JSON.stringify([correlationId ?? null, causationId ?? null]).slice(1, -1)}` : '';
    // A UTF-16 code unit is at most 3 bytes of UTF-8, and an id's JSON at most 6 per code unit (\u00XX) and its
    // quotes: most events are counted only when that bound could pass the limit.
    const bound = body.length * 3 + envelope + (given ? id.length * 6 + 2 : UUID_JSON_BYTES) + (hasLinks ? tail.length * 3 + 32 : 0);
    if (bound > maxEventBytes) {
      const bytes = utf8Length(body) + envelope + utf8Length(JSON.stringify(id)) + linkBytes(correlationId, causationId);
      if (bytes > maxEventBytes) throw new EventTooLargeError(def.type, bytes, maxEventBytes, index);
    }
    return !given ? { id, type: def.type, occurredAt, body, tail, generated: true } : { id, type: def.type, occurredAt, body, tail };
  };

  return {
    eventTypes,
    maxEventBytes,
    definition: (type) => byType.get(type),
    encode(inputs, now = Date.now(), stream) {
      if (!Array.isArray(inputs)) throw new ValidationError('?', 'events', 'events must be an array');
      const seen: { ids?: Set<string> } = {};
      const envelope = stream
        ? KEYS_AND_NUMBERS_BYTES + utf8Length(JSON.stringify(stream.aggregateId) + JSON.stringify(stream.aggregateType))
        : EVENT_ENVELOPE_BYTES;
      return inputs.map((input, i) => encodeOne(input, i, now, seen, envelope));
    },
    resolveAggregateType(inputs, explicit) {
      if (explicit !== undefined) {
        if (typeof explicit !== 'string' || explicit.length === 0) {
          throw new AggregateTypeError('aggregateType must be a non-empty string');
        }
        // Stored with every event and pushed: the server would refuse what its rule for ids refuses.
        const problem = findIdProblem(explicit);
        if (problem !== undefined) throw new ValidationError('?', 'aggregateType', problem);
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

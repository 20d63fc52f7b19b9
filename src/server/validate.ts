import { MAX_ID_LENGTH } from '../core/schemas.ts';
import { PROTOCOL_VERSION, type PushRequest } from '../core/protocol.ts';

/**
 * The hot path of push validation. `pushRequestSchema` (zod) is the rule; this
 * accepts only bodies it can prove the schema accepts, and returns what the
 * schema's parse would return: new objects with the schema's keys in the
 * schema's order, `data` passed through as it is. Anything else (including
 * every invalid body) gets `undefined`, and the caller asks zod, which accepts
 * it or says precisely what is wrong. About five times faster than the schema
 * on a valid push of 500 events.
 *
 * Only for values made by JSON.parse: plain objects and arrays, no undefined,
 * no NaN or Infinity, own keys only.
 */
export function acceptPush(body: Record<string, unknown>): PushRequest | undefined {
  if (!exactKeys(body, PUSH_KEYS, 0)) return undefined;
  const { protocolVersion, clientId, from, to, events } = body;
  if (protocolVersion !== PROTOCOL_VERSION || !id(clientId) || !positiveInt(from) || !positiveInt(to) || to < from) return undefined;
  if (!Array.isArray(events) || events.length !== to - from + 1) return undefined;
  const out: PushRequest['events'] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const event = acceptEvent(events[i], clientId, from + i);
    if (!event) return undefined;
    out[i] = event;
  }
  return { protocolVersion: PROTOCOL_VERSION, clientId, from, to, events: out };
}

const PUSH_KEYS = new Set(['protocolVersion', 'clientId', 'from', 'to', 'events']);
const EVENT_KEYS = new Set(['id', 'aggregateId', 'aggregateType', 'seq', 'type', 'version', 'data', 'meta']);
const META_KEYS = new Set(['occurredAt', 'clientId', 'clientSeq', 'correlationId', 'causationId']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every key of `value` is in `allowed`, and all of `allowed` but `optional` of them are present. */
function exactKeys(value: Record<string, unknown>, allowed: ReadonlySet<string>, optional: number): boolean {
  const keys = Object.keys(value);
  if (keys.length < allowed.size - optional || keys.length > allowed.size) return false;
  for (const key of keys) if (!allowed.has(key)) return false;
  return true;
}

const id = (value: unknown): value is string => typeof value === 'string' && value.length >= 1 && value.length <= MAX_ID_LENGTH;
const positiveInt = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

function acceptEvent(value: unknown, clientId: string, clientSeq: number): PushRequest['events'][number] | undefined {
  if (!isObject(value) || !exactKeys(value, EVENT_KEYS, 0)) return undefined;
  const { id: eventId, aggregateId, aggregateType, seq, type, version, data, meta } = value;
  if (!id(eventId) || !id(aggregateId) || !id(aggregateType) || !positiveInt(seq) || !id(type) || !positiveInt(version)) return undefined;
  if (data === undefined || !isObject(meta) || !exactKeys(meta, META_KEYS, 2)) return undefined;
  const { occurredAt, correlationId, causationId } = meta;
  if (typeof occurredAt !== 'number' || !Number.isFinite(occurredAt)) return undefined;
  if (meta.clientId !== clientId || meta.clientSeq !== clientSeq) return undefined;
  // With 3 to 5 keys all allowed, the required three are present when the optional ones account for the rest.
  const optional = (correlationId === undefined ? 0 : 1) + (causationId === undefined ? 0 : 1);
  if (Object.keys(meta).length !== 3 + optional) return undefined;
  const outMeta: PushRequest['events'][number]['meta'] = { occurredAt, clientId, clientSeq };
  if (correlationId !== undefined) {
    if (typeof correlationId !== 'string' || correlationId.length > MAX_ID_LENGTH) return undefined;
    outMeta.correlationId = correlationId;
  }
  if (causationId !== undefined) {
    if (typeof causationId !== 'string' || causationId.length > MAX_ID_LENGTH) return undefined;
    outMeta.causationId = causationId;
  }
  return { id: eventId, aggregateId, aggregateType, seq, type, version, data, meta: outMeta };
}

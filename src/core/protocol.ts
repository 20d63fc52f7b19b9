import { z } from 'zod';
import { findJsonProblem } from './json-data.ts';
import { idSchema, storedEventSchema } from './schemas.ts';

/**
 * The sync protocol between a client and a server log. docs/protocol.md is the
 * prose form of this file; the schemas here are the source of truth and are
 * used by both ends to validate every message.
 */
export const PROTOCOL_VERSION = 2;

/**
 * Versions a current server accepts on push. Version 2 added the client's
 * rebase epoch (`epoch` on push, `POST .../fence`); a version-1 push is judged
 * as epoch 0.
 */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1, 2];

export const DEFAULT_LIMITS = {
  /** Events in one push. */
  maxEventsPerPush: 1000,
  /** Bytes of one event's JSON. */
  maxEventBytes: 256 * 1024,
  /** Bytes of one request body. */
  maxRequestBytes: 4 * 1024 * 1024,
  /** Events in one pull page. */
  maxPullLimit: 5000,
} as const;

/** A log (tenant) name: what the URL path segment may hold. */
export const logNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a log name is letters, digits, ".", "_" and "-"');

/**
 * POST /v1/logs/:log/push
 * The client's pending events with clientSeq from..to, in clientSeq order,
 * every one with meta.clientId === clientId. Events carry the seq the client
 * expects them to take in their aggregate; no position. `epoch` (version 2):
 * the client's rebase epoch, see fenceRequestSchema.
 */
export const pushRequestSchema = z
  .object({
    protocolVersion: z.union([z.literal(1), z.literal(2)]),
    clientId: idSchema,
    epoch: z.number().int().nonnegative().optional(),
    from: z.number().int().positive(),
    to: z.number().int().positive(),
    events: z.array(storedEventSchema.omit({ position: true })),
  })
  .strict()
  .superRefine((push, ctx) => {
    if (push.protocolVersion === 1 && push.epoch !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['epoch'], message: 'epoch needs protocolVersion 2' });
    }
    if (push.to < push.from) ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must be >= from' });
    if (push.events.length !== push.to - push.from + 1) {
      ctx.addIssue({ code: 'custom', path: ['events'], message: 'events must hold exactly to - from + 1 events' });
    }
    push.events.forEach((e, i) => {
      if (e.meta.clientId !== push.clientId) {
        ctx.addIssue({ code: 'custom', path: ['events', i, 'meta', 'clientId'], message: 'must equal the push clientId' });
      }
      if (e.meta.clientSeq !== push.from + i) {
        ctx.addIssue({ code: 'custom', path: ['events', i, 'meta', 'clientSeq'], message: `must be ${push.from + i}` });
      }
      // The data must be storable as it is: strings and keys (text-rules.ts), finite numbers, bounded depth.
      const problem = e.data === undefined ? { path: '', reason: 'is required' } : findJsonProblem(e.data);
      if (problem) {
        const path: (string | number)[] = ['events', i, 'data'];
        if (problem.path) path.push(problem.path);
        ctx.addIssue({ code: 'custom', path, message: problem.reason });
      }
    });
  });
export type PushRequest = z.infer<typeof pushRequestSchema>;

/** 200 reply to a push: every event of the range now has a position. */
export const pushResponseSchema = z.object({
  /** Positions of the range's events, in clientSeq order (duplicates report their stored position). */
  positions: z.array(z.object({ id: z.string(), clientSeq: z.number().int(), position: z.number().int().positive() })),
  /** How many events of the range were already applied before this request. */
  duplicates: z.number().int().nonnegative(),
  /** The highest clientSeq the server has applied for this client. */
  clientSeq: z.number().int().nonnegative(),
  /** The log head (highest position) after this push. */
  head: z.number().int().nonnegative(),
});
export type PushResponse = z.infer<typeof pushResponseSchema>;

/**
 * 200 reply to a push sent with `Prefer: return=minimal` (RFC 7240): the same
 * without `positions`. The server says it left them out with
 * `Preference-Applied: return=minimal`; a server that does not know the
 * preference sends the whole reply, which this schema also accepts.
 */
export const pushResponseMinimalSchema = pushResponseSchema.omit({ positions: true });
export type PushResponseMinimal = z.infer<typeof pushResponseMinimalSchema>;

/**
 * A query parameter that holds a count: a plain decimal integer ("12"), no
 * sign, spaces, exponent, hex or empty string (Number() would take them all).
 */
const decimalParam = z
  .string()
  .regex(/^[0-9]{1,15}$/, 'must be a plain decimal integer')
  .transform((text) => Number(text));

/** GET /v1/logs/:log/pull?after=N&limit=M[&clientId=C] */
export const pullQuerySchema = z.object({
  after: decimalParam,
  limit: decimalParam.pipe(z.number().int().positive().max(DEFAULT_LIMITS.maxPullLimit)).default(1000),
  clientId: idSchema.optional(),
});
export type PullQuery = z.infer<typeof pullQuerySchema>;

export const pullResponseSchema = z.object({
  /** Events with position > after, in position order, at most `limit`. Every one has a position. */
  events: z.array(storedEventSchema.required({ position: true })),
  /** The log head when the page was read. */
  head: z.number().int().nonnegative(),
  /** True when events after the last one returned exist. */
  hasMore: z.boolean(),
  /** With ?clientId: the highest clientSeq the server has applied for that client. */
  clientSeq: z.number().int().nonnegative().optional(),
});
export type PullResponse = z.infer<typeof pullResponseSchema>;

/**
 * POST /v1/logs/:log/fence (protocol version 2)
 * Before a client re-sequences or renumbers its pending events (a rebase), it
 * raises its epoch on the server. From then on the server refuses every push
 * of that client with a lower epoch (STALE_EPOCH): a copy of a push made
 * before the rebase, still travelling, can never be stored after it.
 */
export const fenceRequestSchema = z
  .object({
    protocolVersion: z.literal(2),
    clientId: idSchema,
    epoch: z.number().int().nonnegative(),
  })
  .strict();
export type FenceRequest = z.infer<typeof fenceRequestSchema>;

export const fenceResponseSchema = z.object({
  /** The client's epoch on the server now: the higher of the stored one and the one sent. */
  epoch: z.number().int().nonnegative(),
  /** The client's high-water mark, read under the same lock. */
  clientSeq: z.number().int().nonnegative(),
});
export type FenceResponse = z.infer<typeof fenceResponseSchema>;

/** Messages the server sends on the live channel (WebSocket /v1/logs/:log/live). */
export const liveMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), protocolVersion: z.number().int(), head: z.number().int().nonnegative() }),
  z.object({ type: z.literal('head'), head: z.number().int().nonnegative() }),
]);
export type LiveMessage = z.infer<typeof liveMessageSchema>;

/** Error codes a server replies with, and the HTTP status each goes with. */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNSUPPORTED_PROTOCOL: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  /** The request did not arrive in time (headers or body too slow). */
  REQUEST_TIMEOUT: 408,
  /** The range starts after the next clientSeq the server expects; details.expected names it. */
  CLIENT_SEQ_GAP: 409,
  /** An event's seq is not its aggregate's next seq on the server; details name aggregateId, seq, head. */
  SEQ_CONFLICT: 409,
  /** An event id is already stored for another client or clientSeq. */
  DUPLICATE_EVENT_ID: 409,
  /**
   * A clientSeq at or below the client's high-water mark was re-sent with another event id than
   * the one applied there (a stale or reordered request, or a client that renumbered wrongly);
   * details name clientSeq, id, storedId and position. Nothing of the push is stored.
   */
  CLIENT_SEQ_MISMATCH: 409,
  /**
   * The push carries an epoch below the one the client fenced (a copy of a push made before the
   * client's last rebase); details name epoch and current. Nothing is stored.
   */
  STALE_EPOCH: 409,
  PAYLOAD_TOO_LARGE: 413,
  /**
   * An event's data is not what the app's event definitions say (a server given them, createSyncServer's
   * checkEvents); details name index, id, clientSeq, type, version, field and reason. Nothing is stored.
   */
  INVALID_EVENT: 422,
  /** A push or fence whose content-type is not application/json. */
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  /** The request line and headers together are over the server's limit. */
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;
export type ProtocolErrorCode = keyof typeof ERROR_STATUS;

/** Every non-2xx reply has this body. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).default({}),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

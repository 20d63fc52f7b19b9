import { z } from 'zod';
import { idSchema, storedEventSchema } from './schemas.ts';

/**
 * The sync protocol between a client and a server log. docs/protocol.md is the
 * prose form of this file; the schemas here are the source of truth and are
 * used by both ends to validate every message.
 */
export const PROTOCOL_VERSION = 1;

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
 * expects them to take in their aggregate; no position.
 */
export const pushRequestSchema = z
  .object({
    protocolVersion: z.literal(PROTOCOL_VERSION),
    clientId: idSchema,
    from: z.number().int().positive(),
    to: z.number().int().positive(),
    events: z.array(storedEventSchema.omit({ position: true })),
  })
  .strict()
  .superRefine((push, ctx) => {
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

/** GET /v1/logs/:log/pull?after=N&limit=M[&clientId=C] */
export const pullQuerySchema = z.object({
  after: z.coerce.number().int().nonnegative(),
  limit: z.coerce.number().int().positive().max(DEFAULT_LIMITS.maxPullLimit).default(1000),
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
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
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

import { z } from 'zod';

/** Upper bounds for identifiers, shared by client validation and the server. */
export const MAX_ID_LENGTH = 128;

export const eventMetaSchema = z
  .object({
    occurredAt: z.number().finite(),
    clientId: z.string().min(1).max(MAX_ID_LENGTH),
    clientSeq: z.number().int().positive(),
    correlationId: z.string().max(MAX_ID_LENGTH).optional(),
    causationId: z.string().max(MAX_ID_LENGTH).optional(),
  })
  .strict();

/** The stored form of one event: what a log page holds and what sync exchanges. */
export const storedEventSchema = z
  .object({
    id: z.string().min(1).max(MAX_ID_LENGTH),
    aggregateId: z.string().min(1).max(MAX_ID_LENGTH),
    aggregateType: z.string().min(1).max(MAX_ID_LENGTH),
    seq: z.number().int().positive(),
    type: z.string().min(1).max(MAX_ID_LENGTH),
    version: z.number().int().positive(),
    data: z.unknown(),
    meta: eventMetaSchema,
    position: z.number().int().positive().optional(),
  })
  .strict();

import { z } from 'zod';
import { findIdProblem, findLinkProblem } from './text-rules.ts';

export { MAX_ID_LENGTH } from './text-rules.ts';

/** A string checked by one of text-rules.ts's rules, its problem as the issue's message. */
const ruleSchema = (findProblem: (value: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const problem = findProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** An identifier as both ends accept it (text-rules.ts): 1 to MAX_ID_LENGTH storable characters. */
export const idSchema = ruleSchema(findIdProblem);

/** An optional link (correlation, causation) as both ends accept it (text-rules.ts): a storable string of at most MAX_ID_LENGTH characters. */
export const linkSchema = ruleSchema(findLinkProblem);

export const eventMetaSchema = z
  .object({
    occurredAt: z.number().finite(),
    clientId: idSchema,
    clientSeq: z.number().int().positive(),
    correlationId: linkSchema.optional(),
    causationId: linkSchema.optional(),
  })
  .strict();

/** The stored form of one event: what a log page holds and what sync exchanges. */
export const storedEventSchema = z
  .object({
    id: idSchema,
    aggregateId: idSchema,
    aggregateType: idSchema,
    seq: z.number().int().positive(),
    type: idSchema,
    version: z.number().int().positive(),
    data: z.unknown(),
    meta: eventMetaSchema,
    position: z.number().int().positive().optional(),
  })
  .strict();

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../../src/core/errors.ts';
import { defineEvent } from '../../src/core/event.ts';
import { backoffDelay, defineReaction, reactionCaughtUp } from '../../src/core/reaction.ts';

const Paid = defineEvent({ type: 'Paid', schema: z.object({ amount: z.number() }) });

describe('reaction definitions', () => {
  it('given only a name, events and handlers, then it runs on local events from now, 5 attempts, 1 s to 60 s backoff', () => {
    const reaction = defineReaction({ name: 'charge', events: [Paid], handlers: { Paid: () => undefined } });
    expect(reaction).toMatchObject({
      kind: 'reaction',
      on: 'local',
      startFrom: 'now',
      maxAttempts: 5,
      backoff: { initialMs: 1000, maxMs: 60_000 },
    });
  });

  it('given bad options, then defineReaction says which', () => {
    expect(() => defineReaction({ name: 'a\u0000', events: [Paid], handlers: {} })).toThrow(/NUL/);
    expect(() => defineReaction({ name: 'x', events: [Paid], handlers: {}, on: 'later' as never })).toThrow(/on must be/);
    expect(() => defineReaction({ name: 'x', events: [Paid], handlers: {}, startFrom: 'soon' as never })).toThrow(/startFrom/);
    expect(() => defineReaction({ name: 'x', events: [Paid], handlers: {}, backoff: { initialMs: 10, maxMs: 5 } })).toThrow(/backoff/);
    expect(() => defineReaction({ name: 'x', events: [Paid], handlers: { Paid: 3 as never } })).toThrow(
      new ConfigError('defineReaction(x): the handler for Paid is not a function'),
    );
  });

  it('given a handler left undefined (a misspelt import), then it is refused: a payment reaction must not pass its events by unnoticed', () => {
    expect(() => defineReaction({ name: 'x', events: [Paid], handlers: { Paid: undefined as never } })).toThrow(
      new ConfigError('defineReaction(x): the handler for Paid is not a function'),
    );
  });

  it('given failures, then the pause doubles up to the cap, with at most 20 % taken off', () => {
    const backoff = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(backoff, n, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(backoff, 1, () => 0)).toBe(80);
  });
});

describe('a reaction caught up', () => {
  const log = { confirmedHead: 10, nextLsn: 4 };
  const record = { on: 'local' as const, confirmed: 10, pendingLsn: 4, inFlight: null };
  it('is done with the confirmed head and, acting on local events, the pending area, with nothing in flight', () => {
    expect(reactionCaughtUp(record, log)).toBe(true);
    expect(reactionCaughtUp({ ...record, confirmed: 9 }, log)).toBe(false);
    expect(reactionCaughtUp({ ...record, pendingLsn: 3 }, log)).toBe(false);
    expect(reactionCaughtUp({ ...record, on: 'confirmed', pendingLsn: 0 }, log)).toBe(true);
    expect(reactionCaughtUp({ ...record, inFlight: { eventId: 'e1' } }, log)).toBe(false);
    // A log with nothing in it yet (no meta): every checkpoint is caught up.
    expect(reactionCaughtUp({ ...record, confirmed: 0, pendingLsn: 0 }, undefined)).toBe(true);
  });
});

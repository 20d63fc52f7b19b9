// What deleteStore counts as unfinished work: what deleting the store would lose.
import { describe, expect, it } from 'vitest';
import { unfinishedWork } from '../../src/core/unfinished-work.ts';
import { errorFromJSON, StoreClosedError, UnfinishedWorkError } from '../../src/core/errors.ts';

const meta = { confirmedHead: 10, nextLsn: 4, pendingEvents: 0 };
const reaction = (name: string, over: object = {}) => ({
  name,
  on: 'local' as const,
  confirmed: 10,
  pendingLsn: 4,
  inFlight: null,
  ...over,
});

describe('unfinished work of a store', () => {
  it('is nothing for a synced store whose reactions are caught up with nothing parked', () => {
    expect(unfinishedWork(meta, [reaction('charge')], [], 0)).toEqual({ pendingEvents: 0, reactions: [], rejectedEvents: 0 });
    // A database without the client record (never opened by a store): nothing.
    expect(unfinishedWork(undefined, [], [], 0)).toEqual({ pendingEvents: 0, reactions: [], rejectedEvents: 0 });
  });

  it('counts unconfirmed events, rejected events not dismissed, and names reactions behind, in flight or with parked events', () => {
    const work = unfinishedWork(
      { ...meta, pendingEvents: 3 },
      [
        reaction('caught-up'),
        reaction('behind', { confirmed: 9 }),
        reaction('in-flight', { inFlight: { eventId: 'e1', attempts: 2, lastError: 'declined' } }),
        reaction('parked'),
        // Forgotten by the app (store.forget): it has no work left anywhere.
        reaction('forgotten', { confirmed: 0, forgottenAt: 5 }),
      ],
      [['parked', 'e7']],
      2,
    );
    expect(work).toEqual({ pendingEvents: 3, reactions: ['behind', 'in-flight', 'parked'], rejectedEvents: 2 });
  });
});

describe('the errors of a deletion', () => {
  it('cross the worker boundary with their facts', () => {
    const refused = new UnfinishedWorkError('till', { pendingEvents: 2, reactions: ['charge'], rejectedEvents: 1 });
    const back = errorFromJSON(JSON.parse(JSON.stringify(refused)));
    expect(back).toBeInstanceOf(UnfinishedWorkError);
    expect(back).toMatchObject({
      code: 'UNFINISHED_WORK',
      pendingEvents: 2,
      reactions: ['charge'],
      rejectedEvents: 1,
      message: refused.message,
    });
    const stopped = errorFromJSON(JSON.parse(JSON.stringify(new StoreClosedError('till', 'deleted'))));
    expect(stopped).toBeInstanceOf(StoreClosedError);
    expect(stopped).toMatchObject({ reason: 'deleted' });
  });
});

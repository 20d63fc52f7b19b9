import { describe, expect, it } from 'vitest';
import { allInOrder } from '../../worker/sync/settle-in-order.ts';

const after = <T>(ms: number, outcome: () => T): Promise<T> => new Promise((resolve) => setTimeout(resolve, ms)).then(outcome);

describe('allInOrder (decrypting and sealing a page of events)', () => {
  it('given every item succeeds, then it gives their values in the list order, whatever order they settled in', async () => {
    await expect(allInOrder([after(20, () => 'first'), 'second', after(5, () => 'third')])).resolves.toEqual(['first', 'second', 'third']);
  });

  it('given two items fail, the later one first, then it rejects with the earlier item’s failure', async () => {
    const work = [
      after(5, () => 'opened'),
      after(30, () => {
        throw new Error('event 2 could not be opened');
      }),
      after(1, () => {
        throw new Error('event 3 could not be opened');
      }),
    ];
    await expect(allInOrder(work)).rejects.toThrow('event 2 could not be opened');
  });
});

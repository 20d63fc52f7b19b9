import { describe, expect, it } from 'vitest';
import { createConfirmedHeads, noteStored, repeatedSeqProblem } from '../../worker/confirmed-heads.ts';

describe('a pulled page against the confirmed heads (repeatedSeqProblem)', () => {
  const e = (aggregateId: string, seq: number, id = `${aggregateId}-${seq}`) => ({ id, aggregateId, seq });
  const stored = new Map([['o1', 3]]);
  const headOf = (id: string) => stored.get(id) ?? 0;

  it('passes seqs past each head, counting the page itself', () => {
    expect(repeatedSeqProblem([e('o1', 4), e('o2', 1), e('o1', 5), e('o2', 2)], headOf)).toBeUndefined();
    expect(repeatedSeqProblem([], headOf)).toBeUndefined();
    // A gap is the server withholding events, which the client cannot tell from compaction: not refused here.
    expect(repeatedSeqProblem([e('o1', 9)], headOf)).toBeUndefined();
  });

  it('names the first event at or below its head, stored or earlier in the page', () => {
    expect(repeatedSeqProblem([e('o1', 3)], headOf)).toBe('event o1-3 is seq 3 of aggregate o1, which holds seqs up to 3 already');
    expect(repeatedSeqProblem([e('o2', 1), e('o2', 1, 'again')], headOf)).toMatch(
      /^event again is seq 1 of aggregate o2, which holds seqs up to 1/,
    );
    expect(repeatedSeqProblem([e('o1', 4), e('o1', 2)], headOf)).toMatch(/seq 2 of aggregate o1, which holds seqs up to 4/);
  });

  it('cuts long ids in its message', () => {
    const long = 'x'.repeat(10_000);
    expect(repeatedSeqProblem([e(long, 1), e(long, 1, long)], headOf)!.length).toBeLessThan(300);
  });

  it('keeps the highest seq a stored page reached per aggregate', () => {
    const heads = createConfirmedHeads();
    noteStored(heads, [e('o1', 2), e('o1', 1), e('o2', 7)]);
    expect([...heads.known]).toEqual([
      ['o1', 2],
      ['o2', 7],
    ]);
  });
});

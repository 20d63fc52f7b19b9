import { describe, expect, it } from 'vitest';
import { createLineChecker } from '../../src/client/import-lines.ts';

const line = (over: Record<string, unknown>) =>
  JSON.stringify({ id: 'e1', aggregateId: 'o1', aggregateType: 'Order', seq: 1, type: 'T', version: 1, data: {}, meta: {}, ...over });

describe('importLog line rules', () => {
  it('passes an export: ids once, confirmed seqs in order per aggregate, pending ones after', () => {
    const check = createLineChecker();
    expect(check(line({ id: 'a', position: 1 }), 1)).toMatchObject({ id: 'a', position: 1 });
    check(line({ id: 'b', aggregateId: 'o2', position: 2 }), 2);
    check(line({ id: 'c', seq: 2, position: 3 }), 3);
    // Pending events continue their streams once stored (checked there), not here.
    check(line({ id: 'd', seq: 3 }), 4);
    check(line({ id: 'e', seq: 7 }), 5);
  });

  it.each([
    ['null', 'not an event'],
    ['[1]', 'not an event'],
    ['"x"', 'not an event'],
    ['{"id":', 'not JSON'],
  ])('a line %s is VALIDATION (%s), naming the line', (text, why) => {
    expect(() => createLineChecker()(text, 4)).toThrow(
      expect.objectContaining({ code: 'VALIDATION', path: 'line 4', reason: expect.stringContaining(why) }),
    );
  });

  it('an id twice in the file is VALIDATION naming both lines, confirmed or pending', () => {
    const check = createLineChecker();
    check(line({ id: 'a', position: 1 }), 1);
    expect(() => check(line({ id: 'a', aggregateId: 'o9' }), 7)).toThrow(
      expect.objectContaining({ code: 'VALIDATION', path: 'line 7', reason: 'event id a is the id of line 1 too' }),
    );
  });

  it("a confirmed event that does not follow its aggregate's last one in the file is SEQ_GAP", () => {
    const check = createLineChecker();
    check(line({ id: 'a', seq: 4, position: 10 }), 1);
    check(line({ id: 'x', aggregateId: 'o2', position: 11 }), 2);
    expect(() => check(line({ id: 'b', seq: 6, position: 12 }), 3)).toThrow(
      expect.objectContaining({ code: 'SEQ_GAP', details: { aggregateId: 'o1', expected: 5, got: 6, line: 3 } }),
    );
    const again = createLineChecker();
    again(line({ id: 'a', seq: 1, position: 1 }), 1);
    expect(() => again(line({ id: 'b', seq: 1, position: 2 }), 2)).toThrow(expect.objectContaining({ code: 'SEQ_GAP' }));
  });
});

import { describe, expect, it } from 'vitest';
import { createLogKnowledge } from '../../src/server/store/log-knowledge.ts';

/** What the server remembers of the logs it writes (src/server/store/log-knowledge.ts): bounded in memory. */

const keys = (prefix: string, count: number) => new Map(Array.from({ length: count }, (_, i): [string, number] => [`${prefix}-${i}`, i]));

function rememberLog(knowledge: ReturnType<typeof createLogKnowledge>, log: string, aggregates: number): void {
  knowledge.remember(log, 0, { head: 1, writeId: null, marks: keys('client', 1), epochs: new Map(), heads: keys('agg', aggregates) }, null);
}

describe('log knowledge bounds', () => {
  it('keeps at most four logs’ worth of keys over all logs, dropping the least recently used first', () => {
    const knowledge = createLogKnowledge(100);
    // Eight logs of 99 keys (98 heads and a mark) each: 792 keys, over the 400 kept in all.
    for (let i = 1; i <= 8; i++) rememberLog(knowledge, `log-${i}`, 98);
    const kept = Array.from({ length: 8 }, (_, i) => `log-${i + 1}`).filter((log) => knowledge.get(log) !== undefined);
    expect(kept).toEqual(['log-5', 'log-6', 'log-7', 'log-8']);
    // Used again, a log moves to the end and is kept over the others.
    expect(knowledge.get('log-5')?.heads.size).toBe(98);
    knowledge.remember('log-5', 1, { head: 2, writeId: null, marks: new Map(), epochs: new Map(), heads: new Map() }, null);
    rememberLog(knowledge, 'log-9', 98);
    expect(knowledge.get('log-5')).toBeDefined();
    expect(knowledge.get('log-6')).toBeUndefined();
  });

  it('never drops the log just remembered, and keeps the per-log bound', () => {
    const knowledge = createLogKnowledge(100);
    rememberLog(knowledge, 'small', 10);
    rememberLog(knowledge, 'wide', 99); // 100 keys: at the bound, kept
    expect(knowledge.get('wide')?.heads.size).toBe(99);
    rememberLog(knowledge, 'too-wide', 150); // past the bound: its keys are dropped, the log's head kept
    expect(knowledge.get('too-wide')).toMatchObject({ head: 1 });
    expect(knowledge.get('too-wide')?.heads.size).toBe(0);
    expect(knowledge.get('small')?.heads.size).toBe(10);
  });

  it('keeps at most 64 logs however few keys they hold', () => {
    const knowledge = createLogKnowledge(100);
    for (let i = 1; i <= 70; i++) rememberLog(knowledge, `log-${i}`, 0);
    expect(knowledge.get('log-6')).toBeUndefined();
    expect(knowledge.get('log-7')).toBeDefined();
    expect(knowledge.get('log-70')).toBeDefined();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventOutcome } from '../../src/client/sync.ts';
import { eventually } from '../engine/modes.ts';
import { logOf, openClient, startServer, type Harness } from './harness.ts';

/**
 * Issue 9, point 7 (the client side of poison events): a push the server
 * refuses for good never blocks the queue. The events it names get the
 * `rejected` outcome and are kept in the rejected store; everything else,
 * including edits made later, reaches the server.
 */

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

let harness: Harness;
beforeAll(async () => {
  // Events over 600 bytes are refused for good (413, naming the event); the client's own limit is larger.
  harness = await startServer({ limits: { maxEventBytes: 600, rateLimit: false } });
});
afterAll(() => harness.close());

/** The events of the server's log, pulled by a fresh client. */
async function serverLog(): Promise<{ aggregateId: string; seq: number; sku?: string | undefined }[]> {
  const reader = await openClient(harness.url);
  try {
    await reader.sync.syncNow();
    const out: { aggregateId: string; seq: number; sku?: string | undefined }[] = [];
    for await (const e of reader.readLog()) out.push({ aggregateId: e.aggregateId, seq: e.seq, sku: (e.data as { sku?: string }).sku });
    return out;
  } finally {
    await reader.dispose();
  }
}

describe('a push refused for good does not block the queue', () => {
  it('an event the server refuses (413, too large) is rejected; the events around it and later edits are stored', async () => {
    const a = await openClient(harness.url);
    try {
      const outcomes: EventOutcome[] = [];
      a.sync.onOutcome((o) => outcomes.push(...o));
      await a.sync.pause();
      await a.append('poison-1', [{ type: 'OrderPlaced', data: { customerId: 'c' } }]);
      await a.append('poison-1', [item('x'.repeat(1000))]); // the poison: over the server's 600 bytes
      await a.append('poison-2', [item('fine')]);
      await a.append('poison-1', [item('after')]); // seq 3 locally; the server will have it at 2
      await a.sync.resume();
      await a.sync.syncNow();

      await eventually(() => expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(1));
      const rejected = outcomes.find((o) => o.status === 'rejected')!;
      expect(rejected).toMatchObject({ aggregateId: 'poison-1', type: 'ItemAdded' });
      expect(rejected.reason).toMatch(/600/);
      expect((await a.sync.rejected()).map((r) => [r.code, (r.event.data as { sku: string }).sku.length])).toEqual([
        ['PAYLOAD_TOO_LARGE', 1000],
      ]);
      expect((await a.sync.status()).pending).toBe(0);

      // A later edit still reaches the server.
      await a.append('poison-2', [item('later')]);
      await a.sync.syncNow();
      expect((await a.sync.status()).pending).toBe(0);
      const server = (await serverLog()).filter((e) => e.aggregateId.startsWith('poison-'));
      expect(server).toEqual([
        { aggregateId: 'poison-1', seq: 1, sku: undefined },
        { aggregateId: 'poison-2', seq: 1, sku: 'fine' },
        { aggregateId: 'poison-1', seq: 2, sku: 'after' },
        { aggregateId: 'poison-2', seq: 2, sku: 'later' },
      ]);
      expect((await logOf(a)).filter((e) => e.aggregateId.startsWith('poison-')).every((e) => e.position !== undefined)).toBe(true);
    } finally {
      await a.dispose();
    }
  });

  it('a 400 that names no event is narrowed down by pushing halves: only the refused event is rejected', async () => {
    let refusals = 0;
    // A server (or a proxy before it) whose policy refuses one kind of event, without saying which one.
    const strict: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/push') && typeof init?.body === 'string' && init.body.includes('"sku":"forbidden"')) {
        refusals++;
        return new Response(JSON.stringify({ error: { code: 'BAD_REQUEST', message: 'refused by policy', details: {} } }), {
          status: 400,
          headers: { 'content-type': 'application/json' },
        });
      }
      return fetch(input, init);
    };
    const a = await openClient(harness.url, { fetch: strict });
    try {
      await a.sync.pause();
      const skus = ['s1', 's2', 's3', 'forbidden', 's5', 's6', 's7'];
      for (const [i, sku] of skus.entries()) await a.append(`policy-${i}`, [item(sku)]);
      const outcomes: EventOutcome[] = [];
      a.sync.onOutcome((o) => outcomes.push(...o));
      await a.sync.resume();
      await a.sync.syncNow();
      expect((await a.sync.rejected()).map((r) => [r.code, (r.event.data as { sku: string }).sku, r.reason])).toEqual([
        ['BAD_REQUEST', 'forbidden', expect.stringMatching(/refused by policy/)],
      ]);
      expect(refusals).toBeGreaterThan(1); // it took more than one push to find it
      expect((await a.sync.status()).pending).toBe(0);
      await eventually(() => expect(outcomes.filter((o) => o.status === 'confirmed')).toHaveLength(6));
      const stored = (await serverLog()).filter((e) => e.aggregateId.startsWith('policy-')).map((e) => e.sku);
      expect(stored.sort()).toEqual(['s1', 's2', 's3', 's5', 's6', 's7']);
    } finally {
      await a.dispose();
    }
  });
});

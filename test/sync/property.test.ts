import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteTestDatabase } from '../../src/testing/index.ts';
import { logOf, openClient, startServer, type Client, type Harness } from './harness.ts';

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

type Op =
  | { kind: 'append'; client: number; aggregate: number; count: number }
  | { kind: 'sync'; client: number }
  | { kind: 'offline'; client: number }
  | { kind: 'online'; client: number }
  | { kind: 'crash'; client: number };

const CLIENTS = 3;
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      client: fc.nat(CLIENTS - 1),
      aggregate: fc.nat(3),
      count: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), client: fc.nat(CLIENTS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('offline' as const), client: fc.nat(CLIENTS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('online' as const), client: fc.nat(CLIENTS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), client: fc.nat(CLIENTS - 1) }) },
);

let run = 0;

describe('sync convergence (property)', () => {
  it('any interleaving of appends, syncs, disconnects and crashes converges: nothing lost, nothing duplicated', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 30 }), async (ops) => {
        run++;
        const log = `prop-${run}-${Date.now().toString(36)}`;
        const names = Array.from({ length: CLIENTS }, (_, i) => `prop-${log}-client-${i}`);
        const open = (i: number) => openClient(harness.url, { name: names[i]!, log });
        const clients: Client[] = [];
        for (let i = 0; i < CLIENTS; i++) clients.push(await open(i));
        const appended = new Set<string>();
        const offline = new Set<number>();
        try {
          for (const step of ops) {
            const client = clients[step.client]!;
            switch (step.kind) {
              case 'append': {
                const events = Array.from({ length: step.count }, (_, k) => ({
                  type: 'ItemAdded' as const,
                  data: { sku: `c${step.client}-${appended.size}-${k}`, qty: 1, price: 1 },
                }));
                const result = await client.append(`agg-${step.aggregate}`, events);
                for (const e of result.events) appended.add(e.id);
                break;
              }
              case 'sync':
                if (!offline.has(step.client)) await client.sync.syncNow().catch(() => undefined);
                break;
              case 'offline':
                offline.add(step.client);
                await client.sync.pause();
                break;
              case 'online':
                offline.delete(step.client);
                await client.sync.resume();
                break;
              case 'crash':
                // The tab goes away without a goodbye; pending events must survive the reopen.
                await client.close();
                clients[step.client] = await open(step.client);
                if (offline.has(step.client)) await clients[step.client]!.sync.pause();
                break;
            }
          }
          // Everyone comes back online and syncs until quiet.
          for (let round = 0; round < 2; round++) {
            for (const [i, client] of clients.entries()) {
              if (offline.has(i)) await client.sync.resume();
              await client.sync.syncNow();
            }
          }
          offline.clear();
          const logs = await Promise.all(clients.map(logOf));
          for (const l of logs) expect(l).toEqual(logs[0]);
          const ids = logs[0]!.map((e) => e.id);
          expect(new Set(ids).size).toBe(ids.length);
          expect(new Set(ids)).toEqual(appended);
          expect(logs[0]!.every((e, i) => e.position === i + 1)).toBe(true);
          const byAggregate = new Map<string, number[]>();
          for (const e of logs[0]!) byAggregate.set(e.aggregateId, [...(byAggregate.get(e.aggregateId) ?? []), e.seq]);
          for (const seqs of byAggregate.values()) expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
          for (const client of clients) expect((await client.sync.status()).pending).toBe(0);
        } finally {
          for (const client of clients) await client.close().catch(() => undefined);
          for (const name of names) await deleteTestDatabase(name);
        }
      }),
      { numRuns: 15, endOnFailure: true },
    );
  });
});

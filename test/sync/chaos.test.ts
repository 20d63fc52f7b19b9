import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChaosProxy, type ChaosProxy } from './chaos-proxy.ts';
import { logOf, openClient, startServer, type Harness } from './harness.ts';

let harness: Harness;
let proxy: ChaosProxy;
beforeAll(async () => {
  harness = await startServer();
  proxy = await startChaosProxy(harness.url);
});
afterAll(async () => {
  await proxy.close();
  await harness.close();
});

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });

describe('duplicated and reordered requests', () => {
  it('pushes sent twice, and again late after later pushes, are stored exactly once', async () => {
    const behindProxy = await openClient(proxy.url, { log: 'chaos', pushLimit: 7 });
    const direct = await openClient(harness.url, { log: 'chaos' });
    try {
      const ids: string[] = [];
      for (let round = 0; round < 6; round++) {
        for (let i = 0; i < 10; i++) {
          const r = await behindProxy.append(`c-${i % 3}`, [item(`p${round}-${i}`)]);
          ids.push(r.events[0]!.id);
        }
        await direct.append(`c-${round % 3}`, [item(`d${round}`)]);
        await direct.sync.syncNow();
        await behindProxy.sync.syncNow();
      }
      await behindProxy.sync.syncNow();
      await direct.sync.syncNow();
      expect(proxy.stats.duplicated).toBeGreaterThan(5);
      expect(proxy.stats.delayed).toBeGreaterThan(5);
      const [a, b] = [await logOf(behindProxy), await logOf(direct)];
      expect(a).toEqual(b);
      expect(a).toHaveLength(66);
      expect(new Set(a.map((e) => e.id)).size).toBe(66);
      for (const id of ids) expect(a.some((e) => e.id === id)).toBe(true);
      expect((await behindProxy.sync.status()).pending).toBe(0);
    } finally {
      await behindProxy.dispose();
      await direct.dispose();
    }
  });
});

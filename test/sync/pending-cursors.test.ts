import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogCursor } from '../../src/core/cursor.ts';
import { collect, eventually } from '../engine/modes.ts';
import { openClient, startServer, type Harness } from './harness.ts';

/**
 * A pending page confirmed in parts by a real server (pushes bounded by the
 * push limit): cursors taken into it before still name their events, and a
 * read resumed after one hands over exactly the events after it.
 * (test/engine/pending-cursors.test.ts covers the engine's side in Node and
 * Chromium.)
 */

let harness: Harness;
beforeAll(async () => {
  harness = await startServer();
});
afterAll(async () => {
  await harness.close();
});

const item = (sku: string) => ({ type: 'ItemAdded' as const, data: { sku, qty: 1, price: 1 } });
const skuOf = (event: { data: unknown }) => (event.data as { sku: string }).sku;
const skus = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `s${from + i}`);

describe('pending cursors across a sync that confirms a page in parts', () => {
  it('a readLog resumed after a pending cursor hands over the events after it, and a whole-log reader sees each event once', async () => {
    let pushes = 0;
    let holding: Promise<void> | undefined;
    let release: (() => void) | undefined;
    const gated: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/push')) {
        pushes++;
        if (holding) await holding;
      }
      return fetch(input, init);
    };
    const a = await openClient(harness.url, { log: 'pending-cursors-1', fetch: gated, pushLimit: 4 });
    try {
      await a.sync.syncNow();
      await a.sync.pause();
      // One append of ten events to one aggregate: one pending page, pushed four events at a time.
      await a.append('o-1', skus(0, 9).map(item));
      const entries = (await collect(a.scan({ status: 'pending' }))).flat();
      const places = new Map<string, LogCursor>(entries.map((e) => [skuOf(e.event), e.cursor]));
      expect(new Set(entries.map((e) => e.cursor.page)).size).toBe(1);
      const at6 = places.get('s6')!;
      // A whole-log reader has seen everything up to s6.
      const seen = (await collect(a.readLog())).map(skuOf).slice(0, 7);
      expect(seen).toEqual(skus(0, 6));

      // One push goes out and is confirmed (s0..s3); the round stops after it.
      const sent = pushes;
      holding = new Promise<void>((resolve) => (release = resolve));
      await a.sync.resume();
      await eventually(() => expect(pushes).toBe(sent + 1));
      const pausing = a.sync.pause();
      holding = undefined;
      release!();
      await pausing;
      expect((await a.sync.status()).pending).toBe(6);

      expect((await collect(a.readLog({ status: 'pending', after: at6 }))).map(skuOf)).toEqual(skus(7, 9));
      const rest = (await collect(a.readLog({ after: at6 }))).map(skuOf);
      expect(rest).toEqual(skus(7, 9));
      expect([...seen, ...rest]).toEqual(skus(0, 9));
      const left = (await collect(a.scan({ status: 'pending' }))).flat();
      expect(left.map((e) => [skuOf(e.event), e.cursor])).toEqual(skus(4, 9).map((s) => [s, places.get(s)]));

      await a.sync.resume();
      await a.sync.syncNow();
      expect((await a.sync.status()).pending).toBe(0);
      expect((await collect(a.readLog({ status: 'pending', after: at6 }))).map(skuOf)).toEqual([]);
      expect((await collect(a.readLog())).map(skuOf)).toEqual(skus(0, 9));
    } finally {
      await a.dispose();
    }
  });
});

import { describe, expect, it, vi } from 'vitest';
import { importKeyring, isEncryptedEnvelope, sealEvent, type Keyring } from '../../src/core/encryption.ts';
import { EncryptionKeyError } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { KEYS_WAIT_MS, withEncryption } from '../../worker/sync/encryption.ts';
import type { PullPage, Transport } from '../../worker/sync/transport.ts';

/**
 * The encryption layer around the transport (worker/sync/encryption.ts), over
 * a fake transport that records what would have gone to the server: given a
 * keyring, when the sync pushes or pulls, then what is sent and what is handed
 * on to be stored.
 */

const LOG = 'orders';
const key = (fill: number) => new Uint8Array(32).fill(fill);

const event = (n: number, aggregateId = 'order-1'): StoredEvent => ({
  id: `id-${n}`,
  aggregateId,
  aggregateType: 'Order',
  seq: n,
  type: 'ItemAdded',
  version: 1,
  data: { sku: `secret-sku-${n}` },
  meta: { occurredAt: 1000 + n, clientId: 'client-a', clientSeq: n },
});

/** Serves each page to the pull whose `after` is right before its first position (as a server would). */
function fakeTransport(pages: PullPage[] = []) {
  const pushed: StoredEvent[][] = [];
  const pulls: number[] = [];
  const transport: Transport = {
    async push(_clientId, events) {
      pushed.push(events);
      return { positions: [], duplicates: 0, clientSeq: 0, head: 0 };
    },
    async fence() {
      return { epoch: 1, clientSeq: 0 };
    },
    async pull(after) {
      pulls.push(after);
      return pages.find((p) => p.events[0]?.position === after + 1) ?? { events: [], head: after, hasMore: false };
    },
    async liveUrl() {
      return 'ws://nowhere';
    },
  };
  return { transport, pushed, pulls };
}

async function sealed(keyring: Keyring, events: StoredEvent[]): Promise<StoredEvent[]> {
  const ring = await importKeyring(keyring, LOG);
  return Promise.all(
    events.map(async (e, i) => ({
      ...(await sealEvent(e, LOG, { id: ring.current, key: ring.keys.get(ring.current)! })),
      position: i + 1,
    })),
  );
}

const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e as EncryptionKeyError,
  );

describe('push', () => {
  it('sends every event sealed with the current key, and asks for the keyring before each push (a rotation takes effect at once)', async () => {
    const { transport, pushed } = fakeTransport();
    let keyring: Keyring = { current: 'k1', keys: { k1: key(1) } };
    let asked = 0;
    const t = withEncryption(transport, LOG, {}, async () => (asked++, keyring));
    await t.push('client-a', [event(1), event(2)], 0);
    keyring = { current: 'k2', keys: { k1: key(1), k2: key(2) } };
    await t.push('client-a', [event(3)], 0);
    expect(asked).toBe(2);
    expect(pushed.flat().map((e) => (e.data as { kid: string }).kid)).toEqual(['k1', 'k1', 'k2']);
    expect(pushed.flat().every((e) => isEncryptedEnvelope(e.data))).toBe(true);
    expect(JSON.stringify(pushed)).not.toContain('secret-sku');
  });

  it('pushes nothing when the current key is missing, the keyring is unusable or the keys callback fails', async () => {
    const cases: [() => Promise<Keyring | undefined>, string][] = [
      [async () => ({ current: 'k2', keys: { k1: key(1) } }), 'no-current-key'],
      [async () => ({ current: 'k1', keys: { k1: new Uint8Array(3) } }), 'keyring'],
      [async () => undefined, 'keyring'],
      [
        async () => {
          throw new Error('vault locked');
        },
        'keyring',
      ],
    ];
    for (const [keys, reason] of cases) {
      const { transport, pushed } = fakeTransport();
      const error = await errorOf(withEncryption(transport, LOG, {}, keys).push('client-a', [event(1)], 0));
      expect(error).toBeInstanceOf(EncryptionKeyError);
      expect(error).toMatchObject({ reason, code: 'ENCRYPTION_KEY' });
      expect(pushed).toEqual([]);
    }
  });

  it('a keys callback that does not answer fails the push after KEYS_WAIT_MS; the next push waits for the same call, not a new one', async () => {
    vi.useFakeTimers();
    try {
      const { transport, pushed } = fakeTransport();
      let answer!: (keyring: Keyring) => void;
      let asked = 0;
      const t = withEncryption(transport, LOG, {}, () => {
        asked++;
        return new Promise<Keyring>((resolve) => (answer = resolve)); // waiting for a passphrase
      });
      const first = errorOf(t.push('client-a', [event(1)], 0));
      await vi.advanceTimersByTimeAsync(KEYS_WAIT_MS);
      expect(await first).toMatchObject({ reason: 'keyring', message: expect.stringMatching(/did not answer within 30 s/) });
      expect(pushed).toEqual([]);
      const second = t.push('client-a', [event(1)], 0);
      answer({ current: 'k1', keys: { k1: key(1) } });
      await second;
      expect(asked).toBe(1);
      expect(pushed).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('sync stopping lets go of a keys callback that has not answered', async () => {
    const stopping = new AbortController();
    const { transport, pushed } = fakeTransport();
    const t = withEncryption(
      transport,
      LOG,
      {},
      () => new Promise<Keyring>(() => undefined),
      () => stopping.signal,
    );
    const push = errorOf(t.push('client-a', [event(1)], 0));
    stopping.abort();
    expect(await push).toMatchObject({ reason: 'keyring', message: expect.stringMatching(/sync stopped/) });
    expect(pushed).toEqual([]);
  });

  it('with hashAggregateIds: replaces each aggregateId by its keyed hash, the same for every event of an aggregate; without aggregateIdKey it pushes nothing', async () => {
    const { transport, pushed } = fakeTransport();
    const t = withEncryption(transport, LOG, { hashAggregateIds: true }, async () => ({
      current: 'k1',
      keys: { k1: key(1) },
      aggregateIdKey: key(9),
    }));
    await t.push('client-a', [event(1, 'order-1'), event(2, 'order-2'), event(3, 'order-1')], 0);
    const ids = pushed[0]!.map((e) => e.aggregateId);
    expect(ids[0]).toBe(ids[2]);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids.every((id) => id.startsWith('h1:'))).toBe(true);
    expect(JSON.stringify(pushed)).not.toContain('order-');

    const bare = fakeTransport();
    const error = await errorOf(
      withEncryption(bare.transport, LOG, { hashAggregateIds: true }, async () => ({ current: 'k1', keys: { k1: key(1) } })).push(
        'c',
        [event(1)],
        0,
      ),
    );
    expect(error).toMatchObject({ reason: 'no-aggregate-id-key' });
    expect(bare.pushed).toEqual([]);
  });
});

describe('pull', () => {
  it('hands on the page decrypted', async () => {
    const keyring: Keyring = { current: 'k1', keys: { k1: key(1) } };
    const { transport } = fakeTransport([{ events: await sealed(keyring, [event(1), event(2)]), head: 2, hasMore: false }]);
    const page = await withEncryption(transport, LOG, {}, async () => keyring).pull(0, 100);
    expect(page.events).toEqual([
      { ...event(1), position: 1 },
      { ...event(2), position: 2 },
    ]);
  });

  it('fails the whole page when one event does not open: nothing of it is handed on', async () => {
    const keyring: Keyring = { current: 'k1', keys: { k1: key(1) } };
    const events = await sealed(keyring, [event(1), event(2), event(3)]);
    events[2] = { ...events[2]!, seq: 99 }; // its clear fields no longer match the ciphertext
    const { transport } = fakeTransport([{ events, head: 3, hasMore: false }]);
    const error = await errorOf(withEncryption(transport, LOG, {}, async () => keyring).pull(0, 100));
    expect(error).toMatchObject({ reason: 'decrypt-failed', eventId: 'id-3', keyId: 'k1', operation: 'pull' });
  });

  it('asks for the keyring again once when a page names a key it lacks, and reads the page if the key came', async () => {
    const old: Keyring = { current: 'k1', keys: { k1: key(1) } };
    const rotated: Keyring = { current: 'k2', keys: { k1: key(1), k2: key(2) } };
    const { transport } = fakeTransport([
      { events: await sealed(old, [event(1)]), head: 2, hasMore: true },
      { events: (await sealed(rotated, [event(2)])).map((e) => ({ ...e, position: 2 })), head: 2, hasMore: false },
    ]);
    let keyring = old;
    let asked = 0;
    const t = withEncryption(transport, LOG, {}, async () => (asked++, keyring));
    expect((await t.pull(0, 1)).events).toHaveLength(1);
    keyring = rotated; // the app rotated meanwhile
    expect((await t.pull(1, 1)).events[0]).toMatchObject({ id: 'id-2', data: { sku: 'secret-sku-2' } });
    expect(asked).toBeGreaterThanOrEqual(2);
  });

  it('reads the next page ahead while the caller stores this one; the next pull takes it, any other call drops it', async () => {
    const keyring: Keyring = { current: 'k1', keys: { k1: key(1) } };
    const all = await sealed(keyring, [event(1), event(2), event(3), event(4)]);
    const pages = [0, 1, 2, 3].map((i) => ({ events: [all[i]!], head: 4, hasMore: i < 3 }));
    const { transport, pulls } = fakeTransport(pages);
    const t = withEncryption(transport, LOG, {}, async () => keyring);
    expect((await t.pull(0, 1)).events[0]!.id).toBe('id-1');
    expect((await t.pull(1, 1)).events[0]!.id).toBe('id-2');
    expect(pulls).toEqual([0, 1, 2]); // page 2 came from the read ahead; page 3 is being read ahead
    await t.fence('client-a', 1); // drops the page read ahead
    expect((await t.pull(2, 1)).events[0]!.id).toBe('id-3');
    expect(pulls).toEqual([0, 1, 2, 2, 3]);
    expect((await t.pull(0, 1)).events[0]!.id).toBe('id-1'); // not the page read ahead (3): pulled as asked, and 1 read ahead
    expect(pulls).toEqual([0, 1, 2, 2, 3, 0, 1]);
  });

  it('with a keyring still lacking the key after asking again: unknown-key', async () => {
    const { transport } = fakeTransport([
      { events: await sealed({ current: 'k1', keys: { k1: key(1) } }, [event(1)]), head: 1, hasMore: false },
    ]);
    const error = await errorOf(withEncryption(transport, LOG, {}, async () => ({ current: 'k2', keys: { k2: key(2) } })).pull(0, 10));
    expect(error).toMatchObject({ reason: 'unknown-key', keyId: 'k1', eventId: 'id-1' });
  });

  it('refuses plaintext events unless acceptPlaintext, which stores them as they are', async () => {
    const keyring: Keyring = { current: 'k1', keys: { k1: key(1) } };
    const mixed = async () => [{ ...event(1), position: 1 }, ...(await sealed(keyring, [event(2)])).map((e) => ({ ...e, position: 2 }))];
    const strict = fakeTransport([{ events: await mixed(), head: 2, hasMore: false }]);
    expect(await errorOf(withEncryption(strict.transport, LOG, {}, async () => keyring).pull(0, 10))).toMatchObject({
      reason: 'not-encrypted',
      eventId: 'id-1',
    });
    const lenient = fakeTransport([{ events: await mixed(), head: 2, hasMore: false }]);
    const page = await withEncryption(lenient.transport, LOG, { acceptPlaintext: true }, async () => keyring).pull(0, 10);
    expect(page.events.map((e) => e.data)).toEqual([{ sku: 'secret-sku-1' }, { sku: 'secret-sku-2' }]);
  });

  it('in a store without encryption: an encrypted event is no-keys, plaintext passes, and pushes go out unchanged', async () => {
    const keyring: Keyring = { current: 'k1', keys: { k1: key(1) } };
    const { transport, pushed } = fakeTransport([
      { events: [{ ...event(1), position: 1 }], head: 2, hasMore: true },
      { events: (await sealed(keyring, [event(2)])).map((e) => ({ ...e, position: 2 })), head: 2, hasMore: false },
    ]);
    const t = withEncryption(transport, LOG, undefined, undefined);
    expect((await t.pull(0, 1)).events[0]!.data).toEqual({ sku: 'secret-sku-1' });
    expect(await errorOf(t.pull(1, 1))).toMatchObject({ reason: 'no-keys', keyId: 'k1', eventId: 'id-2' });
    await t.push('client-a', [event(3)], 0);
    expect(pushed).toEqual([[event(3)]]);
  });

  it('in a store without encryption that synced with encryption before: a push is no-keys and sends nothing', async () => {
    const { transport, pushed } = fakeTransport();
    const marker: { before?: { log: string; since: number } } = {};
    const t = withEncryption(transport, LOG, undefined, undefined, undefined, async () => marker.before);
    await t.push('client-a', [event(1)], 0);
    marker.before = { log: LOG, since: Date.UTC(2026, 0, 2) };
    const error = await errorOf(t.push('client-a', [event(2)], 0));
    expect(error).toMatchObject({ code: 'ENCRYPTION_KEY', reason: 'no-keys', operation: 'push', log: LOG });
    expect((error as Error).message).toContain('since 2026-01-02T00:00:00.000Z');
    expect(pushed).toEqual([[event(1)]]);
  });
});

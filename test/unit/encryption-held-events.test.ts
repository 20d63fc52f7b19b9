import { describe, expect, it } from 'vitest';
import { importKeyring, isEncryptedEnvelope, sealEvent, type Keyring } from '../../src/core/encryption.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { withEncryption } from '../../worker/sync/encryption.ts';
import type { PullPage, Transport } from '../../worker/sync/transport.ts';

/**
 * A round's first pull starts at the last event the client holds (to check the server still holds it) and
 * says so (Transport.pull's `held`). The encryption layer need not open such an event: one under a key
 * the keyring no longer has is handed on as it came (the round does not store it again), so dropping a key
 * stops only clients that have yet to pull its events. One whose key is at hand is still opened and
 * checked, and every event after `held` must open as before.
 */

const LOG = 'orders';
const key = (fill: number) => new Uint8Array(32).fill(fill);
const K1: Keyring = { current: 'k1', keys: { k1: key(1) } };
const K2: Keyring = { current: 'k2', keys: { k2: key(2) } };

const event = (n: number): StoredEvent => ({
  id: `id-${n}`,
  aggregateId: `order-${n}`,
  aggregateType: 'Order',
  seq: 1,
  type: 'OrderPlaced',
  version: 1,
  data: { customerId: `c${n}` },
  meta: { occurredAt: n, clientId: 'client-a', clientSeq: n },
});

async function sealedWith(keyring: Keyring, n: number): Promise<StoredEvent> {
  const ring = await importKeyring(keyring, LOG);
  return { ...(await sealEvent(event(n), LOG, { id: ring.current, key: ring.keys.get(ring.current)! })), position: n };
}

const serving = (events: StoredEvent[]): Transport => ({
  push: () => Promise.reject(new Error('not here')),
  fence: () => Promise.reject(new Error('not here')),
  pull: async (after): Promise<PullPage> => ({ events: events.filter((e) => e.position! > after), head: events.length, hasMore: false }),
  liveUrl: async () => 'ws://nowhere',
});

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('events the client holds', () => {
  it('one under a dropped key is handed on unopened; the events after it are opened', async () => {
    const events = [await sealedWith(K1, 1), await sealedWith(K2, 2)];
    const page = await withEncryption(serving(events), LOG, {}, async () => K2).pull(0, 10, undefined, 1);
    expect(isEncryptedEnvelope(page.events[0]!.data)).toBe(true);
    expect(page.events[1]).toMatchObject({ id: 'id-2', data: { customerId: 'c2' } });
  });

  it('an event after `held` under a dropped key is still unknown-key', async () => {
    const events = [await sealedWith(K1, 1), await sealedWith(K1, 2)];
    const layer = withEncryption(serving(events), LOG, {}, async () => K2);
    expect(await failure(layer.pull(0, 10, undefined, 1))).toMatchObject({ reason: 'unknown-key', eventId: 'id-2', keyId: 'k1' });
    expect(await failure(layer.pull(0, 10))).toMatchObject({ reason: 'unknown-key', eventId: 'id-1' });
  });

  it('one whose key is at hand is opened and checked: altered, it is decrypt-failed', async () => {
    const held = { ...(await sealedWith(K1, 1)), seq: 7 };
    const layer = withEncryption(serving([held]), LOG, {}, async () => K1);
    expect(await failure(layer.pull(0, 10, undefined, 1))).toMatchObject({ reason: 'decrypt-failed', eventId: 'id-1' });
  });

  it('in a store opened without encryption, a held encrypted event passes; a new one is no-keys', async () => {
    const held = await sealedWith(K1, 1);
    expect((await withEncryption(serving([held]), LOG, undefined, undefined).pull(0, 10, undefined, 1)).events).toEqual([held]);
    const layer = withEncryption(serving([held, await sealedWith(K1, 2)]), LOG, undefined, undefined);
    expect(await failure(layer.pull(0, 10, undefined, 1))).toMatchObject({ reason: 'no-keys', eventId: 'id-2' });
  });
});

import { describe, expect, it } from 'vitest';
import { hashAggregateId, importKeyring, openEvent, sealEvent, type ClearAggregateIds, type Keyring } from '../../src/core/encryption.ts';
import { EncryptionKeyError } from '../../src/core/errors.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { withEncryption } from '../../worker/sync/encryption.ts';
import type { PullPage, Transport } from '../../worker/sync/transport.ts';

/**
 * An opened event's clear aggregateId (what the server files it under) must be the one its ciphertext
 * names: with hashAggregateIds, `h1:` + the keyed hash of the id sealed inside; without, that id itself.
 * Otherwise clients that disagree on the setting, a store that turned it on later, or a key holder writing
 * a wrong id inside would split one aggregate into two streams: `aggregate-id-mismatch`, naming the event,
 * never the sealed id (plaintext).
 */

const LOG = 'orders';
const SECRET_ID = 'order-of-Ada-Lovelace';
const RING: Keyring = { current: 'k1', keys: { k1: new Uint8Array(32).fill(1) }, aggregateIdKey: new Uint8Array(32).fill(9) };

const event = (aggregateId = SECRET_ID): StoredEvent => ({
  id: 'e-1',
  aggregateId,
  aggregateType: 'Order',
  seq: 1,
  type: 'OrderPlaced',
  version: 1,
  data: { customerId: 'c1' },
  meta: { occurredAt: 1, clientId: 'client-a', clientSeq: 1 },
});

async function setup() {
  const ring = await importKeyring(RING, LOG);
  const key = { id: 'k1', key: ring.keys.get('k1')! };
  const hash = (id: string) => hashAggregateId(ring.aggregateIdKey!, LOG, id);
  const hashed: ClearAggregateIds = { hashed: true, hash };
  const plain: ClearAggregateIds = { hashed: false };
  const open = (wire: StoredEvent, ids: ClearAggregateIds) => openEvent({ ...wire, position: 1 }, LOG, (kid) => ring.keys.get(kid), ids);
  return { key, hash, hashed, plain, open };
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e,
  );

function expectMismatch(error: unknown, says: RegExp): void {
  expect(error).toBeInstanceOf(EncryptionKeyError);
  expect(error).toMatchObject({ reason: 'aggregate-id-mismatch', eventId: 'e-1', keyId: 'k1', operation: 'pull', log: LOG });
  expect((error as Error).message).toMatch(says);
  expect(JSON.stringify((error as EncryptionKeyError).details) + (error as Error).message).not.toContain(SECRET_ID);
}

describe('the clear aggregateId against the sealed one', () => {
  it('opens what its own setting wrote: hashed with the id inside, or clear with none', async () => {
    const { key, hash, hashed, plain, open } = await setup();
    const wireHashed = await sealEvent(event(), LOG, key, await hash(SECRET_ID));
    expect((await open(wireHashed, hashed)).aggregateId).toBe(SECRET_ID);
    expect((await open(await sealEvent(event('order-2'), LOG, key), plain)).aggregateId).toBe('order-2');
  });

  it('hashing on, an event written with it off (no id inside): aggregate-id-mismatch, naming the clear id', async () => {
    const { key, hashed, open } = await setup();
    const error = await failure(open(await sealEvent(event('order-2'), LOG, key), hashed));
    expectMismatch(error, /hashAggregateIds is on here, and its clear aggregateId "order-2" is no keyed hash/);
  });

  it('hashing off, an event written with it on: aggregate-id-mismatch, and the sealed id is not shown', async () => {
    const { key, hash, plain, open } = await setup();
    const error = await failure(open(await sealEvent(event(), LOG, key, await hash(SECRET_ID)), plain));
    expectMismatch(error, /hashAggregateIds is off here, and its ciphertext names another aggregateId than its clear one, "h1:/);
  });

  it('hashing on, a clear hash of another id than the one inside (a forged event): aggregate-id-mismatch', async () => {
    const { key, hash, hashed, open } = await setup();
    const forged = await sealEvent(event(), LOG, key, await hash('order-2'));
    expectMismatch(await failure(open(forged, hashed)), /is not h1: \+ the keyed hash of the id its ciphertext names/);
  });
});

describe('through the encryption layer', () => {
  const pageOf = (events: StoredEvent[]): Transport => ({
    push: () => Promise.reject(new Error('not here')),
    fence: () => Promise.reject(new Error('not here')),
    pull: async (): Promise<PullPage> => ({
      events: events.map((e, i) => ({ ...e, position: i + 1 })),
      head: events.length,
      hasMore: false,
    }),
    liveUrl: async () => 'ws://nowhere',
  });

  it('checks every event of a page; a mismatch fails the whole page', async () => {
    const { key, hash } = await setup();
    const good = await sealEvent(event(), LOG, key, await hash(SECRET_ID));
    const unhashed = await sealEvent({ ...event('order-2'), id: 'e-2' }, LOG, key);
    const layer = withEncryption(pageOf([good, unhashed]), LOG, { hashAggregateIds: true }, async () => RING);
    expect(await failure(layer.pull(0, 10))).toMatchObject({ reason: 'aggregate-id-mismatch', eventId: 'e-2' });
    const off = withEncryption(pageOf([good]), LOG, {}, async () => RING);
    expect(await failure(off.pull(0, 10))).toMatchObject({ reason: 'aggregate-id-mismatch', eventId: 'e-1' });
  });

  it('hashing on and a keyring without aggregateIdKey: the check cannot be made, no-aggregate-id-key (pull)', async () => {
    const { key, hash } = await setup();
    const good = await sealEvent(event(), LOG, key, await hash(SECRET_ID));
    const { aggregateIdKey: _, ...withoutIdKey } = RING;
    const layer = withEncryption(pageOf([good]), LOG, { hashAggregateIds: true }, async () => withoutIdKey);
    expect(await failure(layer.pull(0, 10))).toMatchObject({ reason: 'no-aggregate-id-key', operation: 'pull' });
  });
});

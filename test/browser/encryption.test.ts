import { describe, expect, inject, it } from 'vitest';
import { EncryptionKeyError, type Keyring } from '../../src/client/index.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { model, Order } from '../fixtures/model.ts';

/**
 * End-to-end encryption in Chromium, with the engine in a Web Worker: the
 * keyring is given in the page and reaches the worker by structured clone (a
 * non-extractable CryptoKey included); the error of a client without keys
 * crosses the worker boundary as EncryptionKeyError.
 */

const MARKER = 'MARKER-browser-5c1e-Grace-Hopper';
const sync = (log: string) => ({
  url: inject('syncUrl'),
  log,
  token: 'browser-token',
  pollIntervalMs: 60_000,
  initialBackoffMs: 50,
  live: false,
});

async function serverEvents(log: string): Promise<{ data: unknown }[]> {
  const response = await fetch(`${inject('syncUrl')}/v1/logs/${log}/pull?after=0&limit=1000`, {
    headers: { authorization: 'Bearer browser-token' },
  });
  return ((await response.json()) as { events: { data: unknown }[] }).events;
}

async function ids(store: { readLog(): AsyncIterable<{ id: string; position?: number | undefined }> }): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.readLog()) out.push(`${e.position}:${e.id}`);
  return out;
}

describe('encrypted sync in Chromium (engine in a Web Worker)', () => {
  it('two clients with the key converge (a CryptoKey and the same key as raw bytes); the server holds ciphertext only', async () => {
    const log = `enc-browser-${Date.now().toString(36)}`;
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const cryptoKey = await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
    const viaCryptoKey: Keyring = { current: 'k1', keys: { k1: cryptoKey } };
    const viaBytes: Keyring = { current: 'k1', keys: { k1: raw } };
    const a = await openTestStore({ ...model, worker: true, sync: { ...sync(log), encryption: { keys: async () => viaCryptoKey } } });
    const b = await openTestStore({ ...model, worker: true, sync: { ...sync(log), encryption: { keys: viaBytes } } });
    try {
      expect(a.inWorker && b.inWorker).toBe(true);
      await a.append('o1', [
        { type: 'OrderPlaced', data: { customerId: MARKER } },
        { type: 'ItemAdded', data: { sku: 'tea', qty: 2, price: 3 } },
      ]);
      await a.sync.syncNow();
      await b.sync.syncNow();
      await b.append('o1', [{ type: 'ItemAdded', data: { sku: `sku-${MARKER}`, qty: 1, price: 4 } }], { expectedVersion: 2 });
      await b.sync.syncNow();
      await a.sync.syncNow();
      expect(await ids(a)).toEqual(await ids(b));
      expect((await ids(a)).length).toBe(3);
      expect((await a.load(Order, 'o1')).state).toMatchObject({ customerId: MARKER, total: 10 });
      expect((await b.load(Order, 'o1')).state).toMatchObject({ customerId: MARKER, total: 10 });
      const wire = await serverEvents(log);
      expect(wire).toHaveLength(3);
      expect(JSON.stringify(wire)).not.toContain(MARKER);
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('a client without keys gets EncryptionKeyError across the worker boundary and stores nothing', async () => {
    const log = `enc-browser-nokey-${Date.now().toString(36)}`;
    const a = await openTestStore({
      ...model,
      worker: true,
      sync: { ...sync(log), encryption: { keys: { current: 'k1', keys: { k1: new Uint8Array(32).fill(3) } } } },
    });
    const c = await openTestStore({ ...model, worker: true, sync: sync(log) });
    try {
      await a.append('o1', [{ type: 'OrderPlaced', data: { customerId: MARKER } }]);
      await a.sync.syncNow();
      const error = await c.sync.syncNow().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(EncryptionKeyError);
      expect(error).toMatchObject({ code: 'ENCRYPTION_KEY', reason: 'no-keys', keyId: 'k1' });
      expect((await c.sync.status()).lastError).toMatchObject({ code: 'ENCRYPTION_KEY' });
      expect(await ids(c)).toEqual([]);
    } finally {
      await a.dispose();
      await c.dispose();
    }
  });
});

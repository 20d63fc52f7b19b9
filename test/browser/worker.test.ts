// Browser-only: proves Vite serves module Web Workers from repo files in
// browser mode, that comlink works across the boundary, and that IndexedDB is
// available inside the worker and shared with the page (same origin).
import { type Remote, releaseProxy, wrap } from 'comlink';
import { deleteDB, openDB } from 'idb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EchoWorkerApi } from './fixtures/echo.worker';

describe('module Web Worker + comlink', () => {
  let worker: Worker;
  let api: Remote<EchoWorkerApi>;
  const dbNames: string[] = [];

  beforeEach(() => {
    worker = new Worker(new URL('./fixtures/echo.worker.ts', import.meta.url), { type: 'module' });
    worker.addEventListener('error', (event) => {
      // Surfaces module load/parse failures, which otherwise look like a hanging comlink call.
      console.error('echo.worker error:', event.message || event);
    });
    api = wrap<EchoWorkerApi>(worker);
  });

  afterEach(async () => {
    api[releaseProxy]();
    worker.terminate();
    await Promise.all(dbNames.splice(0).map((name) => deleteDB(name)));
  });

  it('answers a comlink call from inside a worker scope', async () => {
    await expect(api.echo('hello')).resolves.toBe('hello');
    await expect(api.echo({ n: 1, list: [1, 2, 3], at: new Date(5) })).resolves.toEqual({
      n: 1,
      list: [1, 2, 3],
      at: new Date(5),
    });
    await expect(api.isWorkerScope()).resolves.toBe(true);
  });

  it('uses IndexedDB inside the worker, visible to the page', async () => {
    const dbName = `worker-idb-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    dbNames.push(dbName);
    const value = { stream: 'cart-42', seq: 1, payload: { qty: 2 } };

    await expect(api.idbRoundTrip(dbName, 'k1', value)).resolves.toEqual(value);

    // Same origin => same IndexedDB: the page sees what the worker wrote.
    const db = await openDB(dbName, 1);
    try {
      expect([...db.objectStoreNames]).toEqual(['kv']);
      await expect(db.get('kv', 'k1')).resolves.toEqual(value);
    } finally {
      db.close();
    }
  });
});

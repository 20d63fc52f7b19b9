/**
 * The append-roundtrip baseline: one bare IndexedDB readwrite transaction
 * holding one `put`, awaited until `oncomplete`, timed inside a dedicated
 * worker (where Chronicle's engine runs too). No library in between.
 */
export interface PutRequest {
  kind: 'open' | 'run' | 'close';
  dbName: string;
  /** Transactions to time (run). */
  count?: number;
  /** The transactions' durability (run); the browser's default when absent. */
  durability?: 'strict' | undefined;
}

export interface PutReply {
  ok: boolean;
  /** Milliseconds per transaction (run). */
  times?: number[];
  error?: string;
}

let db: IDBDatabase | undefined;
let nextKey = 1;

const requestDone = <T>(request: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

function openDb(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => request.result.createObjectStore('events');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error(`open ${name} blocked`));
  });
}

function putOne(database: IDBDatabase, key: number, durability: 'strict' | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = database.transaction('events', 'readwrite', durability ? { durability } : undefined);
    // About the size of one stored event.
    tx.objectStore('events').put(
      {
        id: `0193${key.toString(16).padStart(28, '0')}`,
        aggregateId: 'order-roundtrip',
        aggregateType: 'Order',
        seq: key,
        type: 'ItemAdded',
        version: 2,
        data: { sku: 'sku-0042', qty: 2, price: 19.99 },
        meta: { occurredAt: Date.now(), clientId: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', clientSeq: key },
      },
      key,
    );
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('aborted'));
  });
}

async function handle(request: PutRequest): Promise<PutReply> {
  switch (request.kind) {
    case 'open':
      await requestDone(indexedDB.deleteDatabase(request.dbName));
      db = await openDb(request.dbName);
      nextKey = 1;
      return { ok: true };
    case 'run': {
      if (!db) throw new Error('not open');
      const times: number[] = [];
      for (let i = 0; i < (request.count ?? 0); i++) {
        const t0 = performance.now();
        await putOne(db, nextKey++, request.durability);
        times.push(performance.now() - t0);
      }
      return { ok: true, times };
    }
    case 'close':
      db?.close();
      db = undefined;
      await requestDone(indexedDB.deleteDatabase(request.dbName));
      return { ok: true };
  }
}

self.onmessage = (message: MessageEvent<PutRequest>) => {
  handle(message.data).then(
    (reply) => self.postMessage(reply),
    (error: unknown) => self.postMessage({ ok: false, error: String(error) } satisfies PutReply),
  );
};

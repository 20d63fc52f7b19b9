import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../../src/core/errors.ts';
import { defineAggregate } from '../../src/core/aggregate.ts';
import { defineEvent } from '../../src/core/event.ts';
import { createPgliteStore, createSyncServer, silentLogger, type LogStore, type SyncServer } from '../../src/server/index.ts';
import { errorOf, freshLog, httpPull, httpPush, makeEvent, makePush, okPull, type PushEvent } from './helpers.ts';

/**
 * createSyncServer's `checkEvents` (docs/protocol.md, INVALID_EVENT): a server
 * given the app's event definitions refuses, with 422 naming the event, a push
 * whose new events' data they refuse, and stores nothing of it; what it cannot
 * judge passes; events stored already are acknowledged as before.
 */

const Placed = defineEvent({ type: 'OrderPlaced', schema: z.object({ customerId: z.string().min(1) }) });
/** Version 2 renamed `quantity` to `qty`. */
const ItemAdded = defineEvent({
  type: 'ItemAdded',
  version: 2,
  schema: z.object({ sku: z.string().min(1), qty: z.number().int().positive() }),
  upcasters: { 1: (data: { sku: string; quantity: number }) => ({ sku: data.sku, qty: data.quantity }) },
});
const Order = defineAggregate({
  type: 'Order',
  initialState: () => ({ items: 0 }),
  events: [Placed, ItemAdded],
  reducers: { OrderPlaced: (state) => state, ItemAdded: (state, event) => ({ items: state.items + event.data.qty }) },
});

let store: LogStore;
let checking: SyncServer;
let plain: SyncServer;
let checkingUrl = '';
let plainUrl = '';

beforeAll(async () => {
  store = await createPgliteStore();
  const common = { store, logger: silentLogger, closeStore: false, limits: { rateLimit: false as const } };
  checking = createSyncServer({ ...common, checkEvents: { aggregates: [Order] } });
  plain = createSyncServer(common);
  checkingUrl = (await checking.listen(0)).url;
  plainUrl = (await plain.listen(0)).url;
});
afterAll(async () => {
  await checking?.close();
  await plain?.close();
  await store?.close();
});

/** An ItemAdded (or another type, version and data) of client `clientId` at clientSeq `n`, in aggregate `o-<clientId>` at seq `n`. */
function event(clientId: string, n: number, data: unknown, type = 'ItemAdded', version = 2): PushEvent {
  return { ...makeEvent({ clientId, clientSeq: n, aggregateId: `o-${clientId}`, seq: n, type, data }), version };
}

async function stored(log: string, clientId: string) {
  const page = okPull(await httpPull(checkingUrl, log, { after: 0, clientId }));
  return { head: page.head, clientSeq: page.clientSeq, ids: page.events.map((e) => e.id) };
}

describe('checkEvents: pushed data checked against the app definitions', () => {
  it('a new event whose data the schema refuses is 422 INVALID_EVENT naming it, and nothing of the push is stored', async () => {
    const log = freshLog('check');
    const push = makePush('c1', 1, [event('c1', 1, { sku: 'tea', qty: 2 }), event('c1', 2, { sku: 'tea', qty: 'lots' })]);
    const reply = await httpPush(checkingUrl, log, push);
    expect(errorOf(reply)).toMatchObject({
      status: 422,
      code: 'INVALID_EVENT',
      details: { index: 1, id: 'c1:2', clientSeq: 2, type: 'ItemAdded', version: 2, field: 'events.1.data.qty' },
    });
    expect(await stored(log, 'c1')).toEqual({ head: 0, clientSeq: 0, ids: [] });
    // Every refused event of the push is listed, so that a client rejects them in one go.
    const several = makePush('c1', 1, [
      event('c1', 1, { sku: '', qty: 2 }),
      event('c1', 2, { sku: 'tea', qty: 2 }),
      event('c1', 3, { sku: 'tea', qty: -1 }),
    ]);
    expect(errorOf(await httpPush(checkingUrl, log, several)).details.events).toEqual([
      { index: 0, id: 'c1:1', clientSeq: 1, field: 'events.0.data.sku', reason: expect.any(String) },
      { index: 2, id: 'c1:3', clientSeq: 3, field: 'events.2.data.qty', reason: expect.any(String) },
    ]);
    // The same events with good data are stored.
    const fixed = makePush('c1', 1, [event('c1', 1, { sku: 'tea', qty: 2 }), event('c1', 2, { sku: 'tea', qty: 3 })]);
    expect((await httpPush(checkingUrl, log, fixed)).status).toBe(200);
    expect(await stored(log, 'c1')).toEqual({ head: 2, clientSeq: 2, ids: ['c1:1', 'c1:2'] });
  });

  it('an older version is checked through its upcasters: a good one is stored as pushed, one that upcasts to bad data is refused', async () => {
    const log = freshLog('check');
    const good = makePush('c2', 1, [event('c2', 1, { sku: 'tea', quantity: 4 }, 'ItemAdded', 1)]);
    expect((await httpPush(checkingUrl, log, good)).status).toBe(200);
    const page = okPull(await httpPull(checkingUrl, log, { after: 0 }));
    expect(page.events[0]).toMatchObject({ version: 1, data: { sku: 'tea', quantity: 4 } });

    const bad = makePush('c2', 2, [event('c2', 2, { sku: 'tea', quantity: -1 }, 'ItemAdded', 1)]);
    const refused = errorOf(await httpPush(checkingUrl, log, bad));
    expect(refused).toMatchObject({ status: 422, code: 'INVALID_EVENT', details: { index: 0, version: 1, field: 'events.0.data.qty' } });
    expect(refused.message).toContain('Upcasting ItemAdded');
  });

  it('what the definitions cannot judge passes: an unknown type, a newer version', async () => {
    const log = freshLog('check');
    const push = makePush('c3', 1, [
      event('c3', 1, { anything: true }, 'OrderNoted', 1),
      event('c3', 2, { qty: 'a newer build decides' }, 'ItemAdded', 3),
    ]);
    expect((await httpPush(checkingUrl, log, push)).status).toBe(200);
    expect((await stored(log, 'c3')).head).toBe(2);
  });

  it('an encrypted event is refused unless the app says it encrypts (allowEncrypted)', async () => {
    const envelope = { $enc: 1, kid: 'k1', iv: 'aXY', ct: 'Y3Q' };
    const push = makePush('c6', 1, [event('c6', 1, envelope)]);
    const log = freshLog('check');
    expect(errorOf(await httpPush(checkingUrl, log, push))).toMatchObject({ status: 422, details: { field: 'events.0.data' } });
    const encrypting = createSyncServer({
      store,
      logger: silentLogger,
      closeStore: false,
      checkEvents: { aggregates: [Order], allowEncrypted: true },
    });
    try {
      const { url } = await encrypting.listen(0);
      expect((await httpPush(url, log, push)).status).toBe(200);
    } finally {
      await encrypting.close();
    }
  });

  it('data the schema takes only by changing it is refused (an unknown key a reducer would spread)', async () => {
    const log = freshLog('check');
    const push = makePush('c7', 1, [event('c7', 1, { sku: 'tea', qty: 1, role: 'admin' })]);
    expect(errorOf(await httpPush(checkingUrl, log, push))).toMatchObject({
      status: 422,
      code: 'INVALID_EVENT',
      details: { field: 'events.0.data.role', reason: expect.stringMatching(/not a field/) },
    });
    expect((await stored(log, 'c7')).head).toBe(0);
  });

  it('the same on the decoder-thread path (a body of 32 KiB or more)', async () => {
    const log = freshLog('check');
    const events = Array.from({ length: 200 }, (_, i) => event('c4', i + 1, { sku: `sku-${'x'.repeat(200)}`, qty: i === 150 ? 0 : 1 }));
    const reply = await httpPush(checkingUrl, log, makePush('c4', 1, events));
    expect(JSON.stringify(events).length).toBeGreaterThan(32 * 1024);
    expect(errorOf(reply)).toMatchObject({ status: 422, code: 'INVALID_EVENT', details: { index: 150, field: 'events.150.data.qty' } });
    expect((await stored(log, 'c4')).head).toBe(0);
  });

  it('an event stored before (by a server that did not check) is acknowledged on a retry; a new bad one behind it is refused', async () => {
    const log = freshLog('check');
    const first = makePush('c5', 1, [event('c5', 1, { sku: 'tea', qty: 'lots' })]);
    expect((await httpPush(plainUrl, log, first)).status).toBe(200);
    // The reply was lost; the client retries at the checking server: stored once, acknowledged.
    const retry = await httpPush(checkingUrl, log, first);
    expect(retry).toMatchObject({ status: 200, body: { duplicates: 1, clientSeq: 1, head: 1 } });
    const more = makePush('c5', 1, [event('c5', 1, { sku: 'tea', qty: 'lots' }), event('c5', 2, { sku: '', qty: 1 })]);
    expect(errorOf(await httpPush(checkingUrl, log, more))).toMatchObject({
      code: 'INVALID_EVENT',
      details: { index: 1, clientSeq: 2, field: 'events.1.data.sku' },
    });
    expect(await stored(log, 'c5')).toEqual({ head: 1, clientSeq: 1, ids: ['c5:1'] });
  });

  it('definitions that cannot be used fail at start-up', () => {
    const Other = defineEvent({ type: 'OrderPlaced', schema: z.object({}) });
    expect(() => createSyncServer({ store, logger: silentLogger, checkEvents: { events: [Placed, Other] } })).toThrow(/defined twice/);
    expect(() => createSyncServer({ store, logger: silentLogger, checkEvents: 5 as never })).toThrow(ConfigError);
  });
});

// The devtools bridge with both ends in one process, over a fake chrome.runtime
// port pair that, like the real one, carries JSON only.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ChronicleError, defineAggregate, defineEvent, defineReaction, ValidationError } from '../../src/core/index.ts';
import type { LogEntry } from '../../src/client/types.ts';
import {
  BRIDGE_CHANNEL,
  connectBridge,
  createBridgeClient,
  createStoreSource,
  DevtoolsError,
  exposeToDevtools,
  portTransport,
  type BridgeTransport,
  type DevtoolsSource,
  type EncodedContainer,
  type PortLike,
  type SourceEvent,
} from '../../src/devtools/index.ts';
import { openTestStore } from '../../src/testing/index.ts';
import { ItemAdded, model, Order } from '../fixtures/model.ts';
import { eventually } from '../engine/modes.ts';

interface FakePort extends PortLike {
  disconnect(): void;
  /** Messages this end sent, as they went over the wire. */
  sent: unknown[];
}

/** Two connected ports: JSON on the wire, delivered asynchronously, like chrome.runtime ports. */
function portPair(): [FakePort, FakePort] {
  const make = (): FakePort & { peer?: FakePort | undefined; listeners: Set<(m: unknown) => void>; closers: Set<() => void> } => {
    const port = {
      listeners: new Set<(m: unknown) => void>(),
      closers: new Set<() => void>(),
      sent: [] as unknown[],
      peer: undefined as (FakePort & { listeners: Set<(m: unknown) => void>; closers: Set<() => void> }) | undefined,
      postMessage(message: unknown) {
        const wire = JSON.stringify(message);
        port.sent.push(JSON.parse(wire));
        const peer = port.peer;
        queueMicrotask(() => {
          for (const listener of [...(peer?.listeners ?? [])]) listener(JSON.parse(wire));
        });
      },
      onMessage: {
        addListener: (fn: (m: unknown) => void) => void port.listeners.add(fn),
        removeListener: (fn: (m: unknown) => void) => void port.listeners.delete(fn),
      },
      onDisconnect: {
        addListener: (fn: () => void) => void port.closers.add(fn),
        removeListener: (fn: () => void) => void port.closers.delete(fn),
      },
      disconnect() {
        // Like chrome: the other end hears onDisconnect.
        for (const fn of [...(port.peer?.closers ?? [])]) fn();
        port.peer = undefined;
      },
    };
    return port;
  };
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });

/** A cart whose state holds a Map and a Set: what JSON alone would show as {}. */
const Tagged = defineEvent({ type: 'Tagged', schema: z.object({ tag: z.string(), note: z.string().optional() }) });
const Cart = defineAggregate({
  type: 'Cart',
  events: [Tagged],
  initialState: () => ({ tags: new Set<string>(), notes: new Map<string, string>() }),
  reducers: {
    Tagged: (state, event) => ({
      tags: new Set([...state.tags, event.data.tag]),
      notes: event.data.note ? new Map([...state.notes, [event.data.tag, event.data.note]]) : state.notes,
    }),
  },
});

async function setup() {
  const store = await openTestStore({ events: model.events, aggregates: [Order, Cart], worker: false });
  cleanups.push(() => store.dispose());
  await store.append('o1', [{ type: 'OrderPlaced', data: { customerId: 'ada' } }, item('a', 2, 5), item('b', 1, 7)]);
  await store.append('cart-1', [
    { type: 'Tagged', data: { tag: 'rush', note: 'before noon' } },
    { type: 'Tagged', data: { tag: 'gift' } },
  ]);
  const [pagePort, panelPort] = portPair();
  const exposed = exposeToDevtools(store, { aggregates: [Order, Cart], transport: portTransport(pagePort) });
  cleanups.push(() => exposed.close());
  const { client, source, store: name } = await connectBridge(portTransport(panelPort));
  cleanups.push(() => client.close());
  const log: LogEntry[] = (await collect(store.scan())).flat();
  return { store, exposed, client, source, name, log, pagePort, panelPort };
}

async function allEntries(source: DevtoolsSource) {
  const out = [];
  for (const status of ['confirmed', 'pending'] as const) {
    let after = null;
    for (;;) {
      const page = await source.page({ status, after });
      out.push(...page.entries);
      if (page.end || page.entries.length === 0) break;
      after = page.entries[page.entries.length - 1]!.cursor;
    }
  }
  return out;
}

/** Subscribes once and hands out the events as they come, one kind at a time. */
function recorder(source: DevtoolsSource) {
  const seen: SourceEvent[] = [];
  const waiting = new Set<() => void>();
  const stop = source.subscribe((event) => {
    seen.push(event);
    for (const wake of [...waiting]) wake();
  });
  cleanups.push(stop);
  return {
    /** The first event of this kind not taken yet. */
    next(kind: SourceEvent['kind']): Promise<SourceEvent> {
      return new Promise((resolve) => {
        const check = () => {
          const at = seen.findIndex((event) => event.kind === kind);
          if (at < 0) return;
          waiting.delete(check);
          resolve(seen.splice(at, 1)[0]!);
        };
        waiting.add(check);
        check();
      });
    },
  };
}

describe('devtools bridge', () => {
  it('connects on hello and serves info and the log, page by page', async () => {
    const { store, source, name, log } = await setup();
    expect(name).toBe(store.name);
    const info = await source.info();
    expect(info).toMatchObject({ name: store.name, pendingEvents: 5, confirmedEvents: 0, scratch: false });
    expect(info.aggregates.map((a) => a.type)).toEqual(['Order', 'Cart']);
    expect(info.eventTypes).toContain('Tagged');
    const entries = await allEntries(source);
    expect(entries.map((e) => e.event.id)).toEqual(log.map((e) => e.event.id));
    expect(entries.map((e) => e.cursor)).toEqual(log.map((e) => e.cursor));
    expect(entries[1]!.event).toMatchObject({ type: 'ItemAdded', data: { sku: 'a', qty: 2, price: 5 }, known: true });
  });

  it('computes states before and after an event, with Maps and Sets intact across JSON', async () => {
    const { source, log } = await setup();
    const second = log[4]!; // cart-1: Tagged gift
    const result = await source.inspect({
      aggregateType: 'Cart',
      aggregateId: 'cart-1',
      until: second.cursor,
      compareTo: { until: second.cursor, skip: [second.event.id] },
    });
    const after = result.state.state as EncodedContainer;
    const tags = after.items!.find((i) => i.key === 'tags')!.value as EncodedContainer;
    expect(tags).toMatchObject({ t: 'set', size: 2 });
    expect(tags.items!.map((i) => i.value)).toEqual([
      { t: 'string', v: 'rush', length: 4 },
      { t: 'string', v: 'gift', length: 4 },
    ]);
    const notes = after.items!.find((i) => i.key === 'notes')!.value as EncodedContainer;
    expect(notes).toMatchObject({ t: 'map', size: 1 });
    expect(result.base!.version).toBe(2);
    expect(result.diff!.changes.map((c) => `${c.kind} ${c.path}`)).toEqual(['added .tags (member)']);

    // What-if: without the first tag.
    const whatIf = await source.inspect({ aggregateType: 'Cart', aggregateId: 'cart-1', skip: [log[3]!.event.id], compareTo: {} });
    expect(whatIf.diff!.changes.map((c) => `${c.kind} ${c.path}`)).toEqual(['removed .tags (member)', 'removed .notes.get("rush")']);
  });

  it('expands truncated values through the page', async () => {
    const { store, source } = await setup();
    const lines = Array.from({ length: 250 }, (_, i) => item(`sku-${i}`, 1, 1));
    await store.append('big', [{ type: 'OrderPlaced', data: { customerId: 'x' } }, ...lines]);
    const result = await source.inspect({ aggregateType: 'Order', aggregateId: 'big' });
    const state = result.state.state as EncodedContainer;
    const linesNode = state.items!.find((i) => i.key === 'lines')!.value as EncodedContainer;
    expect(linesNode.size).toBe(250);
    expect(linesNode.ref).toBeDefined();
    const more = (await source.expand(linesNode.ref!, 100)) as EncodedContainer;
    expect(more.offset).toBe(100);
    expect(more.items![0]!.key).toBe('sku-100');
  });

  it('moves time travel on the page store, and reports it', async () => {
    const { store, source, log } = await setup();
    const events = recorder(source);
    await source.syncStatus(); // the subscription is in place
    await source.travel(log[1]!.cursor);
    expect(store.timeTravel.position()).toEqual(log[1]!.cursor);
    expect(await events.next('travel')).toEqual({ kind: 'travel', position: log[1]!.cursor });
    expect(await source.position()).toEqual(log[1]!.cursor);
    expect((await store.load(Order, 'o1')).state.total).toBe(10);
    await source.travel(null);
    expect(store.timeTravel.position()).toBeNull();
  });

  it('exports the NDJSON store.exportLog writes, in chunks', async () => {
    const { store, source } = await setup();
    const lines: string[] = [];
    const count = await source.exportLog({}, (chunk) => lines.push(...chunk));
    expect(count).toBe(5);
    expect(lines).toEqual(await collect(store.exportLog()));
    const filtered: string[] = [];
    await source.exportLog({ aggregateIds: ['cart-1'] }, (chunk) => filtered.push(...chunk));
    expect(filtered).toEqual(await collect(store.exportLog({ aggregateIds: ['cart-1'] })));
  });

  it('imports into a scratch store served under its own id, deleted on dispose', async () => {
    const { store, source, log } = await setup();
    const ndjson = (await collect(store.exportLog())).join('\n');
    const { source: scratch, result, name } = await source.importLog(ndjson);
    expect(result).toEqual({ confirmed: 0, pending: 5 });
    expect(name).toContain('-scratch-');
    expect((await scratch.info()).scratch).toBe(true);
    expect((await allEntries(scratch)).map((e) => e.event.id)).toEqual(log.map((e) => e.event.id));
    const state = await scratch.inspect({ aggregateType: 'Order', aggregateId: 'o1' });
    expect(JSON.stringify(state.state.state)).toContain('"v":"17"');
    // The original is untouched.
    expect((await store.info()).pendingEvents).toBe(5);
    await scratch.dispose();
    const databases = await indexedDB.databases();
    expect(databases.map((d) => d.name)).not.toContain(name);
    await expect(scratch.info()).rejects.toMatchObject({ code: 'EXPIRED' });
  });

  it('forwards new events, sync status and errors', async () => {
    const { store, source } = await setup();
    // Once the subscription has reported the status it starts from, every append is announced.
    const events = recorder(source);
    expect(await events.next('sync')).toMatchObject({ kind: 'sync', status: { state: 'disabled', pending: 5 } });
    await store.append('o1', [item('c')]);
    expect(await events.next('appended')).toEqual({ kind: 'appended' });
    expect(await events.next('sync')).toMatchObject({ kind: 'sync', status: { pending: 6 } });
    expect(await source.syncStatus()).toMatchObject({ state: 'disabled', pending: 6 });
    expect(await source.rejected()).toEqual([]);
    await expect(source.inspect({ aggregateType: 'Nope', aggregateId: 'x' })).rejects.toMatchObject({ code: 'NO_AGGREGATE' });
    await expect(source.travel({ area: 'x' } as never)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('rejects with the error the page raised, rebuilt as its class: a ValidationError keeps its details, every error is a ChronicleError', async () => {
    const { store, source, client } = await setup();
    const bad = '{"not":"an event"}';
    const inPage = await createStoreSource(store)
      .importLog(bad)
      .then(
        () => expect.unreachable('the import should fail'),
        (error: unknown) => error,
      );
    expect(inPage).toBeInstanceOf(ValidationError);
    const remote = await source.importLog(bad).then(
      () => expect.unreachable('the import should fail'),
      (error: unknown) => error,
    );
    expect(remote).toBeInstanceOf(ValidationError);
    expect(remote).toMatchObject({
      name: 'ValidationError',
      code: 'VALIDATION',
      message: (inPage as ValidationError).message,
      details: (inPage as ValidationError).details,
    });
    // The panel's own errors too, on either side of the bridge.
    const noAggregate = await source.inspect({ aggregateType: 'Nope', aggregateId: 'x' }).catch((error: unknown) => error);
    expect(noAggregate).toBeInstanceOf(DevtoolsError);
    expect(noAggregate).toBeInstanceOf(ChronicleError);
    expect(noAggregate).toMatchObject({ name: 'DevtoolsError', code: 'NO_AGGREGATE' });
    client.close();
    const closed = await source.info().catch((error: unknown) => error);
    expect(closed).toBeInstanceOf(ChronicleError);
    expect(closed).toMatchObject({ name: 'DevtoolsError', code: 'DISCONNECTED' });
  });

  it('serves store.metrics() and the reactions (status, parked events, retry, skip), and tells when reactions change', async () => {
    let failing = true;
    const delivered: string[] = [];
    const Charge = defineReaction({
      name: 'charge',
      events: [ItemAdded],
      maxAttempts: 1,
      backoff: { initialMs: 1, maxMs: 1 },
      handlers: {
        ItemAdded: (event) => {
          if (failing) throw new Error(`declined ${event.data.sku}`);
          delivered.push(event.id);
        },
      },
    });
    const store = await openTestStore({ ...model, worker: false, reactions: [Charge] });
    cleanups.push(() => store.dispose());
    const [pagePort, panelPort] = portPair();
    const exposed = exposeToDevtools(store, { aggregates: [Order], transport: portTransport(pagePort) });
    cleanups.push(() => exposed.close());
    const { client, source } = await connectBridge(portTransport(panelPort));
    cleanups.push(() => client.close());
    const events = recorder(source);

    const {
      events: [a, b],
    } = await store.append('o1', [item('a'), item('b')]);
    expect(await events.next('reactions')).toEqual({ kind: 'reactions' });
    await eventually(async () => expect((await source.reactions()).parked).toHaveLength(2));
    const view = await source.reactions();
    expect(view.statuses).toEqual([expect.objectContaining({ name: 'charge', on: 'local', leader: true, parked: 2 })]);
    expect(view.parked.map((p) => p.eventId).sort()).toEqual([a!.id, b!.id].sort());
    expect(view.parked.find((p) => p.eventId === a!.id)).toEqual({
      reaction: 'charge',
      eventId: a!.id,
      type: 'ItemAdded',
      aggregateId: 'o1',
      seq: 1,
      attempts: 1,
      lastError: expect.stringContaining('declined a'),
      parkedAt: expect.any(Number),
      retryRequested: false,
    });

    failing = false;
    await source.retryParked('charge', a!.id);
    await eventually(() => expect(delivered).toEqual([a!.id]));
    await eventually(async () => expect((await source.reactions()).parked.map((p) => p.eventId)).toEqual([b!.id]));
    await source.skipParked('charge', b!.id);
    expect((await source.reactions()).parked).toEqual([]);
    expect(delivered).toEqual([a!.id]);

    expect(await source.metrics()).toMatchObject({ append: { count: 1, window: 1 }, replay: { count: 0 }, sync: null });
    await expect(source.retryParked('charge', 42 as never)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    for (const message of pagePort.sent) expect(JSON.parse(JSON.stringify(message))).toEqual(message);
  });

  it('checks what it is sent, and answers only the panel', async () => {
    const [pagePort, panelPort] = portPair();
    const store = await openTestStore({ ...model, worker: false });
    cleanups.push(() => store.dispose());
    const exposed = exposeToDevtools(store, { aggregates: [Order], transport: portTransport(pagePort) });
    cleanups.push(() => exposed.close());
    const answers: unknown[] = [];
    const reply = new Promise<void>((resolve) =>
      panelPort.onMessage.addListener((message) => {
        if ((message as { type?: string }).type === 'announce') return;
        answers.push(message);
        resolve();
      }),
    );
    panelPort.postMessage({ channel: BRIDGE_CHANNEL, from: 'panel', type: 'call', id: 7, source: 'main', call: { op: 'drop-tables' } });
    panelPort.postMessage({ channel: 'someone-else', from: 'panel', type: 'call', id: 8, source: 'main', call: { op: 'info' } });
    await reply;
    expect(answers).toEqual([
      {
        channel: BRIDGE_CHANNEL,
        from: 'page',
        type: 'result',
        id: 7,
        ok: false,
        error: { code: 'BAD_REQUEST', name: 'DevtoolsError', message: 'bad devtools bridge call: unknown op drop-tables', details: {} },
      },
    ]);
  });

  it('fails pending calls when the channel goes, and says when the page closes', async () => {
    const [pagePort, panelPort] = portPair();
    // Nobody answers on the page side: the call waits until the port disconnects.
    const client = createBridgeClient(portTransport(panelPort));
    const waiting = client.source().info();
    let goneCalls = 0;
    client.onGone(() => goneCalls++);
    pagePort.disconnect();
    await expect(waiting).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(goneCalls).toBe(1);

    const { exposed, client: other } = await setup();
    const gone = new Promise<void>((resolve) => other.onGone(resolve));
    await exposed.close();
    await gone;
    await expect(other.source().info()).rejects.toMatchObject({ code: 'DISCONNECTED' });
  });

  it('moves only plain JSON over the wire', async () => {
    const { source, log, pagePort } = await setup();
    await source.inspect({ aggregateType: 'Cart', aggregateId: 'cart-1', until: log[4]!.cursor, compareTo: { until: log[3]!.cursor } });
    const transport: BridgeTransport = portTransport(pagePort);
    expect(typeof transport.send).toBe('function');
    for (const message of pagePort.sent) expect(JSON.parse(JSON.stringify(message))).toEqual(message);
  });
});

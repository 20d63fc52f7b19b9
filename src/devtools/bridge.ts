/**
 * The devtools bridge: a DevtoolsSource on one side of a message channel
 * (the page, `createBridgeHost`), a DevtoolsSource proxy on the other (the
 * extension panel, `createBridgeClient`). Every message is a plain object
 * tagged with BRIDGE_CHANNEL, so it survives structured clone
 * (window.postMessage) and JSON (chrome.runtime ports) alike.
 *
 *   panel → page   hello                         (page answers with announce)
 *                  call { id, source, call }     (page answers with result, export also with chunks)
 *   page → panel   announce { store }            (on expose, and on hello)
 *                  result { id, ok, value | error }
 *                  chunk { id, lines }           (export)
 *                  event { source, event }       (after a subscribe call)
 *                  gone                          (the page closed its side)
 */
import type { ImportResult, LogCursor, LogFilter, RejectedRecord, StoreMetrics, SyncStatus } from '../client/index.ts';
import type { Encoded } from './encode.ts';
import type { SerializedError } from '../core/index.ts';
import { errorFromWire, errorToWire } from './bridge-errors.ts';
import { DevtoolsError } from './errors.ts';
import type {
  DevtoolsSource,
  InspectRequest,
  InspectResult,
  PageRequest,
  PageResult,
  ReactionsView,
  SourceEvent,
  SourceInfo,
} from './types.ts';

export const BRIDGE_CHANNEL = 'chronicle-devtools@1';

/** The source every bridge host exposes first; scratch stores get their own ids. */
export const MAIN_SOURCE = 'main';

export type BridgeCall =
  | { op: 'info' }
  | { op: 'page'; request: PageRequest }
  | { op: 'inspect'; request: InspectRequest }
  | { op: 'expand'; ref: string; offset?: number }
  | { op: 'travel'; position: LogCursor | null }
  | { op: 'position' }
  | { op: 'export'; filter: LogFilter }
  | { op: 'import'; ndjson: string }
  | { op: 'sync-status' }
  | { op: 'rejected' }
  | { op: 'metrics' }
  | { op: 'reactions' }
  | { op: 'reaction-retry'; reaction: string; eventId: string }
  | { op: 'reaction-skip'; reaction: string; eventId: string }
  | { op: 'subscribe' }
  | { op: 'unsubscribe' }
  | { op: 'dispose' };

/** What each call answers with. */
export interface BridgeResults {
  info: SourceInfo;
  page: PageResult;
  inspect: InspectResult;
  expand: Encoded;
  travel: null;
  position: LogCursor | null;
  export: number;
  import: { source: string; name: string; result: ImportResult };
  'sync-status': SyncStatus;
  rejected: RejectedRecord[];
  metrics: StoreMetrics;
  reactions: ReactionsView;
  'reaction-retry': null;
  'reaction-skip': null;
  subscribe: null;
  unsubscribe: null;
  dispose: null;
}

export type PanelMessage =
  | { channel: typeof BRIDGE_CHANNEL; from: 'panel'; type: 'hello' }
  | { channel: typeof BRIDGE_CHANNEL; from: 'panel'; type: 'call'; id: number; source: string; call: BridgeCall };

export type PageMessage =
  | { channel: typeof BRIDGE_CHANNEL; from: 'page'; type: 'announce'; store: string }
  | { channel: typeof BRIDGE_CHANNEL; from: 'page'; type: 'result'; id: number; ok: true; value: unknown }
  | { channel: typeof BRIDGE_CHANNEL; from: 'page'; type: 'result'; id: number; ok: false; error: SerializedError }
  | { channel: typeof BRIDGE_CHANNEL; from: 'page'; type: 'chunk'; id: number; lines: string[] }
  | { channel: typeof BRIDGE_CHANNEL; from: 'page'; type: 'event'; source: string; event: SourceEvent }
  | { channel: typeof BRIDGE_CHANNEL; from: 'page'; type: 'gone' };

export type BridgeMessage = PanelMessage | PageMessage;

/** One end of a message channel. */
export interface BridgeTransport {
  send(message: BridgeMessage): void;
  /** Calls back with every message that arrives; returns unlisten. */
  listen(listener: (message: unknown) => void): () => void;
  /** Calls back once if the channel closes for good (a port disconnects). */
  onClose?(listener: () => void): () => void;
}

export function isBridgeMessage(message: unknown): message is BridgeMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { channel?: unknown }).channel === BRIDGE_CHANNEL &&
    ((message as { from?: unknown }).from === 'page' || (message as { from?: unknown }).from === 'panel') &&
    typeof (message as { type?: unknown }).type === 'string'
  );
}

/**
 * window.postMessage between a page and its content script (same window,
 * both see every message): each side hears only the other's messages.
 */
export function windowTransport(side: 'page' | 'panel', target: Window = window): BridgeTransport {
  const origin = target.location.origin && target.location.origin !== 'null' ? target.location.origin : '*';
  return {
    send: (message) => target.postMessage(message, origin),
    listen(listener) {
      const onMessage = (event: MessageEvent) => {
        if (event.source !== target) return;
        if (isBridgeMessage(event.data) && event.data.from !== side) listener(event.data);
      };
      target.addEventListener('message', onMessage);
      return () => target.removeEventListener('message', onMessage);
    },
  };
}

/** The shape of a chrome.runtime.Port that the bridge needs. */
export interface PortLike {
  postMessage(message: unknown): void;
  onMessage: { addListener(fn: (message: unknown) => void): void; removeListener(fn: (message: unknown) => void): void };
  onDisconnect: { addListener(fn: () => void): void; removeListener(fn: () => void): void };
}

export function portTransport(port: PortLike): BridgeTransport {
  return {
    send: (message) => port.postMessage(message),
    listen(listener) {
      const onMessage = (message: unknown) => {
        if (isBridgeMessage(message)) listener(message);
      };
      port.onMessage.addListener(onMessage);
      return () => port.onMessage.removeListener(onMessage);
    },
    onClose(listener) {
      port.onDisconnect.addListener(listener);
      return () => port.onDisconnect.removeListener(listener);
    },
  };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

function isCursor(value: unknown): value is LogCursor {
  return isObject(value) && typeof value.area === 'number' && typeof value.page === 'number' && typeof value.index === 'number';
}

/** Checks a call's shape before it reaches a source (any script in the page can post messages). */
function checkCall(call: unknown): BridgeCall {
  const bad = (why: string) => new DevtoolsError('BAD_REQUEST', `bad devtools bridge call: ${why}`);
  if (!isObject(call) || typeof call.op !== 'string') throw bad('no op');
  switch (call.op) {
    case 'info':
    case 'position':
    case 'sync-status':
    case 'rejected':
    case 'metrics':
    case 'reactions':
    case 'subscribe':
    case 'unsubscribe':
    case 'dispose':
      return call as BridgeCall;
    case 'reaction-retry':
    case 'reaction-skip':
      if (typeof call.reaction !== 'string' || typeof call.eventId !== 'string') throw bad(`${call.op} needs a reaction and an eventId`);
      return call as BridgeCall;
    case 'page': {
      const request = call.request;
      if (!isObject(request) || (request.status !== 'confirmed' && request.status !== 'pending')) throw bad('page needs a status');
      if (request.after !== null && !isCursor(request.after)) throw bad('page.after must be a cursor or null');
      return call as BridgeCall;
    }
    case 'inspect': {
      const request = call.request;
      if (!isObject(request) || typeof request.aggregateType !== 'string' || typeof request.aggregateId !== 'string') {
        throw bad('inspect needs aggregateType and aggregateId');
      }
      return call as BridgeCall;
    }
    case 'expand':
      if (typeof call.ref !== 'string') throw bad('expand needs a ref');
      return call as BridgeCall;
    case 'travel':
      if (call.position !== null && !isCursor(call.position)) throw bad('travel needs a cursor or null');
      return call as BridgeCall;
    case 'export':
      if (!isObject(call.filter)) throw bad('export needs a filter');
      return call as BridgeCall;
    case 'import':
      if (typeof call.ndjson !== 'string') throw bad('import needs NDJSON text');
      return call as BridgeCall;
    default:
      throw bad(`unknown op ${call.op}`);
  }
}

export interface BridgeHost {
  /** Tells the other side the store is there (also done on start and on every hello). */
  announce(): void;
  close(): Promise<void>;
}

/** Serves a source (and the scratch sources its imports open) over a transport. */
export function createBridgeHost(root: DevtoolsSource, transport: BridgeTransport, storeName: string): BridgeHost {
  const sources = new Map<string, DevtoolsSource>([[MAIN_SOURCE, root]]);
  const subscriptions = new Map<string, () => void>();
  let scratchCount = 0;
  let closed = false;

  const send = (message: BridgeMessage) => {
    if (!closed) transport.send(message);
  };
  const announce = () => send({ channel: BRIDGE_CHANNEL, from: 'page', type: 'announce', store: storeName });

  const run = async (sourceId: string, source: DevtoolsSource, call: BridgeCall, id: number): Promise<unknown> => {
    switch (call.op) {
      case 'info':
        return source.info();
      case 'page':
        return source.page(call.request);
      case 'inspect':
        return source.inspect(call.request);
      case 'expand':
        return source.expand(call.ref, call.offset);
      case 'travel':
        await source.travel(call.position);
        return null;
      case 'position':
        return source.position();
      case 'export':
        return source.exportLog(call.filter, (lines) => send({ channel: BRIDGE_CHANNEL, from: 'page', type: 'chunk', id, lines }));
      case 'import': {
        const { source: child, result, name } = await source.importLog(call.ndjson);
        const childId = `scratch-${++scratchCount}`;
        sources.set(childId, child);
        return { source: childId, name, result };
      }
      case 'sync-status':
        return source.syncStatus();
      case 'rejected':
        return source.rejected();
      case 'metrics':
        return source.metrics();
      case 'reactions':
        return source.reactions();
      case 'reaction-retry':
        await source.retryParked(call.reaction, call.eventId);
        return null;
      case 'reaction-skip':
        await source.skipParked(call.reaction, call.eventId);
        return null;
      case 'subscribe':
        if (!subscriptions.has(sourceId)) {
          subscriptions.set(
            sourceId,
            source.subscribe((event) => send({ channel: BRIDGE_CHANNEL, from: 'page', type: 'event', source: sourceId, event })),
          );
        }
        return null;
      case 'unsubscribe':
        subscriptions.get(sourceId)?.();
        subscriptions.delete(sourceId);
        return null;
      case 'dispose':
        subscriptions.get(sourceId)?.();
        subscriptions.delete(sourceId);
        // The page owns its store: only scratch sources go away.
        if (sourceId !== MAIN_SOURCE) {
          sources.delete(sourceId);
          await source.dispose();
        }
        return null;
    }
  };

  const stop = transport.listen((message) => {
    if (closed || !isBridgeMessage(message) || message.from !== 'panel') return;
    if (message.type === 'hello') {
      announce();
      return;
    }
    if (message.type !== 'call' || typeof message.id !== 'number') return;
    const { id } = message;
    void (async () => {
      try {
        const call = checkCall(message.call);
        const source = sources.get(String(message.source));
        if (!source) throw new DevtoolsError('EXPIRED', `no devtools source ${String(message.source)} (the page may have reloaded)`);
        const value = await run(String(message.source), source, call, id);
        send({ channel: BRIDGE_CHANNEL, from: 'page', type: 'result', id, ok: true, value: value ?? null });
      } catch (error) {
        send({ channel: BRIDGE_CHANNEL, from: 'page', type: 'result', id, ok: false, error: errorToWire(error) });
      }
    })();
  });

  announce();
  return {
    announce,
    async close() {
      if (closed) return;
      send({ channel: BRIDGE_CHANNEL, from: 'page', type: 'gone' });
      closed = true;
      stop();
      for (const unsubscribe of subscriptions.values()) unsubscribe();
      subscriptions.clear();
      const scratch = [...sources].filter(([id]) => id !== MAIN_SOURCE).map(([, source]) => source);
      sources.clear();
      await Promise.all(scratch.map((source) => source.dispose().catch(() => undefined)));
    },
  };
}

export interface BridgeClient {
  /** A source for the page's store (or for one of its scratch stores, by id). */
  source(id?: string): DevtoolsSource;
  /** Asks the page to announce its store. */
  hello(): void;
  /** Calls back each time the page announces a store (a page load, or an answer to hello). */
  onAnnounce(listener: (store: string) => void): () => void;
  /** Calls back when the page side goes away (it closed, or the channel did). */
  onGone(listener: () => void): () => void;
  close(): void;
}

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  onLines?: ((lines: string[]) => void) | undefined;
}

/** The panel's end: DevtoolsSources whose every call goes over the transport. */
export function createBridgeClient(transport: BridgeTransport): BridgeClient {
  let nextId = 1;
  const pending = new Map<number, PendingCall>();
  const listeners = new Map<string, Set<(event: SourceEvent) => void>>();
  const announceListeners = new Set<(store: string) => void>();
  const goneListeners = new Set<() => void>();
  const sources = new Map<string, DevtoolsSource>();
  let closed = false;
  /** The page went away; calls fail at once until it announces itself again. */
  let away = false;

  const failAll = (why: string) => {
    for (const call of pending.values()) call.reject(new DevtoolsError('DISCONNECTED', why));
    pending.clear();
  };
  const gone = (why: string) => {
    away = true;
    failAll(why);
    for (const listener of [...goneListeners]) listener();
  };

  const stopListening = transport.listen((message) => {
    if (!isBridgeMessage(message) || message.from !== 'page') return;
    switch (message.type) {
      case 'announce':
        away = false;
        for (const listener of [...announceListeners]) listener(message.store);
        break;
      case 'result': {
        const call = pending.get(message.id);
        if (!call) return;
        pending.delete(message.id);
        if (message.ok) call.resolve(message.value);
        else call.reject(errorFromWire(message.error));
        break;
      }
      case 'chunk':
        pending.get(message.id)?.onLines?.(message.lines);
        break;
      case 'event':
        for (const listener of [...(listeners.get(message.source) ?? [])]) listener(message.event);
        break;
      case 'gone':
        gone('the page closed its devtools bridge');
        break;
    }
  });
  const stopClose = transport.onClose?.(() => gone('the devtools channel closed'));

  const call = <K extends BridgeCall['op']>(
    source: string,
    body: Extract<BridgeCall, { op: K }>,
    onLines?: (lines: string[]) => void,
  ): Promise<BridgeResults[K]> => {
    if (closed) return Promise.reject(new DevtoolsError('DISCONNECTED', 'the devtools bridge is closed'));
    if (away) return Promise.reject(new DevtoolsError('DISCONNECTED', 'the page is gone (closed or reloading)'));
    const id = nextId++;
    return new Promise<BridgeResults[K]>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject, onLines });
      try {
        transport.send({ channel: BRIDGE_CHANNEL, from: 'panel', type: 'call', id, source, call: body });
      } catch (error) {
        pending.delete(id);
        reject(new DevtoolsError('DISCONNECTED', `could not reach the page: ${String(error)}`));
      }
    });
  };

  const makeSource = (id: string): DevtoolsSource => ({
    kind: 'chronicle-devtools-source',
    info: () => call(id, { op: 'info' }),
    page: (request) => call(id, { op: 'page', request }),
    inspect: (request) => call(id, { op: 'inspect', request }),
    expand: (ref, offset) => call(id, { op: 'expand', ref, ...(offset !== undefined ? { offset } : {}) }),
    travel: async (position) => void (await call(id, { op: 'travel', position })),
    position: () => call(id, { op: 'position' }),
    exportLog: (filter, onLines) => call(id, { op: 'export', filter }, onLines),
    async importLog(ndjson) {
      const answer = await call(id, { op: 'import', ndjson });
      return { source: sourceFor(answer.source), name: answer.name, result: answer.result };
    },
    syncStatus: () => call(id, { op: 'sync-status' }),
    rejected: () => call(id, { op: 'rejected' }),
    metrics: () => call(id, { op: 'metrics' }),
    reactions: () => call(id, { op: 'reactions' }),
    retryParked: async (reaction, eventId) => void (await call(id, { op: 'reaction-retry', reaction, eventId })),
    skipParked: async (reaction, eventId) => void (await call(id, { op: 'reaction-skip', reaction, eventId })),
    subscribe(listener) {
      let set = listeners.get(id);
      if (!set) listeners.set(id, (set = new Set()));
      const first = set.size === 0;
      set.add(listener);
      if (first) void call(id, { op: 'subscribe' }).catch(() => undefined);
      return () => {
        const current = listeners.get(id);
        if (!current?.delete(listener) || current.size > 0) return;
        listeners.delete(id);
        if (!closed) void call(id, { op: 'unsubscribe' }).catch(() => undefined);
      };
    },
    async dispose() {
      listeners.delete(id);
      sources.delete(id);
      if (!closed) await call(id, { op: 'dispose' }).catch(() => undefined);
    },
  });

  const sourceFor = (id: string): DevtoolsSource => {
    let source = sources.get(id);
    if (!source) sources.set(id, (source = makeSource(id)));
    return source;
  };

  return {
    source: (id = MAIN_SOURCE) => sourceFor(id),
    hello: () => {
      if (!closed) transport.send({ channel: BRIDGE_CHANNEL, from: 'panel', type: 'hello' });
    },
    onAnnounce(listener) {
      announceListeners.add(listener);
      return () => void announceListeners.delete(listener);
    },
    onGone(listener) {
      goneListeners.add(listener);
      return () => void goneListeners.delete(listener);
    },
    close() {
      if (closed) return;
      closed = true;
      stopListening();
      stopClose?.();
      failAll('the devtools bridge is closed');
    },
  };
}

/**
 * Connects to a page over a transport: says hello and resolves with the
 * page's store source once the page announces one.
 */
export function connectBridge(transport: BridgeTransport): Promise<{ client: BridgeClient; source: DevtoolsSource; store: string }> {
  const client = createBridgeClient(transport);
  return new Promise((resolve) => {
    const stop = client.onAnnounce((store) => {
      stop();
      resolve({ client, source: client.source(), store });
    });
    client.hello();
  });
}

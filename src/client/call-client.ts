import { errorFromJSON, isSerializedError } from '../core/errors.ts';
import {
  CHANGE,
  outcomesFromWire,
  REPLY,
  requestsToWire,
  wireBuffers,
  type AppendOutcome,
  type AppendRequest,
  type CallMessage,
  type CallReply,
  type Change,
  type LogPageQuery,
  type OutcomesWire,
  type ScanStep,
  type SnapshotAndTail,
  type WireError,
} from '../../worker/contract.ts';

/** The engine's hot calls over its call port (worker/call-port.ts): appends and the change feed. */
export interface CallClient {
  append(request: AppendRequest): Promise<AppendOutcome>;
  appendBatch(requests: AppendRequest[]): Promise<AppendOutcome[]>;
  readSnapshotAndTail(aggregateId: string, maxPages: number): Promise<SnapshotAndTail>;
  /** A log scan the engine walks, a few pages per call (worker/scan-sessions.ts). */
  openScan(query: LogPageQuery): LogScanSession;
  /** Resolves once the engine tells this listener of every change from then on. */
  subscribe(listener: (change: Change) => void): Promise<() => void>;
  close(): void;
}

/** A log scan open in the engine: its next pages, until `end`; close it when stopping early. */
export interface LogScanSession {
  next(): Promise<ScanStep>;
  close(): void;
}

function errorFromWire(wire: WireError): Error {
  if ('chronicle' in wire && isSerializedError(wire.chronicle)) return errorFromJSON(wire.chronicle);
  const plain = wire as { name: string; message: string };
  const error = new Error(plain.message);
  error.name = plain.name;
  return error;
}

export function createCallClient(port: MessagePort): CallClient {
  let nextId = 1;
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
  const listeners = new Map<number, (change: Change) => void>();
  port.onmessage = (message: MessageEvent<CallReply[]>) => {
    for (const [id, kind, value] of message.data) {
      if (kind === CHANGE) {
        listeners.get(id)?.(value);
        continue;
      }
      const call = pending.get(id);
      if (!call) continue;
      pending.delete(id);
      if (kind === REPLY) call.resolve(value);
      else call.reject(errorFromWire(value));
    }
  };
  const send = <T>(message: CallMessage, transfer: Transferable[] = []): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      pending.set(message[0], { resolve: resolve as (value: unknown) => void, reject });
      port.postMessage(message, transfer);
    });
  return {
    append: (request) => send<AppendOutcome>([nextId++, 'append', request]),
    async appendBatch(requests) {
      const requestsWire = requestsToWire(requests);
      // The wire's typed arrays are made for this call alone: moved, not copied.
      const wire = await send<OutcomesWire>([nextId++, 'appendBatch', requestsWire], wireBuffers(requestsWire));
      return outcomesFromWire(wire, requests);
    },
    readSnapshotAndTail: (aggregateId, maxPages) => send<SnapshotAndTail>([nextId++, 'load', aggregateId, maxPages]),
    openScan(query) {
      const scan = nextId++;
      // Not awaited: the port keeps order, so the first scanNext finds the scan open.
      send<void>([nextId++, 'scanOpen', scan, query]).catch(() => undefined);
      let ended = false;
      return {
        async next() {
          const step = await send<ScanStep>([nextId++, 'scanNext', scan]);
          if (step.end) ended = true; // the engine let go of it
          return step;
        },
        close() {
          if (ended) return;
          ended = true;
          send<void>([nextId++, 'scanClose', scan]).catch(() => undefined);
        },
      };
    },
    async subscribe(listener) {
      const key = nextId++;
      listeners.set(key, listener);
      await send<void>([nextId++, 'subscribe', key]);
      return () => {
        if (!listeners.delete(key)) return;
        send<void>([nextId++, 'unsubscribe', key]).catch(() => undefined);
      };
    },
    close() {
      listeners.clear();
      port.onmessage = null;
      port.close();
    },
  };
}

import { ChronicleError, type SerializedError } from '../src/core/errors.ts';
import { messageOfThrown } from '../src/core/thrown.ts';
import { outcomesToWire, requestsFromWire, type AppendWire, type OutcomesWire } from './append-wire.ts';
import type { SnapshotAndTail } from './reads.ts';
import { createScanSessions, type ScanStep } from './scan-sessions.ts';
import type { AppendOutcome, AppendRequest, Change, LogPageQuery, LogPageResult } from './types.ts';

/**
 * The engine's hot calls on a MessagePort of their own, beside comlink (which
 * serves everything else): appends, loads' reads, log scans (a few pages per
 * call, see scan-sessions.ts), and the change feed of the page's hub.
 * Comlink costs a load ~0.1 ms of its ~0.6 ms (a request id, a listener and
 * a wrapped message per call, on both threads).
 * One port carries a call's change and its reply in the order they were
 * posted (the change first, as with an in-process engine), each one message,
 * with no proxies, ids or wrappers per call.
 *
 *   page -> engine: [id, 'append', AppendRequest] | [id, 'appendBatch', AppendWire]
 *                   | [id, 'load', aggregateId, maxPages] | [id, 'subscribe', key] | [id, 'unsubscribe', key]
 *                   | [id, 'scanOpen', scan, LogPageQuery] | [id, 'scanNext', scan] | [id, 'scanClose', scan]
 *   engine -> page: a list of [id, REPLY, value] | [id, FAILURE, WireError] | [key, CHANGE, Change]
 *
 * Changes wait for the end of the task they were published in, so an
 * append's change and its reply travel as one message.
 *
 * A subscription's key is the page's, so a change that overtakes the reply
 * to 'subscribe' still finds its listener.
 */
export type CallMessage =
  | [number, 'append', AppendRequest]
  | [number, 'appendBatch', AppendWire]
  | [number, 'load', string, number]
  | [number, 'scanOpen', number, LogPageQuery]
  | [number, 'scanNext', number]
  | [number, 'scanClose', number]
  | [number, 'subscribe', number]
  | [number, 'unsubscribe', number];

export const REPLY = 0;
export const FAILURE = 1;
export const CHANGE = 2;

export type CallReply = [number, typeof REPLY, unknown] | [number, typeof FAILURE, WireError] | [number, typeof CHANGE, Change];

/** An error as it crosses: a ChronicleError with its code and fields, anything else by name and message. */
export type WireError = { chronicle: SerializedError } | { name: string; message: string };

export function errorToWire(error: unknown): WireError {
  if (error instanceof ChronicleError) return { chronicle: error.toJSON() };
  try {
    const e = error as { name?: unknown; message?: unknown } | null;
    if (typeof e?.message === 'string') return { name: typeof e.name === 'string' ? e.name : 'Error', message: e.message };
  } catch {
    // A getter that throws, a revoked Proxy: the call is answered all the same (it would hang otherwise).
  }
  return { name: 'Error', message: messageOfThrown(error) };
}

/** What the port serves: the engine's calls it carries. */
export interface CallTarget {
  append(request: AppendRequest): Promise<AppendOutcome>;
  appendBatch(requests: AppendRequest[]): Promise<AppendOutcome[]>;
  readSnapshotAndTail(aggregateId: string, maxPages: number): Promise<SnapshotAndTail>;
  readLog(query: LogPageQuery): Promise<LogPageResult>;
  subscribe(listener: (change: Change) => void): number;
  unsubscribe(id: number): void;
}

/** Serves `target`'s calls on `port` until it closes. */
export function serveCalls(port: MessagePort, target: CallTarget): void {
  const subscriptions = new Map<number, number>();
  const scans = createScanSessions((query) => target.readLog(query));
  let outbox: CallReply[] = [];
  const flush = () => {
    if (outbox.length === 0) return;
    const messages = outbox;
    outbox = [];
    port.postMessage(messages);
  };
  const send = (message: CallReply, now: boolean) => {
    // A change goes with whatever follows it in this task (its append's reply), or alone at the task's end.
    if (outbox.push(message) === 1 && !now) queueMicrotask(flush);
    if (now) flush();
  };
  const reply = (id: number, work: Promise<unknown>) => {
    work.then(
      (value) => send([id, REPLY, value], true),
      (error: unknown) => send([id, FAILURE, errorToWire(error)], true),
    );
  };
  port.onmessage = (message: MessageEvent<CallMessage>) => {
    const call = message.data;
    const id = call[0];
    try {
      switch (call[1]) {
        case 'append':
          return reply(id, target.append(call[2]));
        case 'appendBatch':
          return reply(
            id,
            target.appendBatch(requestsFromWire(call[2])).then((outcomes): OutcomesWire => outcomesToWire(outcomes)),
          );
        case 'load':
          return reply(id, target.readSnapshotAndTail(call[2], call[3]));
        case 'scanOpen':
          scans.open(call[2], call[3]);
          return reply(id, Promise.resolve(undefined));
        case 'scanNext':
          return reply(id, scans.next(call[2]) satisfies Promise<ScanStep>);
        case 'scanClose':
          scans.close(call[2]);
          return reply(id, Promise.resolve(undefined));
        case 'subscribe': {
          const key = call[2];
          subscriptions.set(
            key,
            target.subscribe((change) => send([key, CHANGE, change], false)),
          );
          return reply(id, Promise.resolve(undefined));
        }
        case 'unsubscribe': {
          const subscription = subscriptions.get(call[2]);
          subscriptions.delete(call[2]);
          if (subscription !== undefined) target.unsubscribe(subscription);
          return reply(id, Promise.resolve(undefined));
        }
      }
    } catch (error) {
      reply(id, Promise.reject(error));
    }
  };
  port.start();
}

import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import type { Logger } from '../logger.ts';
import { decodePushBody, type DecodeLimits, type DecodeOutcome } from './push-decode.ts';

/**
 * Push bodies decoded in worker threads: JSON.parse, validation and
 * JSON.stringify of each event are most of a push's CPU time on the event loop
 * (about 40 % of it in server-push), and the event loop is one thread: under
 * load from other processes it is the server's bottleneck. A decoder thread
 * answers with the push as columns (push-decode.ts), which cost little to copy;
 * the event loop then only judges and writes.
 *
 * The thread runs this very module (the same file, or the same chunk of the
 * built package), which starts serving when it finds itself in a decoder
 * thread. A thread that fails or is not there yet never fails a push: the body
 * is decoded on the event loop instead, by the same code.
 */

const ROLE = 'chronicle-push-decoder';

export interface PushDecodingOptions {
  /** Decoder threads (0: decode on the event loop). Default: the cores but one, at least 1, at most 4. */
  threads?: number;
  /** Bodies smaller than this (bytes) are decoded on the event loop: a thread's round trip costs more than they do. Default 32 KiB. */
  minBytes?: number;
}

export const DEFAULT_PUSH_DECODING: Required<PushDecodingOptions> = {
  threads: Math.min(4, Math.max(1, availableParallelism() - 1)),
  minBytes: 32 * 1024,
};

interface ThreadInit {
  role: typeof ROLE;
  supported: number[];
  limits: DecodeLimits;
}

interface DecodeRequest {
  id: number;
  body: Uint8Array;
}

type ThreadMessage = { ready: true } | { id: number; outcome: DecodeOutcome };

function isThreadInit(value: unknown): value is ThreadInit {
  return typeof value === 'object' && value !== null && (value as { role?: unknown }).role === ROLE;
}

/** In a decoder thread: answer every body sent to it. */
function serve(port: MessagePort, init: ThreadInit): void {
  port.on('message', (request: DecodeRequest) => {
    const reply: ThreadMessage = { id: request.id, outcome: decodePushBody(request.body, init.supported, init.limits) };
    port.postMessage(reply);
  });
  const ready: ThreadMessage = { ready: true };
  port.postMessage(ready);
}

if (!isMainThread && parentPort && isThreadInit(workerData)) serve(parentPort, workerData);

/** How long a push waits for a starting thread before it is decoded on the event loop. */
const START_WAIT_MS = 10_000;
/** Threads that fail to start (or die) this many times in a row turn off-thread decoding off. */
const MAX_FAILURES = 3;

interface Thread {
  worker: Worker;
  ready: Promise<boolean>;
  pending: Map<number, (outcome: DecodeOutcome | undefined) => void>;
}

export interface PushDecoder {
  readonly minBytes: number;
  /** The body decoded in a thread; undefined when no thread could (the caller decodes it on the event loop). */
  decode(body: Uint8Array): Promise<DecodeOutcome | undefined>;
  /** Bodies decoded in threads so far (for tests and metrics). */
  readonly decoded: number;
  close(): Promise<void>;
}

/** Starts a thread running this module, loaded as it is (built JavaScript) or through tsx (the repository's TypeScript). */
export function spawnDecoderThread(init: unknown): Worker {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return new Worker(self, { workerData: init });
  const tsx = pathToFileURL(createRequire(self).resolve('tsx')).href;
  // Loaded through tsx's API (tsImport), this module's URL carries a `?tsx-namespace=...` query that the
  // thread's own tsx hooks do not serve (the file would load untransformed and fail): import the plain file.
  self.search = '';
  self.hash = '';
  const script = `require('node:module').register(${JSON.stringify(tsx)}, { data: {} }); import(${JSON.stringify(self.href)});`;
  return new Worker(script, { eval: true, workerData: init });
}

export function createPushDecoder(options: {
  threads: number;
  minBytes: number;
  supported: readonly number[];
  limits: DecodeLimits;
  logger: Logger;
  /** How a thread is started (tests start threads that fail); default: a thread running this module. */
  spawn?: (workerData: unknown) => Worker;
}): PushDecoder {
  const init: ThreadInit = {
    role: ROLE,
    supported: [...options.supported],
    limits: { maxEventsPerPush: options.limits.maxEventsPerPush, maxEventBytes: options.limits.maxEventBytes },
  };
  const threads: Thread[] = [];
  let nextId = 1;
  let failures = 0;
  let disabled = false;
  let closed = false;
  let decoded = 0;

  const drop = (thread: Thread, why: string): void => {
    const index = threads.indexOf(thread);
    if (index < 0) return;
    threads.splice(index, 1);
    for (const resolve of thread.pending.values()) resolve(undefined);
    thread.pending.clear();
    failed(why);
  };

  /** A thread failed, or could not be made: counted, and said; MAX_FAILURES in a row turn threads off. */
  const failed = (why: string): void => {
    if (closed) return;
    failures++;
    if (failures >= MAX_FAILURES && !disabled) {
      disabled = true;
      options.logger.warn('push decoding in threads is off: its threads keep failing; pushes are decoded on the event loop', {
        reason: why,
      });
    } else {
      options.logger.warn('a push decoder thread failed; its pushes are decoded on the event loop', { reason: why });
    }
  };

  const start = (): Thread | undefined => {
    let worker: Worker;
    try {
      worker = (options.spawn ?? spawnDecoderThread)(init);
    } catch (error) {
      // No thread could be made (the system's limit on threads reached: ERR_WORKER_INIT_FAILED, or its
      // module not found). The push is decoded on the event loop, as with a thread that died.
      failed(`no thread could be started: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
    worker.unref();
    let markReady!: (ok: boolean) => void;
    const thread: Thread = { worker, pending: new Map(), ready: new Promise<boolean>((resolve) => (markReady = resolve)) };
    worker.on('message', (message: ThreadMessage) => {
      if ('ready' in message) {
        failures = 0;
        markReady(true);
        return;
      }
      const resolve = thread.pending.get(message.id);
      if (!resolve) return;
      thread.pending.delete(message.id);
      decoded++;
      resolve(message.outcome);
    });
    worker.on('error', (error) => {
      markReady(false);
      drop(thread, error.message);
    });
    worker.on('exit', (code) => {
      markReady(false);
      drop(thread, `the thread exited (${code})`);
    });
    threads.push(thread);
    return thread;
  };

  /** The least busy thread, starting one while fewer than asked for run. */
  const pick = (): Thread | undefined => {
    if (disabled || closed || options.threads <= 0) return undefined;
    let best: Thread | undefined;
    for (const thread of threads) if (!best || thread.pending.size < best.pending.size) best = thread;
    if (threads.length < options.threads && (!best || best.pending.size > 0)) return start() ?? best;
    return best;
  };

  return {
    minBytes: options.minBytes,
    get decoded() {
      return decoded;
    },
    async decode(body) {
      const thread = pick();
      if (!thread) return undefined;
      const ready = await Promise.race([thread.ready, new Promise<false>((resolve) => setTimeout(resolve, START_WAIT_MS, false).unref())]);
      if (!ready || !threads.includes(thread)) return undefined;
      const id = nextId++;
      // A view into a larger buffer would copy all of it: send exactly the body's bytes.
      const bytes = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : body.slice();
      return new Promise<DecodeOutcome | undefined>((resolve) => {
        thread.pending.set(id, resolve);
        const request: DecodeRequest = { id, body: bytes };
        try {
          thread.worker.postMessage(request);
        } catch {
          thread.pending.delete(id);
          resolve(undefined);
        }
      });
    },
    async close() {
      closed = true;
      const all = threads.splice(0);
      for (const thread of all) for (const resolve of thread.pending.values()) resolve(undefined);
      await Promise.all(all.map((thread) => thread.worker.terminate().catch(() => undefined)));
    },
  };
}

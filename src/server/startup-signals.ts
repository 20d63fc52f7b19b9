import { constants as osConstants } from 'node:os';
import type { Logger } from './logger.ts';
import type { LogStore } from './store/types.ts';

/** How long SIGTERM / SIGINT during start-up waits for what the start began to be undone before the process exits anyway. */
const STARTUP_STOP_MS = 5_000;

export interface Startup {
  /** Aborted by SIGTERM or SIGINT before the server listens: a PGlite store stops opening. */
  signal: AbortSignal;
  /**
   * The store being opened: a signal waits for it (for its abort, or to close
   * it) before the process exits. After a signal the returned promise never
   * settles: the start goes no further while the process exits.
   */
  opening(store: Promise<LogStore>): Promise<LogStore>;
  /** The server listens: its own handlers take the signals over. False when a signal came first (the process is exiting). */
  listening(): boolean;
  /** A signal came: the start is being undone and the process exits with the signal's code (what failed since is moot). */
  stopped(): boolean;
}

/**
 * SIGTERM and SIGINT before the server listens. Their default action would end
 * the process at once and leave what the start began: a new data directory's
 * initdb child writing on (until it notices), a store's lock to be taken over
 * as stale. Instead the start is aborted, the store being opened is waited for
 * and closed (at most STARTUP_STOP_MS; what is not undone by then is left as a
 * kill would leave it, which a restart recovers from), and the process exits
 * 128 + the signal's number, the code a shell gives a process the signal
 * ended (SIGTERM 143, SIGINT 130).
 */
export function handleSignalsDuringStartup(logger: Logger): Startup {
  const controller = new AbortController();
  let store: Promise<LogStore> | undefined;
  let stopping = false;
  const stop = (signal: 'SIGTERM' | 'SIGINT'): void => {
    const code = 128 + osConstants.signals[signal];
    if (stopping) {
      logger.warn(`${signal} again: exiting now`);
      process.exit(code);
    }
    stopping = true;
    logger.info(`${signal} before the server listens: stopping the start`);
    controller.abort(new Error(`${signal} before the server listens`));
    setTimeout(() => {
      logger.warn(`the start was not undone within ${STARTUP_STOP_MS} ms: exiting without it`);
      process.exit(code);
    }, STARTUP_STOP_MS);
    // A store that opened (or opens all the same) is closed, releasing its lock; one that failed undid itself.
    void (store ?? Promise.resolve(undefined))
      .then(
        (opened) => opened?.close(),
        () => undefined,
      )
      .then(
        () => logger.info('stopped before listening'),
        (error: unknown) => logger.error('closing the store failed', { error: String(error) }),
      )
      .finally(() => process.exit(code));
  };
  const onTerm = (): void => stop('SIGTERM');
  const onInt = (): void => stop('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  const never = new Promise<never>(() => undefined);
  return {
    signal: controller.signal,
    opening(opening) {
      store = opening;
      return opening.then(
        (opened) => (stopping ? never : opened),
        (error: unknown) => (stopping ? never : Promise.reject(error)),
      );
    },
    stopped: () => stopping,
    listening() {
      if (stopping) return false;
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      return true;
    },
  };
}

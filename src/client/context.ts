import type { LogEnd } from '../core/cursor.ts';
import type { Registry } from '../core/registry.ts';
import type { ChangeHub } from './change-hub.ts';
import type { ClosedSignal } from './closed-signal.ts';
import type { EngineConnection } from './connection.ts';
import type { MetricsRecorder } from './metrics.ts';
import type { TimeTravelState } from './time-travel.ts';

/** What every part of an open store shares (see store.ts, which wires them). */
export interface StoreContext {
  readonly name: string;
  readonly connection: EngineConnection;
  readonly registry: Registry;
  readonly clientId: string;
  readonly hub: ChangeHub;
  readonly travel: TimeTravelState;
  /** The log end when the store opened: events stored after it are live news, never history. */
  readonly openedAt: LogEnd;
  /** Where appends, replay runs and projection catch-ups record their latencies (store.metrics()). */
  readonly metrics: MetricsRecorder;
  /**
   * Tells when close() begins or the store stops on its own (its worker ended, its database was deleted):
   * live subscriptions hand the error to their onError then, since no change will ever come to tell them.
   */
  readonly onClosed: ClosedSignal['onClosed'];
}

import type { EventOutcome, EventSyncState, RejectedRecord, SyncConfig, SyncStatus, WebSocketFactory } from '../../worker/contract.ts';
import type { EncryptionOptions } from '../core/encryption.ts';

export type { SyncStatus, EventOutcome, EventSyncState, RejectedRecord };

export interface SyncOptions extends SyncConfig {
  /** Called before each request for a fresh bearer token (instead of a fixed `token`). */
  getToken?: () => string | undefined | Promise<string | undefined>;
  /** In-process only (e.g. Node 20, which has no WebSocket): opens the live channel, e.g. `(url) => new WebSocket(url)` from 'ws'. */
  webSocket?: WebSocketFactory;
  /** In-process only: the fetch to use. */
  fetch?: typeof fetch;
  /**
   * End-to-end encryption of event payloads with the app's keys (README,
   * "Encryption"): `{ keys: keyring | (log) => keyring, hashAggregateIds?, acceptPlaintext? }`.
   */
  encryption?: EncryptionOptions;
}

export interface SyncHandle {
  /** Where sync stands: online / offline / syncing / paused / error, pending count, positions, last error. */
  status(): Promise<SyncStatus>;
  /** Calls back with the status now and at every change (in any tab). */
  subscribe(listener: (status: SyncStatus) => void): () => void;
  /**
   * Calls back when pending events end confirmed, rebased or rejected: once, after the commit that decides
   * them, in the tabs open then. An engine that stops right after that commit (the tab closed or reloaded
   * mid-round) tells nobody: ask outcomeOf() for the events the app still waits on when it opens.
   */
  onOutcome(listener: (outcomes: EventOutcome[]) => void): () => void;
  /**
   * Where each of these events (by id, in the order given) stands now, from what is stored: `pending`,
   * `confirmed` (with its position), `rejected` (with the reason; it is in rejected()) or `unknown` (not
   * stored here: not appended by this store, another device's, or a rejected one dismissed).
   */
  outcomeOf(ids: string[]): Promise<EventSyncState[]>;
  /** One full round now (pull, push, rebase); rejects with the reason if it fails. */
  syncNow(): Promise<void>;
  /**
   * Stops talking to the server (an app's offline switch), for the store in
   * every tab; appends keep working locally. Resolves once this tab's round in
   * flight, if any, has stopped: from then on it sends nothing (a request
   * already sent is answered, and a push confirmed, first), and the status
   * says `paused`.
   */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Pending events the server refused or a rebase rule dropped: kept here, never silently lost. */
  rejected(): Promise<RejectedRecord[]>;
  /** Forgets rejected events the app has shown or handled (all of them when no ids are given). */
  dismissRejected(ids?: string[]): Promise<void>;
}

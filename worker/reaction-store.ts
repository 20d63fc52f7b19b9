import { ChronicleError, ConfigError } from '../src/core/errors.ts';
import type { StoredEvent } from '../src/core/event.ts';
import { reactionCaughtUp } from '../src/core/reaction.ts';
import type { IDBPTransaction } from 'idb';
import type { ChronicleDB, ChronicleSchema, ParkedRecord, ProcessedRecord, ReactionRecord } from './db.ts';
import { FLUSH_TO_DISK } from './durability.ts';
import { decodePageJson } from './page-codec.ts';
import { readPages } from './page-store.ts';
import { pendingRangeAll } from './pending.ts';
import { requestLeaderLock, withLockIfFree, type Withdraw } from './sync/leader-lock.ts';
import type { Change } from './types.ts';

type Run = <T>(operation: string, fn: (db: ChronicleDB) => Promise<T>) => Promise<T>;

export interface ReactionSpec {
  name: string;
  on: 'local' | 'confirmed';
  startFrom: 'now' | 'beginning';
}

/** Where the checkpoint moves with a commit (each only forward). */
export interface ReactionAdvance {
  /** The confirmed position now done with. */
  confirmed?: number;
  /** The first pending page not yet done with. */
  pendingLsn?: number;
}

export interface ReactionStatusRecord {
  record: ReactionRecord;
  parked: number;
  /** Everything stored so far is done with: handled, parked or not for this reaction. */
  caughtUp: boolean;
}

/**
 * The reactions' durable bookkeeping, one transaction per step: each commit
 * writes the ProcessedEvent (or parked) record of an event together with the
 * checkpoint it moves, so after a crash the checkpoint and the records agree
 * and only the event marked in flight can come again.
 */
export interface ReactionStore {
  /** Creates the reaction's checkpoint if it has none: at the log end ('now'), or before the first event. */
  initReaction(spec: ReactionSpec): Promise<ReactionRecord>;
  getReaction(name: string): Promise<ReactionRecord | undefined>;
  /** Which of `ids` the reaction has finished with: handled, skipped, or parked (retry and skip decide those). */
  reactionProcessed(name: string, ids: string[]): Promise<string[]>;
  /**
   * Marks the event about to be handed to the handler (the in-flight marker).
   * A marker left for another event (a crash) moves to the record's
   * `interrupted` list, which is returned.
   */
  markReactionInFlight(name: string, eventId: string): Promise<string[]>;
  /** Removes a marker written ahead for an event that was never handed out (the reaction stopped before it). */
  clearReactionInFlight(name: string, eventId: string): Promise<void>;
  /** The handler succeeded: the processed record, the checkpoint and the next in-flight marker, together. */
  recordReactionDone(name: string, eventId: string, advance: ReactionAdvance, next: string | null): Promise<void>;
  /** The handler failed and will be retried after a pause. */
  noteReactionFailure(name: string, eventId: string, attempts: number, lastError: string): Promise<void>;
  /** The handler failed too often: the event is set aside and the reaction moves on. */
  parkReaction(
    name: string,
    event: StoredEvent,
    attempts: number,
    lastError: string,
    advance: ReactionAdvance,
    next: string | null,
  ): Promise<void>;
  /** Moves the checkpoint over events that are not for this reaction or were handled already. */
  advanceReaction(name: string, advance: ReactionAdvance): Promise<void>;
  parkedReactions(name?: string): Promise<ParkedRecord[]>;
  /** Asks the tab running reactions to try a parked event again. */
  retryParked(name: string, eventId: string): Promise<void>;
  /**
   * Before a retry's handler runs: marks it running (ParkedRecord.retrying), so that a skip is refused
   * until it finished. False when the event is no longer parked with a retry asked for (skipped
   * meanwhile): the handler must not run.
   */
  startRetry(name: string, eventId: string): Promise<boolean>;
  /** A retried parked event: handled (done) or failed once more. */
  finishRetry(name: string, eventId: string, failure: string | null): Promise<void>;
  /** The app gives up on a parked event: it is recorded as skipped and never delivered again. */
  skipParked(name: string, eventId: string): Promise<void>;
  reactionStatus(): Promise<ReactionStatusRecord[]>;
  /**
   * store.forget() of a reaction the app no longer registers: drops its
   * checkpoint, processed and parked records, so that it holds compaction back
   * no more. Holds the reaction's lock meanwhile; `running` (nothing changed)
   * when another engine holds or waits for it.
   */
  forgetReaction(name: string): Promise<'forgotten' | 'absent' | 'running'>;
  /**
   * Calls `onLead` once this engine holds the reaction's lock (one tab at a
   * time per reaction); held until the engine closes, or resigns it (then it
   * may ask again). One lock per reaction,
   * not per store: a tab of an older app version that does not know a new
   * reaction must not keep it from running.
   */
  leadReaction(name: string, onLead: () => void): void;
  /**
   * Lets one reaction's lock go for the rest of this engine's life: its tab
   * met an event it cannot read (a newer app version's), so the next tab
   * waiting, one that may read it, takes the reaction over from its checkpoint.
   */
  resignReaction(name: string): void;
  /** Lets the lock go (the engine closes). */
  stopLeading(): void;
}

const ignore = (): void => undefined;

function forward(record: ReactionRecord, advance: ReactionAdvance): void {
  if (advance.confirmed !== undefined) record.confirmed = Math.max(record.confirmed, advance.confirmed);
  if (advance.pendingLsn !== undefined) record.pendingLsn = Math.max(record.pendingLsn, advance.pendingLsn);
  record.updatedAt = Date.now();
}

/** Interrupted deliveries kept at most: each crash adds one, each delivery of one removes it. */
const MAX_INTERRUPTED = 64;

/** `list` with `eventId` added (once; the oldest go past MAX_INTERRUPTED). */
function withInterrupted(list: readonly string[] | undefined, eventId: string): string[] {
  const next = (list ?? []).filter((id) => id !== eventId);
  next.push(eventId);
  return next.slice(-MAX_INTERRUPTED);
}

/** The event's delivery is recorded (done or parked): it is no longer an interrupted one. */
function delivered(record: ReactionRecord, eventId: string): void {
  if (!record.interrupted?.includes(eventId)) return;
  record.interrupted = record.interrupted.filter((id) => id !== eventId);
  if (record.interrupted.length === 0) delete record.interrupted;
}

/** The Web Lock (or process lock) whose holder runs the reaction: one per reaction, not per store (see leadReaction). */
const reactionLock = (storeName: string, name: string): string => `chronicle-reaction:${storeName}:${name}`;

function missing(name: string): never {
  throw new ConfigError(`Reaction "${name}" is not registered with this store`, { reaction: name });
}

/** The reaction's checkpoint as initReaction finds or creates it (see ReactionStore.initReaction). */
async function initRecord(db: ChronicleDB, spec: ReactionSpec): Promise<ReactionRecord> {
  const tx = db.transaction(['reactions', 'processed', 'meta', 'pages'], 'readwrite');
  const existing = await tx.objectStore('reactions').get(spec.name);
  if (existing && existing.forgottenAt === undefined) {
    if (existing.on !== spec.on) {
      existing.on = spec.on;
      tx.objectStore('reactions').put(existing, spec.name).catch(ignore);
    }
    await tx.done;
    return existing;
  }
  const meta = await tx.objectStore('meta').get('client');
  if (!meta) throw new ChronicleError('STORAGE', 'store metadata is missing');
  const now = Date.now();
  const record: ReactionRecord = {
    name: spec.name,
    on: spec.on,
    confirmed: 0,
    pendingLsn: 0,
    historyEnd: { confirmedHead: meta.confirmedHead, nextLsn: meta.nextLsn, nextClientSeq: meta.nextClientSeq },
    inFlight: null,
    startedAt: now,
    updatedAt: now,
  };
  // A forgotten reaction registered again starts now, whatever it asks: what came before may have had its effect.
  if (spec.startFrom === 'now' || existing) {
    // Nothing stored before now is for this reaction, including pending events confirmed later.
    record.confirmed = meta.confirmedHead;
    record.pendingLsn = meta.nextLsn;
    record.historyEnd = null;
    const { pages } = await readPages(tx.objectStore('pages'), pendingRangeAll());
    const processed = tx.objectStore('processed');
    for (const page of pages) {
      for (const event of decodePageJson(page.json)) {
        const done: ProcessedRecord = { reaction: spec.name, eventId: event.id, outcome: 'before-start', at: now };
        processed.put(done, [spec.name, event.id]).catch(ignore);
      }
    }
  }
  tx.objectStore('reactions').put(record, spec.name).catch(ignore);
  await tx.done;
  return record;
}

/** store.forget() of a reaction, under its lock: the processed and parked records go, the record stays as a tombstone. */
async function writeTombstone(db: ChronicleDB, name: string): Promise<'forgotten' | 'absent'> {
  const tx = db.transaction(['reactions', 'processed', 'parked'], 'readwrite');
  const record = await tx.objectStore('reactions').get(name);
  if (!record || record.forgottenAt !== undefined) {
    await tx.done;
    return 'absent';
  }
  const ofReaction = IDBKeyRange.bound([name], [name, []]);
  tx.objectStore('processed').delete(ofReaction).catch(ignore);
  tx.objectStore('parked').delete(ofReaction).catch(ignore);
  const now = Date.now();
  const tombstone: ReactionRecord = { ...record, historyEnd: null, inFlight: null, updatedAt: now, forgottenAt: now };
  delete tombstone.interrupted;
  tx.objectStore('reactions').put(tombstone, name).catch(ignore);
  await tx.done;
  return 'forgotten';
}

export function createReactionStore(
  storeName: string,
  run: Run,
  publish: (change: Change) => void,
  isClosed: () => boolean,
): ReactionStore {
  const changed = (name: string, retry = false) => publish({ kind: 'reactions', name, ...(retry ? { retry } : {}) });
  /** The reactions whose lock this engine holds: how to let each one go. */
  const releases = new Map<string, () => void>();
  /** The reactions' lock requests: how to take back one still waiting (stopLeading). */
  const withdrawals = new Map<string, Withdraw>();
  /** Reactions this engine gave up (resignReaction): it does not lead them again. */
  const resigned = new Set<string>();
  let released = false;

  /**
   * Runs `step` on the record in a readwrite transaction over the reaction stores and commits it with the
   * record. `beforeHandler`: the commit names the event a handler runs next (its in-flight marker), so it
   * is flushed to disk: the marker, with the event it names, must outlive a power cut, or the handler's
   * effect would be repeated unflagged (durability.ts). Other bookkeeping (an advance past events not for
   * the reaction, a failure's count) may be lost with the last moments: the reaction scans again.
   */
  const update: ReactionUpdate = (operation, name, step, beforeHandler = false) =>
    run(operation, async (db) => {
      const tx = db.transaction(['reactions', 'processed', 'parked'], 'readwrite', beforeHandler ? FLUSH_TO_DISK : undefined);
      const record = (await tx.objectStore('reactions').get(name)) ?? missing(name);
      await step(record, tx);
      tx.objectStore('reactions').put(record, name).catch(ignore);
      await tx.done;
    });

  return {
    initReaction: (spec) => run('initReaction', (db) => initRecord(db, spec)),
    getReaction: (name) => run('getReaction', (db) => db.get('reactions', name)),
    reactionProcessed: (name, ids) =>
      run('reactionProcessed', async (db) => {
        if (ids.length === 0) return [];
        const tx = db.transaction(['processed', 'parked']);
        const [processed, parked] = [tx.objectStore('processed'), tx.objectStore('parked')];
        // A parked event is done with until the app retries it: its confirmation must not deliver it again.
        const keys = await Promise.all(ids.map(async (id) => (await processed.getKey([name, id])) ?? parked.getKey([name, id])));
        return ids.filter((_, i) => keys[i] !== undefined);
      }),
    markReactionInFlight: async (name, eventId) => {
      let interrupted: string[] = [];
      await update(
        'markReactionInFlight',
        name,
        (record) => {
          const left = record.inFlight?.eventId;
          if (left !== undefined && left !== eventId) record.interrupted = withInterrupted(record.interrupted, left);
          if (left !== eventId) record.inFlight = { eventId, attempts: 0, lastError: null };
          interrupted = record.interrupted ?? [];
        },
        true,
      );
      return interrupted;
    },
    clearReactionInFlight: (name, eventId) =>
      update('clearReactionInFlight', name, (record) => {
        if (record.inFlight?.eventId === eventId && record.inFlight.attempts === 0) record.inFlight = null;
      }),
    recordReactionDone: async (name, eventId, advance, next) => {
      await update(
        'recordReactionDone',
        name,
        (record, tx) => {
          const done: ProcessedRecord = { reaction: name, eventId, outcome: 'done', at: Date.now() };
          tx.objectStore('processed').put(done, [name, eventId]).catch(ignore);
          forward(record, advance);
          delivered(record, eventId);
          record.inFlight = next === null ? null : { eventId: next, attempts: 0, lastError: null };
        },
        next !== null,
      );
      changed(name);
    },
    noteReactionFailure: async (name, eventId, attempts, lastError) => {
      await update('noteReactionFailure', name, (record) => {
        record.inFlight = { eventId, attempts, lastError };
        record.updatedAt = Date.now();
      });
      changed(name);
    },
    parkReaction: async (name, event, attempts, lastError, advance, next) => {
      await update(
        'parkReaction',
        name,
        (record, tx) => {
          const parked: ParkedRecord = {
            reaction: name,
            eventId: event.id,
            event,
            attempts,
            lastError,
            parkedAt: Date.now(),
            retry: false,
          };
          tx.objectStore('parked').put(parked, [name, event.id]).catch(ignore);
          forward(record, advance);
          delivered(record, event.id);
          record.inFlight = next === null ? null : { eventId: next, attempts: 0, lastError: null };
        },
        next !== null,
      );
      changed(name);
    },
    advanceReaction: (name, advance) =>
      update('advanceReaction', name, (record) => {
        forward(record, advance);
      }),
    parkedReactions: (name) =>
      run('parkedReactions', async (db) => {
        const range = name === undefined ? undefined : IDBKeyRange.bound([name], [name, []]);
        return db.getAll('parked', range);
      }),
    ...parkedActions(update, changed),
    reactionStatus: () =>
      run('reactionStatus', async (db) => {
        const tx = db.transaction(['reactions', 'parked', 'meta']);
        const [records, parkedKeys, meta] = await Promise.all([
          tx.objectStore('reactions').getAll(),
          tx.objectStore('parked').getAllKeys(),
          tx.objectStore('meta').get('client'),
        ]);
        return records
          .filter((record) => record.forgottenAt === undefined)
          .map((record) => ({
            record,
            parked: parkedKeys.filter((key) => key[0] === record.name).length,
            caughtUp: reactionCaughtUp(record, meta),
          }));
      }),
    forgetReaction: async (name) => {
      const outcome = await withLockIfFree(
        reactionLock(storeName, name),
        () => run('forgetReaction', (db) => writeTombstone(db, name)),
        'running' as const,
      );
      if (outcome === 'forgotten') changed(name);
      return outcome;
    },
    leadReaction(name, onLead) {
      // Asked again after resigning: the page saw the event it could not read done with.
      resigned.delete(name);
      // A request of this engine still waiting for the lock is replaced, not left to wait beside the new one.
      withdrawals.get(name)?.();
      withdrawals.set(
        name,
        requestLeaderLock(reactionLock(storeName, name), () => {
          if (released || resigned.has(name) || isClosed()) return undefined;
          return new Promise<void>((resolve) => {
            releases.set(name, resolve);
            // In worker mode onLead is the main thread's (a comlink call): if it cannot be told, let another tab lead.
            void Promise.resolve()
              .then(() => onLead())
              .catch(() => resolve());
          });
        }),
      );
    },
    resignReaction(name) {
      resigned.add(name);
      changed(name);
      releases.get(name)?.();
      releases.delete(name);
    },
    stopLeading() {
      released = true;
      for (const release of releases.values()) release();
      releases.clear();
      // Requests still waiting for another tab's lock would keep this engine reachable until it lets go.
      for (const withdraw of withdrawals.values()) withdraw();
      withdrawals.clear();
    },
  };
}

/** What update() in createReactionStore does: one transaction over a reaction's record, processed and parked. */
type ReactionUpdate = (
  operation: string,
  name: string,
  step: (record: ReactionRecord, tx: ReactionTx) => void | Promise<void>,
  beforeHandler?: boolean,
) => Promise<void>;

/** The app's retry and skip of parked events, and the runner's steps of a retry. */
function parkedActions(
  update: ReactionUpdate,
  changed: (name: string, retry?: boolean) => void,
): Pick<ReactionStore, 'retryParked' | 'startRetry' | 'finishRetry' | 'skipParked'> {
  return {
    retryParked: async (name, eventId) => {
      await update('retryParked', name, async (_record, tx) => {
        const parked = await tx.objectStore('parked').get([name, eventId]);
        if (!parked)
          throw new ChronicleError('NOT_PARKED', `Event ${eventId} is not parked for reaction "${name}"`, { reaction: name, eventId });
        parked.retry = true;
        // Asked while a try's handler runs: that try's failure must not clear this request (one more try follows).
        if (parked.retrying !== undefined) parked.askedAgain = true;
        tx.objectStore('parked').put(parked, [name, eventId]).catch(ignore);
      });
      changed(name, true);
    },
    startRetry: async (name, eventId) => {
      let started = false;
      await update(
        'startRetry',
        name,
        async (_record, tx) => {
          const parked = await tx.objectStore('parked').get([name, eventId]);
          if (!parked?.retry) return;
          parked.retrying = Date.now();
          tx.objectStore('parked').put(parked, [name, eventId]).catch(ignore);
          started = true;
        },
        true,
      );
      return started;
    },
    finishRetry: async (name, eventId, failure) => {
      await update('finishRetry', name, async (_record, tx) => {
        const parked = await tx.objectStore('parked').get([name, eventId]);
        if (!parked) return; // skipped meanwhile
        if (failure === null) {
          tx.objectStore('parked').delete([name, eventId]).catch(ignore);
          const done: ProcessedRecord = { reaction: name, eventId, outcome: 'done', at: Date.now() };
          tx.objectStore('processed').put(done, [name, eventId]).catch(ignore);
        } else {
          Object.assign(parked, { attempts: parked.attempts + 1, lastError: failure, retry: parked.askedAgain === true });
          delete parked.retrying;
          delete parked.askedAgain;
          tx.objectStore('parked').put(parked, [name, eventId]).catch(ignore);
        }
      });
      changed(name);
    },
    skipParked: async (name, eventId) => {
      await update('skipParked', name, async (_record, tx) => {
        const parked = await tx.objectStore('parked').get([name, eventId]);
        if (!parked)
          throw new ChronicleError('NOT_PARKED', `Event ${eventId} is not parked for reaction "${name}"`, { reaction: name, eventId });
        // The retry's handler is running (or was, in a tab that crashed: the next tab to run the reaction
        // tries it again and finishes it): recorded as skipped, the event would have been handled all the
        // same. It can be skipped once that attempt has failed (it is parked again). A retry asked for and
        // not started yet is given up with the rest (startRetry then finds nothing to run).
        if (parked.retrying !== undefined)
          throw new ChronicleError(
            'NOT_PARKED',
            `Event ${eventId} of reaction "${name}" is being retried (reactions.retry); skip it if that attempt fails`,
            { reaction: name, eventId, retrying: true },
          );
        tx.objectStore('parked').delete([name, eventId]).catch(ignore);
        const skipped: ProcessedRecord = { reaction: name, eventId, outcome: 'skipped', at: Date.now() };
        tx.objectStore('processed').put(skipped, [name, eventId]).catch(ignore);
      });
      changed(name);
    },
  };
}

type ReactionTx = IDBPTransaction<ChronicleSchema, ('reactions' | 'processed' | 'parked')[], 'readwrite'>;

import {
  hashAggregateId,
  importKeyring,
  type ClearAggregateIds,
  isEncryptedEnvelope,
  openEvent,
  sealEvent,
  type EncryptionSettings,
  type KeyImportCache,
  type Keyring,
  type OpenKeyring,
} from '../../src/core/encryption.ts';
import { ChronicleError, EncryptionKeyError, type EncryptionKeyReason } from '../../src/core/errors.ts';
import { messageOfThrown } from '../../src/core/thrown.ts';
import type { StoredEvent } from '../../src/core/event.ts';
import { allInOrder } from './settle-in-order.ts';
import type { PullPage, Transport } from './transport.ts';

/** Asks the app for a log's keyring (a main-thread proxy in worker mode). */
export type KeyringSource = (log: string) => Promise<Keyring | undefined>;

/** Whether the store synced with encryption before (SyncEncryptionRecord): which log, since when. */
export type EncryptedBefore = () => Promise<{ log: string; since: number } | undefined>;

/**
 * End-to-end encryption as a layer around the transport (the format and
 * rules are in src/core/encryption.ts): a push seals every event before it is
 * sent, a pull opens every event of a page before the page is handed on to be
 * stored. Either all events of a push or page go through, or none does: an
 * EncryptionKeyError fails the round before anything is sent or written, and
 * the sync stops there (status `error`, the error as `lastError`) until a
 * later round succeeds.
 *
 * The keyring is asked for before each push (so a rotation takes effect at the
 * next push) and kept for pulls; a pulled page that names a key id the kept
 * keyring lacks, or does not open with it, asks once more before failing (the
 * app may have added the key meanwhile).
 *
 * Without `settings` (a store opened without encryption) events pass through
 * unchanged, except that a pulled encrypted event is refused (`no-keys`):
 * storing the envelope as if it were the payload would hand reducers garbage;
 * and a push is refused (`no-keys`) when `encryptedBefore` says the store
 * synced with encryption before: its events were written for an encrypted
 * log, and the server must never see them in plaintext.
 */
/** How long a round waits for the keys callback before it fails (`keyring`); the next round waits for the same call again. */
export const KEYS_WAIT_MS = 30_000;

/**
 * `call`'s answer, or a failure once `ms` passed or `stopped` aborted (whichever comes first); leaves no
 * timer behind. Aborted with a ChronicleError (the engine's SYNC_PAUSED or SYNC_STOPPED), it fails with that.
 */
function answerWithin<T>(call: Promise<T>, ms: number, stopped: AbortSignal | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      stopped?.removeEventListener('abort', onStop);
    };
    const onStop = (): void => {
      done();
      const reason: unknown = stopped?.reason;
      reject(reason instanceof ChronicleError ? reason : new Error('sync stopped while waiting for it'));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`it did not answer within ${ms / 1000} s`));
    }, ms);
    if (stopped?.aborted) return onStop();
    stopped?.addEventListener('abort', onStop, { once: true });
    call.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

export function withEncryption(
  inner: Transport,
  log: string,
  settings: EncryptionSettings | undefined,
  keys: KeyringSource | undefined,
  /**
   * The signal that aborts when sync stops or is paused (a new one after each resume): a keys callback still
   * being waited for no longer holds the round, nor close() or pause(). Aborted with a ChronicleError
   * (SYNC_PAUSED, SYNC_STOPPED), the round fails with that error, as a paused round ends, not as a key failure.
   */
  waitEnds?: () => AbortSignal | undefined,
  /** Without `settings`: asked before each push (another tab may start with encryption meanwhile). */
  encryptedBefore?: EncryptedBefore,
): Transport {
  const base: Transport = {
    push: (clientId, events, epoch) => inner.push(clientId, events, epoch),
    fence: (clientId, epoch) => inner.fence(clientId, epoch),
    pull: (after, limit, clientId, held) => inner.pull(after, limit, clientId, held),
    liveUrl: () => inner.liveUrl(),
  };
  if (!settings) {
    return {
      ...base,
      async push(clientId, events, epoch) {
        const before = await encryptedBefore?.();
        if (before) {
          const since = new Date(before.since).toISOString();
          throw new EncryptionKeyError('no-keys', { log, operation: 'push', cause: `log "${before.log}", since ${since}` });
        }
        return inner.push(clientId, events, epoch);
      },
      async pull(after, limit, clientId, held) {
        const page = await inner.pull(after, limit, clientId, held);
        for (const event of page.events) {
          if (isHeld(event, held)) continue; // not stored again: its form does not matter (Transport.pull)
          if (isEncryptedEnvelope(event.data))
            throw new EncryptionKeyError('no-keys', { log, operation: 'pull', eventId: event.id, keyId: event.data.kid });
        }
        return page;
      },
    };
  }

  const imports: KeyImportCache = new Map();
  let kept: Promise<OpenKeyring> | undefined;
  /** A keys callback that has not answered yet (it may be waiting for a passphrase): later rounds wait for it, they do not ask again. */
  let asking: Promise<Keyring | undefined> | undefined;

  const load = (operation: 'push' | 'pull'): Promise<OpenKeyring> => {
    const loading = (async () => {
      if (!keys) throw new EncryptionKeyError('keyring', { log, operation, cause: 'sync.encryption has no keys' });
      let ring: unknown;
      const ends = waitEnds?.();
      try {
        const call = (asking ??= keys(log));
        void call.then(
          () => (asking = asking === call ? undefined : asking),
          () => (asking = asking === call ? undefined : asking),
        );
        ring = await answerWithin(call, KEYS_WAIT_MS, ends);
      } catch (error) {
        // Paused or stopped meanwhile: the round ends as the engine ends it (SYNC_PAUSED), not as a keyring failure.
        if (error instanceof ChronicleError && error === ends?.reason) throw error;
        throw new EncryptionKeyError('keyring', {
          log,
          operation,
          cause: `the keys callback failed: ${messageOfThrown(error)}`,
        });
      }
      return importKeyring(ring, log, imports);
    })();
    kept = loading;
    loading.catch(() => {
      if (kept === loading) kept = undefined;
    });
    return loading;
  };

  /** The wire form of aggregate ids under hashAggregateIds, each id hashed once per page (a page holds many events of an aggregate). */
  const hasherOf = (ring: OpenKeyring): ((aggregateId: string) => Promise<string>) => {
    const made = new Map<string, Promise<string>>();
    return (aggregateId) => {
      const idKey = ring.aggregateIdKey;
      if (!idKey) return Promise.reject(new EncryptionKeyError('no-aggregate-id-key', { log, operation: 'pull' }));
      let hash = made.get(aggregateId);
      if (!hash) made.set(aggregateId, (hash = hashAggregateId(idKey, log, aggregateId, 'pull')));
      return hash;
    };
  };

  /**
   * The page's events opened. One the client holds already (`held`: the event a round's first pull starts
   * with) is opened and checked like any other when the keyring has its key, and otherwise handed on as it
   * came: the client has it, and it is not stored again. So dropping a key stops only a client that has yet
   * to pull the events under it, as README "Key rotation" says; while the check that the held event opens
   * still catches a store that turned hashAggregateIds on after syncing without it.
   */
  const openPage = async (events: StoredEvent[], ring: OpenKeyring, held: number | undefined): Promise<StoredEvent[]> => {
    const ids: ClearAggregateIds = settings.hashAggregateIds ? { hashed: true, hash: hasherOf(ring) } : { hashed: false };
    return allInOrder(
      events.map((event) => {
        if (settings.acceptPlaintext && !isEncryptedEnvelope(event.data)) return event;
        if (isHeld(event, held) && isEncryptedEnvelope(event.data) && !ring.keys.has(event.data.kid)) return event;
        return openEvent(event, log, (kid) => ring.keys.get(kid), ids);
      }),
    );
  };

  const sealAll = async (events: StoredEvent[], ring: OpenKeyring): Promise<StoredEvent[]> => {
    const key = ring.keys.get(ring.current);
    if (!key) throw new EncryptionKeyError('no-current-key', { log, operation: 'push', keyId: ring.current });
    let wireIds: Map<string, string> | undefined;
    if (settings.hashAggregateIds) {
      const idKey = ring.aggregateIdKey;
      if (!idKey) throw new EncryptionKeyError('no-aggregate-id-key', { log, operation: 'push' });
      const ids = [...new Set(events.map((e) => e.aggregateId))];
      const hashes = await Promise.all(ids.map((id) => hashAggregateId(idKey, log, id)));
      wireIds = new Map(ids.map((id, i) => [id, hashes[i]!]));
    }
    return allInOrder(events.map((event) => sealEvent(event, log, { id: ring.current, key }, wireIds?.get(event.aggregateId))));
  };

  const pullOpened = async (after: number, limit: number, clientId: string | undefined, held?: number): Promise<PullPage> => {
    const page = await inner.pull(after, limit, clientId, held);
    if (page.events.length === 0) return page;
    const fresh = kept === undefined;
    const ring = await (kept ?? load('pull'));
    let events: StoredEvent[];
    try {
      events = await openPage(page.events, ring, held);
    } catch (error) {
      // The app may have added the key (or the aggregateIdKey) since the keyring was kept.
      const retry = !fresh && error instanceof EncryptionKeyError && RETRIED.has(error.reason);
      if (!retry) throw error;
      events = await openPage(page.events, await load('pull'), held);
    }
    return { ...page, events };
  };

  /**
   * The next page, fetched and opened while the caller stores this one: a
   * catch-up pulls page after page, and opening a page costs about as much as
   * storing one, so the two overlap. Used only by the very next call if it is
   * that pull, made within AHEAD_FRESH_MS; anything else drops it (it is a
   * read: dropping it loses nothing).
   */
  let ahead: { after: number; limit: number; clientId: string | undefined; at: number; page: Promise<PullPage> } | undefined;
  const takeAhead = (
    after: number,
    limit: number,
    clientId: string | undefined,
    held: number | undefined,
  ): Promise<PullPage> | undefined => {
    const next = ahead;
    ahead = undefined;
    if (!next || next.after !== after || next.limit !== limit || next.clientId !== clientId || Date.now() - next.at > AHEAD_FRESH_MS)
      return undefined;
    // A read ahead that failed (a key added since, a network blip) is done again now rather than reported.
    // (It was read without `held`, every event opened: one that opened is good whatever the caller holds.)
    return next.page.catch(() => pullOpened(after, limit, clientId, held));
  };

  return {
    ...base,
    async push(clientId, events, epoch) {
      ahead = undefined;
      const sealed = await sealAll(events, await load('push'));
      return inner.push(clientId, sealed, epoch);
    },
    fence(clientId, epoch) {
      ahead = undefined;
      return inner.fence(clientId, epoch);
    },
    async pull(after, limit, clientId, held): Promise<PullPage> {
      const page = await (takeAhead(after, limit, clientId, held) ?? pullOpened(after, limit, clientId, held));
      const last = page.events[page.events.length - 1]?.position;
      if (page.hasMore && last !== undefined) {
        const next = pullOpened(last, limit, clientId);
        next.catch(() => undefined); // never reported as such: the pull that takes it pulls again
        ahead = { after: last, limit, clientId, at: Date.now(), page: next };
      }
      return page;
    },
  };
}

/** Failures of a page opened with a kept keyring that the keyring asked for again may mend. */
const RETRIED: ReadonlySet<EncryptionKeyReason> = new Set(['unknown-key', 'decrypt-failed', 'no-aggregate-id-key']);

/** An event at a position the client holds already (Transport.pull's `held`). */
const isHeld = (event: StoredEvent, held: number | undefined): boolean =>
  held !== undefined && typeof event.position === 'number' && event.position <= held;

/** How long a page read ahead may wait for the pull that takes it (the caller stores one page in between). */
const AHEAD_FRESH_MS = 2_000;

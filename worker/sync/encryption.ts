import {
  hashAggregateId,
  importKeyring,
  isEncryptedEnvelope,
  openEvent,
  sealEvent,
  type EncryptionSettings,
  type KeyImportCache,
  type Keyring,
  type OpenKeyring,
} from '../../src/core/encryption.ts';
import { EncryptionKeyError } from '../../src/core/errors.ts';
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

/** `call`'s answer, or a failure once `ms` passed or `stopped` aborted (whichever comes first); leaves no timer behind. */
function answerWithin<T>(call: Promise<T>, ms: number, stopped: AbortSignal | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      stopped?.removeEventListener('abort', onStop);
    };
    const onStop = (): void => {
      done();
      reject(new Error('sync stopped while waiting for it'));
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
  /** Aborts when sync stops: a keys callback still being waited for no longer holds the round (and close()). */
  stopped?: AbortSignal,
  /** Without `settings`: asked before each push (another tab may start with encryption meanwhile). */
  encryptedBefore?: EncryptedBefore,
): Transport {
  const base: Transport = {
    push: (clientId, events, epoch) => inner.push(clientId, events, epoch),
    fence: (clientId, epoch) => inner.fence(clientId, epoch),
    pull: (after, limit, clientId) => inner.pull(after, limit, clientId),
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
      async pull(after, limit, clientId) {
        const page = await inner.pull(after, limit, clientId);
        for (const event of page.events) {
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
      try {
        const call = (asking ??= keys(log));
        void call.then(
          () => (asking = asking === call ? undefined : asking),
          () => (asking = asking === call ? undefined : asking),
        );
        ring = await answerWithin(call, KEYS_WAIT_MS, stopped);
      } catch (error) {
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

  const openPage = async (events: StoredEvent[], ring: OpenKeyring): Promise<StoredEvent[]> =>
    allInOrder(
      events.map((event) =>
        settings.acceptPlaintext && !isEncryptedEnvelope(event.data) ? event : openEvent(event, log, (kid) => ring.keys.get(kid)),
      ),
    );

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

  const pullOpened = async (after: number, limit: number, clientId: string | undefined): Promise<PullPage> => {
    const page = await inner.pull(after, limit, clientId);
    if (page.events.length === 0) return page;
    const fresh = kept === undefined;
    const ring = await (kept ?? load('pull'));
    let events: StoredEvent[];
    try {
      events = await openPage(page.events, ring);
    } catch (error) {
      const retry = !fresh && error instanceof EncryptionKeyError && (error.reason === 'unknown-key' || error.reason === 'decrypt-failed');
      if (!retry) throw error;
      events = await openPage(page.events, await load('pull'));
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
  const takeAhead = (after: number, limit: number, clientId: string | undefined): Promise<PullPage> | undefined => {
    const next = ahead;
    ahead = undefined;
    if (!next || next.after !== after || next.limit !== limit || next.clientId !== clientId || Date.now() - next.at > AHEAD_FRESH_MS)
      return undefined;
    // A read ahead that failed (a key added since, a network blip) is done again now rather than reported.
    return next.page.catch(() => pullOpened(after, limit, clientId));
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
    async pull(after, limit, clientId): Promise<PullPage> {
      const page = await (takeAhead(after, limit, clientId) ?? pullOpened(after, limit, clientId));
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

/** How long a page read ahead may wait for the pull that takes it (the caller stores one page in between). */
const AHEAD_FRESH_MS = 2_000;

import { pendingStartOf, type LogCursor } from '../core/cursor.ts';
import { checkAggregateId } from './append.ts';
import { checkCallback, checkDefinition } from './argument-checks.ts';
import { loadAggregate } from './aggregate-loader.ts';
import type { StoreContext } from './context.ts';
import { scanLog } from './log-scan.ts';
import type { Store, StoreEvent } from './store-api.ts';
import type { LoadResult } from './types.ts';

/**
 * Live queries on aggregates and the log. Every listener is registered on
 * the store's change hub before the `subscribe*` call returns, so whatever is
 * appended afterwards (here or in another tab) is delivered.
 */
export function createLiveQueries(ctx: StoreContext): Pick<Store, 'subscribe' | 'subscribeLog'> {
  const { connection, registry, hub, travel, clientId } = ctx;
  return {
    subscribe(aggregate, aggregateId, listener, onError) {
      checkDefinition(aggregate, 'aggregate');
      checkAggregateId(aggregateId);
      checkCallback(listener, 'listener');
      checkCallback(onError, 'onError', true);
      let lastKey: string | undefined;
      let loading = Promise.resolve();
      let active = true;
      const reload = () => {
        loading = loading
          .then(() => {
            const horizon = travel.horizon();
            return loadAggregate(connection, registry, aggregate, aggregateId, horizon ? { until: horizon } : {});
          })
          .then((result) => {
            const key = `${result.version}|${JSON.stringify(travel.horizon())}`;
            if (key !== lastKey && active) {
              lastKey = key;
              listener(result as LoadResult<never>);
            }
          })
          .catch((error: unknown) => {
            if (active) onError?.(error);
          });
      };
      const stopWatch = hub.watch((change) => {
        if (travel.horizon()) return; // frozen in the past until resume
        const touched = change.kind === 'appended' && change.aggregates.some(([id]) => id === aggregateId);
        if (touched || change.kind === 'rebased' || change.kind === 'reset') {
          lastKey = undefined;
          reload();
        }
      });
      const stopTravel = travel.onTravel(() => {
        lastKey = undefined;
        reload();
      });
      // Closed (or stopped on its own), the store sends no change again: the subscriber hears why, once.
      const stopClosed = ctx.onClosed((error) => {
        stop();
        onError?.(error);
      });
      const stop = () => {
        active = false;
        stopTravel();
        stopWatch();
        stopClosed();
      };
      reload();
      return stop;
    },
    subscribeLog(listener) {
      // Two tails, both starting at the log end as of now (the newest end the hub heard):
      // new confirmed events (from the server; our own were delivered while pending)
      // and new pending events (appended here or in another tab).
      const start = hub.end();
      let confirmedAfter: LogCursor | null = null;
      let pendingAfter: LogCursor = pendingStartOf(start);
      let stopped = false;
      /**
       * Other clients' pending events this listener was given (importLog of another device's export): the pull
       * that brings them confirmed (or rebased by their device) would give them again, as our own would be
       * but for their clientId. Forgotten once met confirmed; only imported events are ever held here.
       */
      const theirsGiven = new Set<string>();
      /**
       * This client's events given while pending, skipped when met confirmed; and the clientSeq its events
       * appended before this call stop below (never given). One appended after it that another tab's sync
       * confirmed before this listener looked (so it was never seen pending) is given confirmed: skipping every
       * event of this clientId there lost those, since the tabs of a store share it.
       */
      const ownGiven = new Set<string>();
      const ownBefore = connection.engine.stats().then(
        (stats) => stats.nextClientSeq,
        () => Number.POSITIVE_INFINITY, // unknown (closing): skip them all, as before
      );
      let reading = Promise.resolve();
      const readNew = () => {
        reading = reading
          .then(async () => {
            const before = await ownBefore;
            const fresh: StoreEvent<unknown>[] = [];
            const confirmed = confirmedAfter
              ? { after: confirmedAfter, status: 'confirmed' as const }
              : { fromPosition: start.confirmedHead + 1, status: 'confirmed' as const };
            // A live tail wants what is new: compaction behind it changes nothing. An event whose upcast fails
            // comes as one this build cannot read (known: false), as a newer version's does: the tail goes on.
            for await (const batch of scanLog(connection, registry, confirmed, { history: 'kept', upcastFailures: 'unreadable' })) {
              confirmedAfter = batch.last;
              for (const { event } of batch.matches) {
                if (event.meta.clientId === clientId && (ownGiven.delete(event.id) || event.meta.clientSeq < before)) continue;
                if (theirsGiven.size > 0 && theirsGiven.delete(event.id)) continue;
                fresh.push(event as StoreEvent<unknown>);
              }
            }
            for await (const batch of scanLog(
              connection,
              registry,
              { after: pendingAfter, status: 'pending' },
              { upcastFailures: 'unreadable' },
            )) {
              pendingAfter = batch.last;
              for (const { event } of batch.matches) {
                (event.meta.clientId === clientId ? ownGiven : theirsGiven).add(event.id);
                fresh.push(event as StoreEvent<unknown>);
              }
            }
            if (!stopped && fresh.length > 0) listener(fresh);
          })
          .catch(() => undefined);
      };
      const stop = hub.watch((change) => {
        if (change.kind === 'appended') readNew();
      });
      // Whatever was stored between the end the hub heard and now.
      readNew();
      return () => {
        stopped = true;
        stop();
      };
    },
  };
}

/**
 * Helpers for testing apps built on Chronicle: throwaway stores and a pure
 * fold for reducer tests in given / when / then form.
 */
import {
  aggregateRuntime,
  openStore,
  type AnyAggregateDefinition,
  type AnyEventDefinition,
  type AnyReactionDefinition,
  type InputOf,
  type RecordedEvent,
  type StateOf,
  type Store,
  type StoreEventShape,
  type StoreOptions,
} from '../client/index.ts';
import { ConfigError, createRegistry, ValidationError } from '../core/index.ts';

let counter = 0;

/** A database name no other test uses. */
export function uniqueStoreName(prefix = 'chronicle-test'): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Deletes a test store's IndexedDB database outright (close the store first),
 * with none of the checks of `deleteStore` from 'chronicle', which apps use.
 */
export function deleteTestDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    // Blocked only means a connection is still closing: the delete completes when it has.
  });
}

export interface TestStore<
  TEvents extends readonly AnyEventDefinition[],
  TAggregates extends readonly AnyAggregateDefinition[],
  TReactions extends readonly AnyReactionDefinition[] = readonly [],
> extends Store<TEvents, TAggregates, TReactions> {
  /** Closes the store and deletes its database. */
  dispose(): Promise<void>;
}

/** Opens a store on a fresh, uniquely named database. */
export async function openTestStore<
  const TEvents extends readonly AnyEventDefinition[] = readonly [],
  const TAggregates extends readonly AnyAggregateDefinition[] = readonly [],
  const TReactions extends readonly AnyReactionDefinition[] = readonly [],
>(
  options: Omit<StoreOptions<TEvents, TAggregates, TReactions>, 'name'> & { name?: string },
): Promise<TestStore<TEvents, TAggregates, TReactions>> {
  // Not an object (null from plain JavaScript): openStore says what it needs, as it does for the same mistake.
  if (typeof options !== 'object' || options === null) throw new ConfigError('openTestStore needs an options object, as openStore');
  const name = options.name ?? uniqueStoreName();
  const store = await openStore<TEvents, TAggregates, TReactions>({ ...options, name });
  return Object.assign(store, {
    async dispose() {
      await store.close();
      await deleteTestDatabase(name);
    },
  });
}

/**
 * Folds events through an aggregate's reducers without any storage: for
 * reducer tests (given these events, then this state). Each event is checked
 * and parsed as `append` would (its schema's defaults filled, bad data a
 * ValidationError), so the reducer sees what it would see from the store.
 */
export function foldEvents<A extends AnyAggregateDefinition>(
  aggregate: A,
  // Typed as store.append types an aggregate's events: a type the aggregate does not define, or data its
  // schema would refuse, fails to compile instead of at the test's run.
  events: readonly InputOf<StoreEventShape<readonly [], readonly [A]>>[],
  aggregateId = 'test',
): StateOf<A> {
  if (typeof aggregate !== 'object' || aggregate === null || (aggregate as { kind?: unknown }).kind !== 'aggregate')
    throw new ValidationError('?', 'aggregate', 'must be a defineAggregate(...) definition');
  const runtime = aggregateRuntime(aggregate);
  // Checked and parsed as an append would: a test's event the store would refuse fails here too (typed), and
  // a field its schema gives a default reaches the reducer filled, at the definition's version.
  const encoded = createRegistry({ events: [], aggregates: [aggregate] }).encode(events, undefined, {
    aggregateId,
    aggregateType: runtime.type,
  });
  let state = runtime.initialState();
  events.forEach((input, i) => {
    const reducer = runtime.reducers[input.type];
    // A definition made by hand can lack one (defineAggregate's types require them all).
    if (!reducer) throw new ConfigError(`aggregate ${runtime.type} has no reducer for ${input.type}`);
    const [, version, data] = JSON.parse(`[${encoded[i]!.body}]`) as [string, number, unknown];
    const event: RecordedEvent = {
      known: true,
      id: input.id ?? `event-${i + 1}`,
      aggregateId,
      aggregateType: runtime.type,
      seq: i + 1,
      type: input.type,
      version,
      storedVersion: version,
      data,
      meta: { occurredAt: input.meta?.occurredAt ?? 0, clientId: 'test', clientSeq: i + 1 },
    };
    state = reducer(state, event);
  });
  return state as StateOf<A>;
}

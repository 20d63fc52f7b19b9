/**
 * The external stores behind chronicle/react's hooks: a cached value, its
 * listeners, and a subscription to the Chronicle store started on the first
 * listener and stopped after the last, shared by every component that shows
 * the same thing.
 */

/** What useSyncExternalStore reads. */
export interface Source<T> {
  get(): T;
  /**
   * The value before any load, for server rendering and hydration: the HTML a
   * server rendered shows that (no effect runs there, so nothing loads), and
   * hydration must render the same, even when this tab has loaded the
   * aggregate already for another view. React renders `get()` right after.
   */
  getServer(): T;
  subscribe(listener: () => void): () => void;
}

/** A shared source's place in the cache (see sharedSource): taken while it has listeners, given up after. */
export interface Sharing {
  onActive(): void;
  onIdle(): void;
}

/**
 * How long a source made during a render may wait in the cache for that render
 * to commit (its first listener). React can throw a render away (an error
 * below, a Suspense fallback, a transition replaced by a newer one) and then
 * never subscribes: without a limit, every id such a render asked for would
 * stay cached for the life of the store. A source dropped this way and
 * subscribed later still works: it takes its place in the cache again.
 */
export const UNCOMMITTED_SOURCE_MS = 10_000;

/** Unsubscribing after the store was closed is not an error worth breaking a React unmount for. */
export function stopQuietly(stop: () => void): void {
  try {
    stop();
  } catch {
    // the store is closed: nothing is listening any more
  }
}

/**
 * `start` subscribes to the store and returns its unsubscribe; what it throws
 * (a closed store, an invalid id) goes to `fail`, for the view's `error`,
 * rather than to the nearest error boundary. `onIdle` runs after the last
 * listener left.
 *
 * The store subscription is stopped a microtask after the last listener left,
 * not at once: React's StrictMode unsubscribes and subscribes again in the
 * same commit (every effect runs twice in development), and so does a commit
 * that unmounts one view of an aggregate and mounts another (a list row
 * replaced by a detail page). Stopped at once, each of these loaded the
 * aggregate or projection again from storage and showed its last state
 * meanwhile; a listener back before the microtask keeps the running one.
 */
export function createSource<T>(
  initial: T,
  start: (emit: (value: T) => void) => () => void,
  fail: (error: unknown) => T,
  sharing: Sharing = { onActive: () => undefined, onIdle: () => undefined },
): Source<T> {
  let value = initial;
  const listeners = new Set<() => void>();
  let stop: (() => void) | undefined;
  const emit = (next: T): void => {
    value = next;
    for (const l of [...listeners]) l();
  };
  const releaseIfIdle = (): void => {
    if (listeners.size > 0 || !stop) return;
    const s = stop;
    stop = undefined;
    stopQuietly(s);
    sharing.onIdle();
  };
  return {
    get: () => value,
    getServer: () => initial,
    subscribe(listener) {
      listeners.add(listener);
      if (!stop) {
        sharing.onActive();
        try {
          stop = start(emit);
        } catch (error) {
          stop = () => undefined;
          queueMicrotask(() => emit(fail(error)));
        }
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) queueMicrotask(releaseIfIdle);
      };
    },
  };
}

/**
 * One source per store and key (an aggregate's type and id, a projection's
 * name), shared by every component that shows it: they load once, and render
 * the same version in the same commit. A source leaves the cache once nobody
 * listens, so a later mount starts from a fresh load, not from a stale value,
 * and a source nobody subscribed to leaves it after UNCOMMITTED_SOURCE_MS.
 * Keyed by name, not by the definition object: one made during render (a new
 * object each time) must not subscribe again on every render; the store keeps
 * the first definition of a projection name too.
 */
export function createSourceCache<Owner extends object>(uncommittedMs = UNCOMMITTED_SOURCE_MS) {
  const byOwner = new WeakMap<Owner, Map<string, Source<unknown>>>();
  return {
    source<T>(owner: Owner, key: string, make: (sharing: Sharing) => Source<T>): Source<T> {
      let byKey = byOwner.get(owner);
      if (!byKey) byOwner.set(owner, (byKey = new Map()));
      const cache = byKey;
      const found = cache.get(key) as Source<T> | undefined;
      if (found) return found;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const source: Source<T> = make({
        // Started again after it went idle (StrictMode's second mount): shared again, unless another took its place.
        onActive: () => {
          if (timer !== undefined) clearTimeout(timer);
          timer = undefined;
          if (!cache.has(key)) cache.set(key, source as Source<unknown>);
        },
        onIdle: () => void (cache.get(key) === source && cache.delete(key)),
      });
      cache.set(key, source as Source<unknown>);
      // Rendering is no place for effects, but a timer that only forgets an unused cache entry changes nothing React sees.
      // A render held longer (a slow transition) that commits later still works, with a source of its own
      // if another component made one for the key meanwhile: both load, each renders what it loaded.
      timer = setTimeout(() => {
        timer = undefined;
        if (cache.get(key) === source) cache.delete(key);
      }, uncommittedMs);
      // Server rendering in Node: the timer must not keep the process alive.
      (timer as unknown as { unref?: () => void }).unref?.();
      return source;
    },
    /** How many sources the owner's cache holds (for tests). */
    size: (owner: Owner): number => byOwner.get(owner)?.size ?? 0,
  };
}

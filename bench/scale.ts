/**
 * Scale and growth (issue 12): a store of `size` confirmed events, ingested
 * as a sync would (importConfirmed, pages of 1,000), then reopened in a fresh
 * engine worker: how long it takes to open, to load an aggregate from its
 * snapshot, to replay the whole log and to show the devtools panel, and the
 * longest task on the app's thread meanwhile (PerformanceObserver 'longtask').
 * run.mjs runs it at 10k, 100k and 1M events and draws the growth curves.
 */
import { openStore } from '../src/client/index.ts';
import { mountDevtools } from '../src/devtools/index.ts';
import { aggregateIdOf, serverLogPages } from './data.ts';
import { foldSummary, initialSummary, model, Order } from './model.ts';

/** Events per aggregate: the log interleaves size / 100 orders. */
const PER_AGGREGATE = 100;
const PAGE = 1000;
const LOADS = 9;

export interface ScaleRun {
  size: number;
  ingestMs: number;
  /** Until the idle indexer had indexed every ingested page (not counted in ingestMs). */
  indexMs: number;
  openMs: number;
  loadMs: number;
  replayMs: number;
  devtoolsMs: number | null;
  /** The longest task on the page's thread during each phase (0: none over 50 ms). */
  longestTaskMs: { open: number; load: number; replay: number; devtools: number };
  longTasks: number;
  /** The page's JS heap after the devtools panel showed the whole log (MB), when measured. */
  devtoolsHeapMB: number | null;
}

const now = (): number => performance.now();
const round = (n: number, digits = 1): number => Number(n.toFixed(digits));
export const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`scale sanity check failed: ${message}`);
}

/** Long tasks on this thread, tagged with the phase they fell in. */
export function watchLongTasks() {
  const seen: { start: number; duration: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) seen.push({ start: entry.startTime, duration: entry.duration });
  });
  observer.observe({ type: 'longtask', buffered: false });
  return {
    longestIn(from: number, to: number): number {
      let longest = 0;
      for (const task of seen) if (task.start >= from && task.start < to) longest = Math.max(longest, task.duration);
      return round(longest);
    },
    count: () => seen.length,
    stop: () => observer.disconnect(),
  };
}

export async function scaleRun(size: number, name: string, options: { devtools: boolean }): Promise<ScaleRun> {
  await deleteDatabase(name);
  const aggregates = Math.max(1, Math.round(size / PER_AGGREGATE));

  // Ingest, as a sync pull would.
  let store = await openStore({ name, ...model });
  let t0 = now();
  for (const page of serverLogPages(aggregates, PER_AGGREGATE, PAGE)) await store.importConfirmed(page);
  const ingestMs = now() - t0;
  t0 = now();
  // The engine indexes ingested pages once it is idle: an app opens a store whose pull finished long ago.
  while ((await store.info()).unindexedEvents > 0) await pause(100);
  const indexMs = now() - t0;
  const id = aggregateIdOf(0);
  await store.snapshot(Order, id);
  await store.close();
  await pause(300);

  const tasks = watchLongTasks();
  try {
    // Open: a fresh engine worker on the existing database, until the engine answers.
    const openAt = now();
    store = await openStore({ name, ...model });
    const info = await store.info();
    const openMs = now() - openAt;
    check(info.confirmedEvents === size, `the store holds ${info.confirmedEvents} of ${size} events`);

    const loadAt = now();
    const loads: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      const t = now();
      const loaded = await store.load(Order, id);
      loads.push(now() - t);
      check(
        loaded.version === PER_AGGREGATE && loaded.eventsApplied === 0,
        `the load starts from the snapshot (${loaded.eventsApplied} folded)`,
      );
    }
    loads.sort((a, b) => a - b);
    const loadMs = loads[LOADS >> 1]!;

    const replayAt = now();
    let state = initialSummary();
    const replayed = await store.replay({
      handler: (event) => {
        state = foldSummary(state, event);
      },
    });
    const replayMs = now() - replayAt;
    check(replayed.processed === size && state.events === size, `the replay handled ${replayed.processed} of ${size} events`);

    const devtoolsAt = now();
    let devtoolsMs: number | null = null;
    let devtoolsHeapMB: number | null = null;
    if (options.devtools) {
      const element = document.createElement('div');
      element.style.cssText = 'width:1100px;height:720px;position:relative;';
      document.body.append(element);
      const panel = mountDevtools(store, element, { aggregates: [Order] });
      await panel.idle();
      devtoolsMs = now() - devtoolsAt;
      const root = element.querySelector<HTMLElement>('[data-testid="chronicle-devtools"]');
      check(root?.dataset.total === String(size), `the panel shows ${root?.dataset.total} of ${size} events`);
      const memory = (performance as { memory?: { usedJSHeapSize: number } }).memory;
      devtoolsHeapMB = memory ? round(memory.usedJSHeapSize / 1024 / 1024) : null;
      await panel.unmount();
      element.remove();
    }
    const end = now();
    await pause(100); // long tasks are reported a little after they end
    await store.close();
    return {
      size,
      ingestMs: round(ingestMs),
      indexMs: round(indexMs),
      openMs: round(openMs),
      loadMs: round(loadMs, 2),
      replayMs: round(replayMs),
      devtoolsMs: devtoolsMs === null ? null : round(devtoolsMs),
      longestTaskMs: {
        open: tasks.longestIn(openAt, loadAt),
        load: tasks.longestIn(loadAt, replayAt),
        replay: tasks.longestIn(replayAt, devtoolsAt),
        devtools: tasks.longestIn(devtoolsAt, end),
      },
      longTasks: tasks.count(),
      devtoolsHeapMB,
    };
  } finally {
    tasks.stop();
    await store.close().catch(() => undefined);
    await deleteDatabase(name);
  }
}

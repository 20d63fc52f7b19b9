/**
 * Reads the log from the source into the panel's state: area by area, page
 * by page (confirmed, then pending), letting the browser paint between
 * pages so the progress bar and the first rows show at once. Afterwards it
 * reads what was appended from the tail, and the pending area again when
 * pending events moved, one read at a time (latest wins, requests merged).
 */
import { errorText } from '../errors.ts';
import { latestWins } from '../latest-wins.ts';
import type { DevtoolsEntry, DevtoolsSource, LogCursor } from '../types.ts';
import type { PanelCore } from './context.ts';
import { yieldToBrowser } from './dom.ts';

export interface Loader {
  /** Reads the whole log of the source the panel just attached to. */
  load(): Promise<void>;
  /** New events were appended (`reorder`: pending events moved too): read them when the panel can. */
  request(change: { reorder: boolean }): void;
  /** Forgets reads asked for the source the panel showed before. */
  reset(): void;
}

/** Events handed to the panel at once while loading, at most (see readArea). */
const MAX_BATCH = 100_000;

/** `onLoaded` runs when the whole log has been read (the panel then follows time travel). */
export function createLoader(ctx: PanelCore, onLoaded: () => void): Loader {
  const current = (generation: number) => generation === ctx.state().generation && !ctx.unmounted();

  /**
   * Reads one area after its last cursor to its end; returns how many events
   * came. Pages are handed to the panel in growing batches (a quarter of the
   * log read so far, from one page up to MAX_BATCH events): each hand-over
   * copies the log's lists, so a million events handed over 2,000 at a time
   * cost seconds of copying and tasks over 200 ms.
   */
  const readArea = async (source: DevtoolsSource, area: 'confirmed' | 'pending', generation: number): Promise<number> => {
    let added = 0;
    const { log } = ctx.state();
    let after = area === 'confirmed' ? log.lastConfirmed : log.lastPending;
    let batch: DevtoolsEntry[] = [];
    const handOver = async (): Promise<boolean> => {
      if (batch.length > 0) {
        ctx.dispatch({ type: 'pageRead', generation, area, entries: batch });
        batch = [];
        // Let the browser paint the rows so far.
        await yieldToBrowser();
      }
      return current(generation);
    };
    for (;;) {
      const page = await source.page({ status: area, after });
      if (!current(generation)) return added;
      if (page.entries.length > 0) {
        added += page.entries.length;
        for (const entry of page.entries) batch.push(entry);
        after = page.entries[page.entries.length - 1]!.cursor;
        const due = Math.min(MAX_BATCH, Math.max(1, ctx.state().log.entries.length >> 2));
        if (batch.length >= due && !(await handOver())) return added;
      }
      if (page.end || page.entries.length === 0) {
        await handOver();
        return added;
      }
    }
  };

  /** Pending events moved (confirmed, rebased or rejected): read that area again. */
  const reloadPending = async (source: DevtoolsSource, generation: number): Promise<void> => {
    const fresh: DevtoolsEntry[] = [];
    let after: LogCursor | null = null;
    for (;;) {
      const page = await source.page({ status: 'pending', after });
      if (!current(generation)) return;
      if (page.entries.length === 0) break;
      for (const entry of page.entries) fresh.push(entry);
      after = page.entries[page.entries.length - 1]!.cursor;
      if (page.end) break;
    }
    ctx.dispatch({ type: 'pendingReloaded', generation, entries: fresh });
  };

  const tail = latestWins(
    async ({ reorder }: { reorder: boolean }) => {
      const source = ctx.source();
      const { generation } = ctx.state();
      const confirmed = await readArea(source, 'confirmed', generation);
      if (reorder || confirmed > 0) await reloadPending(source, generation);
      else await readArea(source, 'pending', generation);
    },
    {
      merge: (a, b) => ({ reorder: a.reorder || b.reorder }),
      // Nothing from the tail until the first load is done (it reads to the end anyway).
      hold: () => ctx.state().log.loading || ctx.unmounted(),
      track: (work) => void ctx.track(work),
      onError: (error) =>
        ctx.dispatch({ type: 'noticed', notice: { message: `Could not read new events: ${errorText(error)}`, kind: 'error' } }),
    },
  );

  return {
    async load() {
      const source = ctx.source();
      const { generation } = ctx.state();
      try {
        const [info, position, sync] = await Promise.all([source.info(), source.position(), source.syncStatus().catch(() => null)]);
        if (!current(generation)) return;
        ctx.dispatch({ type: 'loadStarted', generation, info, position, sync });
        await readArea(source, 'confirmed', generation);
        await readArea(source, 'pending', generation);
        if (!current(generation)) return;
        ctx.dispatch({ type: 'loadFinished', generation });
        onLoaded();
        // Anything announced while loading.
        tail.flush();
      } catch (error) {
        if (current(generation)) ctx.dispatch({ type: 'loadFailed', generation, message: errorText(error) });
      }
    },
    request(change) {
      tail.request(change);
    },
    reset() {
      tail.drop();
    },
  };
}

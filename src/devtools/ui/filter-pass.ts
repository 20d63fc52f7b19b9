/**
 * A filter pass over the whole log (or the entries appended since the last,
 * see FilterState.from), in slices of a few milliseconds that leave the
 * browser responsive, answering with `filterPassed`. A newer pass (another
 * run) makes it give up.
 */
import { filterSlice, matcher } from '../model/filter.ts';
import type { PanelCore } from './context.ts';
import { yieldToBrowser } from './dom.ts';

/** Work per slice while filtering a long log, before letting the browser in. */
const FILTER_SLICE_MS = 8;

export function runFilterPass(ctx: PanelCore, run: number): void {
  void ctx.track(
    (async () => {
      const { filter, exact, from, shown: listed } = ctx.state().filter;
      const matches = matcher(filter, exact);
      // A pass over appended entries keeps those listed before them (the run stays while they do).
      const shown = from > 0 ? listed.slice() : [];
      let i = from;
      // Not in the dispatch that asked for the pass: it returns first, and the browser paints.
      await yieldToBrowser();
      if (run !== ctx.state().filter.run) return;
      for (;;) {
        // Read the log afresh each slice: pages appended meanwhile are filtered by this pass.
        const { entries } = ctx.state().log;
        const deadline = performance.now() + FILTER_SLICE_MS;
        i = filterSlice(entries, i, matches, shown, () => performance.now() > deadline);
        if (i >= entries.length) break;
        await yieldToBrowser();
        if (run !== ctx.state().filter.run) return;
      }
      ctx.dispatch({ type: 'filterPassed', run, shown });
    })(),
  );
}

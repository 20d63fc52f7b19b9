/**
 * A filter pass over the whole log, in slices of a few milliseconds that
 * leave the browser responsive, answering with `filterPassed`. A newer pass
 * (another run) makes it give up.
 */
import { matcher } from '../model/filter.ts';
import type { PanelCore } from './context.ts';
import { yieldToBrowser } from './dom.ts';

/** Work per slice while filtering a long log, before letting the browser in. */
const FILTER_SLICE_MS = 8;

export function runFilterPass(ctx: PanelCore, run: number): void {
  void ctx.track(
    (async () => {
      const { filter, exact } = ctx.state().filter;
      const matches = matcher(filter, exact);
      const shown: number[] = [];
      let i = 0;
      for (;;) {
        // Read the log afresh each slice: pages appended meanwhile are filtered by this pass.
        const { entries } = ctx.state().log;
        const deadline = performance.now() + FILTER_SLICE_MS;
        while (i < entries.length) {
          if (matches(entries[i]!)) shown.push(i);
          i++;
          if ((i & 255) === 0 && performance.now() > deadline) break;
        }
        if (i >= entries.length) break;
        await yieldToBrowser();
        if (run !== ctx.state().filter.run) return;
      }
      ctx.dispatch({ type: 'filterPassed', run, shown });
    })(),
  );
}

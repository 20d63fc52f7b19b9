/**
 * What the panel's controls do: each command dispatches to the model and
 * runs what the model cannot (scrolling the grid, moving the store's time
 * travel, export and import).
 */
import { errorText } from '../errors.ts';
import { shownEntry } from '../model/selection.ts';
import { stepTarget } from '../model/travel.ts';
import type { PanelCommands, PanelCore } from './context.ts';
import type { LogGridView } from './log-grid.ts';
import { backToLive, exportLog, importFile, type TransferHost } from './transfer.ts';

export interface CommandParts {
  ctx: PanelCore;
  grid(): LogGridView;
  transfer: TransferHost;
}

export function createCommands({ ctx, grid, transfer }: CommandParts): PanelCommands {
  const failed = (what: string) => (error: unknown) =>
    ctx.dispatch({ type: 'noticed', notice: { message: `Could not ${what}: ${errorText(error)}`, kind: 'error' } });

  const commands: PanelCommands = {
    select(index, { scroll = true, again = false } = {}) {
      if (ctx.state().filter.shown.length === 0) return;
      ctx.dispatch({ type: 'selected', index, again });
      if (scroll) grid().scrollTo(ctx.state().selection.index);
    },
    travelTo(index) {
      const entry = shownEntry(ctx.state(), index);
      if (!entry) return;
      ctx.dispatch({ type: 'travelled', position: entry.cursor, byPanel: true });
      void ctx.track(ctx.source().travel(entry.cursor)).catch(failed('travel'));
      commands.select(index);
    },
    step(step) {
      const target = stepTarget(ctx.state(), step);
      if (target !== undefined) commands.travelTo(target);
    },
    resume() {
      if (!ctx.state().travel) return;
      ctx.dispatch({ type: 'travelled', position: null, byPanel: true });
      void ctx.track(ctx.source().travel(null)).catch(failed('resume'));
    },
    setSkip(index, skip) {
      ctx.dispatch({ type: 'skipSet', index, skip });
    },
    chooseTab(tab) {
      ctx.dispatch({ type: 'tabChosen', tab });
    },
    setFilter(filter) {
      ctx.dispatch({ type: 'filterChanged', filter });
    },
    exportLog() {
      void ctx.track(exportLog(transfer));
    },
    importFile(file) {
      void ctx.track(importFile(transfer, file));
    },
    backToLive() {
      void ctx.track(backToLive(transfer));
    },
  };
  return commands;
}

/**
 * The time-travel panel: framework-free DOM over a DevtoolsSource.
 *
 * Data flow: the panel's state is one value (model/state.ts) that only the
 * reducer (model/reduce.ts) moves. The loader reads the log page by page
 * and dispatches what came; the source's events (appends, travel, sync,
 * outcomes) are dispatched too; views render from each new state; commands
 * (commands.ts) are what the controls do. Everything slow is asynchronous,
 * latest-wins and counted, so `idle()` can say when the panel has caught up.
 *
 * Layout: header, travel banner, status line, filters, timeline, progress,
 * then the log grid next to the detail tabs (tabs/index.ts lists them).
 */
import { sameCursor } from '../cursor.ts';
import { initialState, type ScratchInfo } from '../model/state.ts';
import { followTarget } from '../model/travel.ts';
import type { DevtoolsSource, SourceEvent } from '../types.ts';
import { createActivity } from './activity.ts';
import { createCommands } from './commands.ts';
import type { PanelContext, PanelCore, View } from './context.ts';
import { createDispatcher } from './dispatcher.ts';
import { h, uniqueId } from './dom.ts';
import { createFilterBar } from './filter-bar.ts';
import { runFilterPass } from './filter-pass.ts';
import { createFrame } from './frame.ts';
import { createHeader } from './header.ts';
import { createLoader } from './loader.ts';
import { createLogGrid, type LogGridView } from './log-grid.ts';
import { createNotice } from './notice.ts';
import { createProgress } from './progress.ts';
import { STYLES } from './styles.ts';
import { createTabs } from './tabs.ts';
import { TABS } from './tabs/index.ts';
import { createTimeline } from './timeline.ts';
import { defaultDownload, type DownloadFile, type TransferHost } from './transfer.ts';

export type { DownloadFile } from './transfer.ts';

export interface PanelOptions {
  /** 'auto' (default) follows prefers-color-scheme. */
  theme?: 'auto' | 'light' | 'dark';
  /** How an export is handed to the user; default: a download through a temporary link. */
  download?: (file: DownloadFile) => void;
  /** Dispose the source on unmount (mountDevtools owns the source it made). */
  ownsSource?: boolean;
}

export interface PanelHandle {
  /** Removes the panel, closes scratch stores it opened and resumes time travel it started. */
  unmount(): Promise<void>;
  /** Resolves when loading, filtering and every pending request have finished. */
  idle(): Promise<void>;
  /** The source the panel shows now (a scratch store's after an import). */
  readonly source: DevtoolsSource;
}

export function mountPanel(rootSource: DevtoolsSource, host: HTMLElement, options: PanelOptions = {}): PanelHandle {
  let source = rootSource;
  let scratch: DevtoolsSource | null = null;
  let unsubscribe: (() => void) | null = null;
  let unmounted = false;

  const dispatcher = createDispatcher(initialState());
  const frame = createFrame(options.theme, (file) => ctx.commands.importFile(file));
  const activity = createActivity((busy) => frame.setBusy(busy));
  const core: PanelCore = {
    uid: uniqueId('chr-dt'),
    state: dispatcher.state,
    dispatch: dispatcher.dispatch,
    source: () => source,
    track: activity.track,
    unmounted: () => unmounted,
  };

  /** Shows a source: the live store's, or a scratch store's after an import. */
  const attach = (next: DevtoolsSource, scratchInfo: ScratchInfo | null): void => {
    unsubscribe?.();
    source = next;
    loader.reset();
    core.dispatch({ type: 'attached', scratch: scratchInfo });
    const { generation } = core.state();
    unsubscribe = next.subscribe((event) => {
      if (generation === core.state().generation && !unmounted) onSourceEvent(event);
    });
    void core.track(loader.load());
  };

  const transfer: TransferHost = {
    ctx: core,
    rootSource,
    scratch: () => scratch,
    show(next, scratchInfo) {
      scratch = scratchInfo ? next : null;
      attach(next, scratchInfo);
    },
    download: options.download ?? defaultDownload,
  };
  // The grid is made below, with the other views; commands reach it only once the panel runs.
  const ctx: PanelContext = { ...core, commands: createCommands({ ctx: core, grid: (): LogGridView => grid, transfer }) };

  /** Selects the event the store travelled to when someone else moved it. */
  const followTravel = (): void => {
    const target = followTarget(core.state());
    if (target !== undefined) ctx.commands.select(target);
  };
  const loader = createLoader(core, () => {
    if (core.state().travel) followTravel();
  });

  const onSourceEvent = (event: SourceEvent): void => {
    switch (event.kind) {
      case 'appended':
        loader.request({ reorder: false });
        break;
      case 'reordered':
        loader.request({ reorder: true });
        break;
      case 'travel': {
        const before = core.state();
        core.dispatch({ type: 'travelled', position: event.position, byPanel: false });
        if (core.state() !== before && event.position) followTravel();
        break;
      }
      case 'sync':
        core.dispatch({ type: 'syncChanged', status: event.status });
        break;
      case 'outcomes':
        core.dispatch({ type: 'outcomesSeen', at: Date.now(), outcomes: event.outcomes });
        break;
      case 'reactions':
        core.dispatch({ type: 'reactionsChanged' });
        break;
    }
  };

  // ---- the views, in the order they stack
  const grid = createLogGrid(ctx);
  const header = createHeader(ctx);
  const timeline = createTimeline(ctx);
  const notice = createNotice();
  const filterBar = createFilterBar(ctx);
  const progress = createProgress();
  const tabs = createTabs(ctx, TABS);
  const views: View[] = [frame, header, timeline, notice, filterBar, progress, grid, tabs];
  frame.root.append(
    h('style', { text: STYLES }),
    header.element,
    timeline.banner,
    notice.element,
    filterBar.element,
    timeline.element,
    progress.element,
    h('div', { class: 'chr-dt-main' }, grid.element, tabs.element),
  );
  dispatcher.listen((state, prev) => {
    for (const view of views) view.update(state, prev);
    // A filter pass the new state asks for.
    if (state.filter.running && state.filter.run !== prev.filter.run) runFilterPass(core, state.filter.run);
  });
  for (const view of views) view.update(core.state(), null);

  /** Stops everything the panel runs in the page and takes it out. */
  const stop = (): void => {
    unmounted = true;
    unsubscribe?.();
    unsubscribe = null;
    for (const view of views) view.dispose?.();
    frame.root.remove();
  };

  host.append(frame.root);
  try {
    attach(rootSource, null);
  } catch (error) {
    // A source that cannot be subscribed to (a closed store): no half-made panel stays in the page.
    stop();
    if (options.ownsSource) void rootSource.dispose().catch(() => undefined);
    throw error;
  }

  /**
   * Leaves the app at the head if the panel put it in the past, whatever source
   * shows now: the live store's position is asked for, since the panel does not
   * hear of its travel while a scratch store shows. Travel someone else moved on
   * from is theirs, and stays.
   */
  const resumeLiveTravel = async (): Promise<void> => {
    const { travelSetByPanel } = core.state();
    if (!travelSetByPanel) return;
    const position = await rootSource.position().catch(() => undefined);
    if (position && sameCursor(position, travelSetByPanel)) await rootSource.travel(null).catch(() => undefined);
  };

  const unmount = async (): Promise<void> => {
    if (unmounted) return;
    stop();
    const opened = scratch;
    scratch = null;
    await resumeLiveTravel();
    if (opened) await opened.dispose();
    if (options.ownsSource) await rootSource.dispose();
  };

  return {
    unmount,
    idle: activity.idle,
    get source() {
      return source;
    },
  };
}

/**
 * The time-travel panel: framework-free DOM over a DevtoolsSource.
 *
 * Data flow: the log is read area by area in pages (confirmed, then
 * pending) into `entries`, in log order; `filtered` holds the indices the
 * filters let through and is what the grid, the timeline and the keyboard
 * walk over. New events are read from the tail; confirmations and rebases
 * reload the pending part. Everything slow is asynchronous, latest-wins,
 * and counted, so `idle()` can say when the panel has caught up.
 */
import { compareCursor, lastAtOrBefore, sameCursor } from '../cursor.ts';
import { createEncoder, type Encoded } from '../encode.ts';
import type { DevtoolsEntry, DevtoolsSource, EventOutcome, InspectResult, LogCursor, LogFilter, SourceEvent, SourceInfo, SyncStatus } from '../types.ts';
import type { DiffResult } from '../diff.ts';
import { formatClock, formatCount, formatDateTime, fromLocalInput } from '../format.ts';
import { append, clear, h, icon, ICONS, setAttrs, setText, uniqueId, yieldToBrowser } from './dom.ts';
import { ROW_HEIGHT, STYLES } from './styles.ts';
import { renderInline, renderTree } from './tree-view.ts';
import { VirtualGrid } from './virtual-grid.ts';

export interface DownloadFile {
  blob: Blob;
  filename: string;
  /** Events in the file. */
  lines: number;
}

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

type RowStatus = 'confirmed' | 'pending' | 'rebased';
type Tab = 'event' | 'whatif' | 'sync';

interface Filter {
  aggregate: string;
  type: string;
  text: string;
  from: number | undefined;
  to: number | undefined;
}

interface RowParts {
  skip: HTMLInputElement;
  index: HTMLElement;
  badge: HTMLElement;
  type: HTMLElement;
  agg: HTMLElement;
  aggId: HTMLElement;
  seq: HTMLElement;
  time: HTMLElement;
}

interface SkipInfo {
  aggregateType: string;
  aggregateId: string;
  type: string;
  seq: number;
}

const MAX_OUTCOMES = 100;
const MAX_DATALIST = 500;
/** Work per slice while filtering a long log, before letting the browser in. */
const FILTER_SLICE_MS = 8;

function defaultDownload({ blob, filename }: DownloadFile): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.style.display = 'none';
  document.body.append(link);
  link.click();
  link.remove();
  // Revoke after the click has been handled.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Appends without spreading (a spread of 100k arguments overflows the stack). */
function pushAll<T>(target: T[], items: readonly T[]): void {
  for (const item of items) target.push(item);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function stamp(): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
}

export function mountPanel(initialSource: DevtoolsSource, element: HTMLElement, options: PanelOptions = {}): PanelHandle {
  return new Panel(initialSource, element, options).handle();
}

class Panel {
  // ---- sources
  private source: DevtoolsSource;
  private scratch: { source: DevtoolsSource; name: string; file: string } | null = null;
  private unsubscribe: (() => void) | null = null;
  private generation = 0;
  private info: SourceInfo | null = null;
  private unmounted = false;

  // ---- the log
  private entries: DevtoolsEntry[] = [];
  private pendingStart = 0;
  private lastConfirmed: LogCursor | null = null;
  private lastPending: LogCursor | null = null;
  private loading = true;
  private loadError: string | null = null;
  private expected = 0;
  private wantTail = false;
  private wantReorder = false;
  private draining = false;
  private readonly aggregateIds = new Set<string>();
  private readonly eventTypes = new Set<string>();

  // ---- filtering
  private filter: Filter = { aggregate: '', type: '', text: '', from: undefined, to: undefined };
  private filtered: number[] = [];
  private filterRun = 0;
  private filtering = false;
  private readonly haystacks = new WeakMap<DevtoolsEntry, string>();

  // ---- selection, travel, what-if, sync
  private selectedId: string | null = null;
  private selected = -1;
  private travel: LogCursor | null = null;
  private travelSetByPanel: LogCursor | null = null;
  private readonly skips = new Map<string, SkipInfo>();
  private readonly rebased = new Set<string>();
  private outcomes: { at: number; outcome: EventOutcome }[] = [];
  private sync: SyncStatus | null = null;
  private tab: Tab = 'event';
  private inspectWanted: DevtoolsEntry | null = null;
  private inspecting = false;
  private whatIfWanted = false;
  private whatIfRunning = false;
  private readonly localEncoder = createEncoder();

  // ---- activity, for idle()
  private busy = 0;
  private idleWaiters: (() => void)[] = [];

  // ---- DOM
  private readonly uid = uniqueId('chr-dt');
  private readonly root: HTMLDivElement;
  private readonly grid: VirtualGrid;
  private readonly rowParts = new WeakMap<HTMLElement, RowParts>();
  private readonly els: ReturnType<Panel['build']>;

  constructor(
    private readonly rootSource: DevtoolsSource,
    host: HTMLElement,
    private readonly options: PanelOptions,
  ) {
    this.source = rootSource;
    this.root = h('div', {
      class: `chr-dt${options.theme === 'dark' ? ' chr-dt-dark' : options.theme === 'light' ? ' chr-dt-light' : ''}`,
      attrs: { 'data-testid': 'chronicle-devtools', role: 'region', 'aria-label': 'Chronicle devtools', 'data-state': 'loading' },
    });
    this.grid = new VirtualGrid({
      rowHeight: ROW_HEIGHT,
      label: 'Event log',
      header: this.buildHeaderRow(),
      count: () => this.filtered.length,
      createRow: () => this.createRow(),
      renderRow: (row, index) => this.renderRow(row, index),
    });
    this.els = this.build();
    host.append(this.root);
    this.grid.render();
    this.attach(this.source);
  }

  handle(): PanelHandle {
    const panel = this;
    return {
      unmount: () => this.unmount(),
      idle: () => this.idle(),
      get source() {
        return panel.source;
      },
    };
  }

  // ================================================================ activity

  private track<T>(work: Promise<T>): Promise<T> {
    this.busy++;
    this.root.setAttribute('aria-busy', 'true');
    const done = () => {
      this.busy--;
      if (this.busy === 0) {
        this.root.removeAttribute('aria-busy');
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    };
    work.then(done, done);
    return work;
  }

  private async idle(): Promise<void> {
    for (;;) {
      if (this.busy > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      // Work that finishing work started (a refilter after a load) counts too.
      await Promise.resolve();
      await Promise.resolve();
      if (this.busy === 0) return;
    }
  }

  // ================================================================ DOM

  private build() {
    const uid = this.uid;
    // ---- header
    const storeName = h('span', { class: 'chr-dt-store' });
    const modeChip = h('span', { class: 'chr-dt-chip' });
    const scratchChip = h('span', { class: 'chr-dt-chip chr-dt-chip-scratch', attrs: { hidden: true }, text: 'scratch copy' });
    const backButton = h(
      'button',
      { class: 'chr-dt-btn', attrs: { type: 'button', hidden: true, 'data-testid': 'devtools-back' }, on: { click: () => void this.track(this.backToLive()) } },
      icon(ICONS.back),
      'Back to live store',
    );
    const syncDot = h('span', { class: 'chr-dt-dot', attrs: { 'aria-hidden': 'true' } });
    const syncText = h('span', { text: 'sync…' });
    const syncSummary = h(
      'button',
      {
        class: 'chr-dt-sync-summary',
        attrs: { type: 'button', 'data-testid': 'devtools-sync-summary', title: 'Show sync details' },
        on: { click: () => this.setTab('sync') },
      },
      syncDot,
      syncText,
    );
    const exportButton = h(
      'button',
      {
        class: 'chr-dt-btn',
        attrs: { type: 'button', 'data-testid': 'devtools-export', title: 'Download the events listed (all, or those the filters let through) as NDJSON' },
        on: { click: () => void this.track(this.exportLog()) },
      },
      icon(ICONS.download),
      h('span', { text: 'Export' }),
    );
    const exportLabel = exportButton.lastElementChild as HTMLElement;
    const fileInput = h('input', {
      class: 'chr-dt-sr',
      attrs: { type: 'file', accept: '.ndjson,.jsonl,.json,application/x-ndjson,text/plain', tabindex: -1, 'aria-hidden': 'true', 'data-testid': 'devtools-import-file' },
    });
    fileInput.addEventListener('change', () => {
      const file = fileInput.files?.[0];
      fileInput.value = '';
      if (file) void this.track(this.importFile(file));
    });
    const importButton = h(
      'button',
      {
        class: 'chr-dt-btn',
        attrs: { type: 'button', 'data-testid': 'devtools-import', title: 'Open an NDJSON export in a scratch store (the live store is not touched)' },
        on: { click: () => fileInput.click() },
      },
      icon(ICONS.upload),
      'Import',
    );
    const header = h(
      'header',
      { class: 'chr-dt-header' },
      h('div', { class: 'chr-dt-title' }, h('span', { class: 'chr-dt-logo', attrs: { 'aria-hidden': 'true' } }), h('h2', { text: 'Chronicle' }), storeName, modeChip, scratchChip),
      h('div', { class: 'chr-dt-actions' }, syncSummary, backButton, exportButton, importButton, fileInput),
    );

    // ---- status line, banner, progress
    const status = h('div', { class: 'chr-dt-status', attrs: { role: 'status', 'aria-live': 'polite', hidden: true, 'data-testid': 'devtools-status' } });
    const bannerText = h('span');
    const banner = h('div', { class: 'chr-dt-banner', attrs: { hidden: true, role: 'status', 'data-testid': 'devtools-banner' } }, bannerText);
    const progressBar = h('progress', { attrs: { max: 1, value: 0, 'aria-label': 'Loading the log' } });
    const progressText = h('span', { text: 'Loading…' });
    const progress = h('div', { class: 'chr-dt-progress', attrs: { 'data-testid': 'devtools-progress' } }, progressBar, progressText);

    // ---- filters
    const listId = `${uid}-aggregates`;
    const aggregateList = h('datalist', { attrs: { id: listId } });
    const field = (label: string, control: HTMLElement, wide = false) =>
      h('label', { class: `chr-dt-field${wide ? ' chr-dt-field-wide' : ''}` }, h('span', { text: label }), control);
    const aggregateInput = h('input', {
      attrs: { type: 'search', list: listId, placeholder: 'any', 'data-testid': 'devtools-filter-aggregate', autocomplete: 'off', spellcheck: 'false' },
    });
    const typeSelect = h('select', { attrs: { 'data-testid': 'devtools-filter-type' } }, h('option', { attrs: { value: '' }, text: 'All types' }));
    const textInput = h('input', { attrs: { type: 'search', placeholder: 'ids, data, meta…', 'data-testid': 'devtools-filter-text', spellcheck: 'false' } });
    const fromInput = h('input', { attrs: { type: 'datetime-local', step: 1, 'data-testid': 'devtools-filter-from' } });
    const toInput = h('input', { attrs: { type: 'datetime-local', step: 1, 'data-testid': 'devtools-filter-to' } });
    const clearFilters = h('button', { class: 'chr-dt-btn', attrs: { type: 'button', disabled: true }, text: 'Clear' });
    const count = h('span', { class: 'chr-dt-count', attrs: { 'aria-live': 'polite', 'data-testid': 'devtools-count' } });
    const filters = h(
      'form',
      { class: 'chr-dt-filters', attrs: { role: 'search', 'aria-label': 'Filter events' } },
      field('Aggregate', aggregateInput),
      field('Event type', typeSelect),
      field('Search', textInput, true),
      field('From', fromInput),
      field('To', toInput),
      h('div', { class: 'chr-dt-filter-end' }, clearFilters, count),
      aggregateList,
    );
    filters.addEventListener('submit', (event) => event.preventDefault());
    const onFilter = () => this.setFilter({
      aggregate: aggregateInput.value.trim(),
      type: typeSelect.value,
      text: textInput.value.trim(),
      from: fromLocalInput(fromInput.value),
      to: fromLocalInput(toInput.value),
    });
    for (const control of [aggregateInput, textInput, fromInput, toInput]) control.addEventListener('input', onFilter);
    typeSelect.addEventListener('change', onFilter);
    clearFilters.addEventListener('click', () => {
      aggregateInput.value = textInput.value = fromInput.value = toInput.value = '';
      typeSelect.value = '';
      onFilter();
    });

    // ---- timeline
    const step = (testid: string, label: string, path: string, action: () => void) =>
      h('button', { class: 'chr-dt-btn chr-dt-icon-btn', attrs: { type: 'button', 'data-testid': testid, 'aria-label': label, title: label }, on: { click: action } }, icon(path));
    const first = step('devtools-first', 'First event', ICONS.first, () => this.step('first'));
    const prev = step('devtools-prev', 'Previous event', ICONS.prev, () => this.step('prev'));
    const next = step('devtools-next', 'Next event', ICONS.next, () => this.step('next'));
    const last = step('devtools-last', 'Last event', ICONS.last, () => this.step('last'));
    const slider = h('input', {
      class: 'chr-dt-slider',
      attrs: { type: 'range', min: 1, max: 1, step: 1, value: 1, 'data-testid': 'devtools-slider', 'aria-label': 'Time travel: position in the log' },
    });
    slider.addEventListener('input', () => this.travelToFiltered(Number(slider.value) - 1));
    const position = h('output', { class: 'chr-dt-position', attrs: { 'data-testid': 'devtools-position', 'aria-live': 'polite' } });
    const resume = h(
      'button',
      { class: 'chr-dt-btn chr-dt-btn-primary', attrs: { type: 'button', 'data-testid': 'devtools-resume', title: 'Back to the head: the app follows the log again' }, on: { click: () => this.resume() } },
      icon(ICONS.resume),
      'Resume',
    );
    const timeline = h(
      'div',
      { class: 'chr-dt-timeline', attrs: { role: 'group', 'aria-label': 'Time travel' } },
      h('div', { class: 'chr-dt-steps' }, first, prev),
      slider,
      h('div', { class: 'chr-dt-steps' }, next, last),
      position,
      resume,
    );

    // ---- main: log and side
    const empty = h('div', { class: 'chr-dt-empty', attrs: { hidden: true } });
    const log = h('section', { class: 'chr-dt-log', attrs: { 'aria-label': 'Log' } }, this.grid.element, empty);
    this.grid.element.addEventListener('keydown', (event) => this.onKey(event));
    this.grid.element.addEventListener('focus', () => {
      // Keyboard focus lands on a row; a click selects the row clicked.
      if (this.selected < 0 && this.filtered.length > 0 && this.grid.element.matches(':focus-visible')) this.select(0);
      this.updateActiveDescendant();
    });

    const tabButton = (tab: Tab, label: string, extra?: HTMLElement) =>
      h(
        'button',
        {
          class: 'chr-dt-tab',
          attrs: { type: 'button', role: 'tab', id: `${uid}-tab-${tab}`, 'aria-controls': `${uid}-panel-${tab}`, 'aria-selected': String(tab === 'event'), tabindex: tab === 'event' ? 0 : -1, 'data-testid': `devtools-tab-${tab}` },
          on: { click: () => this.setTab(tab) },
        },
        label,
        extra ?? null,
      );
    const whatIfCount = h('span', { class: 'chr-dt-chip', attrs: { hidden: true } });
    const tabs = { event: tabButton('event', 'Event'), whatif: tabButton('whatif', 'What-if', whatIfCount), sync: tabButton('sync', 'Sync') };
    const tabList = h('div', { class: 'chr-dt-tabs', attrs: { role: 'tablist', 'aria-label': 'Details' } }, tabs.event, tabs.whatif, tabs.sync);
    tabList.addEventListener('keydown', (event) => {
      const order: Tab[] = ['event', 'whatif', 'sync'];
      const at = order.indexOf(this.tab);
      let next: Tab | undefined;
      if (event.key === 'ArrowRight') next = order[(at + 1) % order.length];
      else if (event.key === 'ArrowLeft') next = order[(at + order.length - 1) % order.length];
      else if (event.key === 'Home') next = order[0];
      else if (event.key === 'End') next = order[order.length - 1];
      if (next) {
        event.preventDefault();
        this.setTab(next);
        tabs[next].focus();
      }
    });
    const tabPanel = (tab: Tab, ...children: HTMLElement[]) =>
      h('div', { class: 'chr-dt-tabpanel', attrs: { role: 'tabpanel', id: `${uid}-panel-${tab}`, 'aria-labelledby': `${uid}-tab-${tab}`, hidden: tab !== 'event', tabindex: 0 } }, ...children);

    // event tab
    const pane = (testid: string, title: string) => {
      const note = h('small');
      const body = h('div');
      const el = h('section', { class: 'chr-dt-pane', attrs: { 'data-testid': testid, 'aria-label': title } }, h('h3', {}, title, note), body);
      return { el, note, body };
    };
    const eventHint = h('p', { class: 'chr-dt-hint', text: 'Select an event to see its data and meta, the state of its aggregate before and after it, and what changed.' });
    const eventTitle = h('div', { class: 'chr-dt-event-title' });
    const facts = h('dl', { class: 'chr-dt-facts' });
    const dataBody = h('div', { attrs: { 'data-testid': 'devtools-event-data' } });
    const metaBody = h('div', { attrs: { 'data-testid': 'devtools-event-meta' } });
    const diffPane = pane('devtools-diff', 'What changed');
    const beforePane = pane('devtools-state-before', 'State before');
    const afterPane = pane('devtools-state-after', 'State after');
    const eventDetail = h(
      'div',
      { attrs: { hidden: true } },
      eventTitle,
      facts,
      h('section', { class: 'chr-dt-section' }, h('h3', { text: 'Data' }), dataBody),
      h('section', { class: 'chr-dt-section' }, diffPane.el),
      h('div', { class: 'chr-dt-section chr-dt-states' }, beforePane.el, afterPane.el),
      h('section', { class: 'chr-dt-section' }, h('h3', { text: 'Meta' }), metaBody),
    );
    const eventPanel = tabPanel('event', eventHint, eventDetail);

    // what-if tab
    const whatIfIntro = h('p', { class: 'chr-dt-hint' });
    const skipList = h('ul', { class: 'chr-dt-skips', attrs: { 'aria-label': 'Events left out' } });
    const clearSkips = h('button', { class: 'chr-dt-btn', attrs: { type: 'button', hidden: true, 'data-testid': 'devtools-clear-skips' }, text: 'Put all back', on: { click: () => this.clearSkips() } });
    const whatIfActual = pane('devtools-whatif-actual', 'As logged');
    const whatIfState = pane('devtools-whatif-state', 'What-if');
    const whatIfDiff = pane('devtools-whatif-diff', 'Difference');
    const whatIfResult = h('div', { attrs: { hidden: true } }, h('div', { class: 'chr-dt-section chr-dt-states' }, whatIfActual.el, whatIfState.el), h('section', { class: 'chr-dt-section' }, whatIfDiff.el));
    const whatIfPanel = tabPanel(
      'whatif',
      h('section', { class: 'chr-dt-section', attrs: { 'data-testid': 'devtools-whatif' } }, whatIfIntro, skipList, clearSkips, whatIfResult),
    );

    // sync tab
    const syncStats = h('dl', { class: 'chr-dt-sync-grid' });
    const outcomeList = h('ul', { class: 'chr-dt-outcomes', attrs: { 'aria-label': 'Recent outcomes' } });
    const rejectedList = h('ul', { class: 'chr-dt-outcomes', attrs: { 'aria-label': 'Rejected events' } });
    const syncError = h('p', { class: 'chr-dt-error', attrs: { hidden: true } });
    const syncPanel = tabPanel(
      'sync',
      h(
        'section',
        { attrs: { 'data-testid': 'devtools-sync', 'aria-label': 'Sync' } },
        syncStats,
        syncError,
        h('section', { class: 'chr-dt-section' }, h('h3', {}, 'Recent outcomes ', h('small', { text: 'confirmed, rebased and rejected edits of this session' })), outcomeList),
        h('section', { class: 'chr-dt-section' }, h('h3', { text: 'Rejected events' }), rejectedList),
      ),
    );

    const side = h('section', { class: 'chr-dt-side', attrs: { 'aria-label': 'Details' } }, tabList, eventPanel, whatIfPanel, syncPanel);
    const main = h('div', { class: 'chr-dt-main' }, log, side);

    this.root.append(h('style', { text: STYLES }), header, banner, status, filters, timeline, progress, main);

    // Drop an NDJSON file anywhere on the panel to import it.
    this.root.addEventListener('dragover', (event) => {
      if (event.dataTransfer?.types.includes('Files')) {
        event.preventDefault();
        this.root.classList.add('chr-dt-drop');
      }
    });
    this.root.addEventListener('dragleave', (event) => {
      if (event.target === this.root) this.root.classList.remove('chr-dt-drop');
    });
    this.root.addEventListener('drop', (event) => {
      this.root.classList.remove('chr-dt-drop');
      const file = event.dataTransfer?.files[0];
      if (file) {
        event.preventDefault();
        void this.track(this.importFile(file));
      }
    });

    return {
      storeName, modeChip, scratchChip, backButton, syncDot, syncText, exportButton, exportLabel, status, banner, bannerText,
      progress, progressBar, progressText, aggregateList, aggregateInput, typeSelect, clearFilters, count, first, prev, next, last,
      slider, position, resume, empty, tabs, whatIfCount, panels: { event: eventPanel, whatif: whatIfPanel, sync: syncPanel },
      eventHint, eventDetail, eventTitle, facts, dataBody, metaBody, diffPane, beforePane, afterPane,
      whatIfIntro, skipList, clearSkips, whatIfResult, whatIfActual, whatIfState, whatIfDiff,
      syncStats, outcomeList, rejectedList, syncError,
    };
  }

  private buildHeaderRow(): HTMLElement {
    const cell = (cls: string, text: string, label?: string) =>
      h('div', { class: `chr-dt-cell ${cls}`, attrs: { role: 'columnheader', ...(label ? { 'aria-label': label, title: label } : {}) }, text });
    return h(
      'div',
      { class: 'chr-dt-head-row', attrs: { role: 'row' } },
      cell('chr-dt-cell-skip', '⊘', 'Leave out (what-if)'),
      cell('chr-dt-cell-index', '#'),
      cell('chr-dt-cell-status', 'Status'),
      cell('chr-dt-cell-type', 'Event'),
      cell('chr-dt-cell-agg', 'Aggregate'),
      cell('chr-dt-cell-time', 'Time'),
    );
  }

  private createRow(): HTMLElement {
    const skip = h('input', { attrs: { type: 'checkbox', tabindex: -1, 'aria-label': 'Leave out in what-if', 'data-testid': 'devtools-skip' } });
    const index = h('div', { class: 'chr-dt-cell chr-dt-cell-index', attrs: { role: 'gridcell' } });
    const badge = h('span', { class: 'chr-dt-badge' });
    const type = h('div', { class: 'chr-dt-cell chr-dt-cell-type', attrs: { role: 'gridcell' } });
    const aggId = h('span', { class: 'chr-dt-agg-id' });
    const seq = h('span', { class: 'chr-dt-seq' });
    const agg = h('div', { class: 'chr-dt-cell chr-dt-cell-agg', attrs: { role: 'gridcell' } }, aggId, seq);
    const time = h('div', { class: 'chr-dt-cell chr-dt-cell-time', attrs: { role: 'gridcell' } });
    const row = h(
      'div',
      { class: 'chr-dt-row', attrs: { role: 'row', 'data-testid': 'devtools-row', 'aria-selected': 'false' } },
      h('div', { class: 'chr-dt-cell chr-dt-cell-skip', attrs: { role: 'gridcell' } }, skip),
      index,
      h('div', { class: 'chr-dt-cell chr-dt-cell-status', attrs: { role: 'gridcell' } }, badge),
      type,
      agg,
      time,
    );
    skip.addEventListener('click', (event) => event.stopPropagation());
    skip.addEventListener('change', () => {
      const at = Number(row.dataset.index);
      this.toggleSkip(at, skip.checked);
      // Keep the keyboard in the grid.
      this.grid.element.focus({ preventScroll: true });
    });
    row.addEventListener('click', () => {
      this.select(Number(row.dataset.index), { scroll: false });
      this.grid.element.focus({ preventScroll: true });
    });
    row.addEventListener('dblclick', () => this.travelToFiltered(Number(row.dataset.index)));
    this.rowParts.set(row, { skip, index, badge, type, agg, aggId, seq, time });
    return row;
  }

  private statusOf(entry: DevtoolsEntry): RowStatus {
    if (this.rebased.has(entry.event.id)) return 'rebased';
    return entry.event.position !== undefined ? 'confirmed' : 'pending';
  }

  private renderRow(row: HTMLElement, index: number): void {
    const parts = this.rowParts.get(row)!;
    const entryIndex = this.filtered[index]!;
    const entry = this.entries[entryIndex]!;
    const { event } = entry;
    const status = this.statusOf(entry);
    const travel = this.travel;
    const order = travel ? compareCursor(entry.cursor, travel) : -1;
    const travelState = order === 0 ? 'here' : order > 0 ? 'future' : null;
    row.id = `${this.uid}-row-${index}`;
    setAttrs(row, {
      'data-index': index,
      'data-id': event.id,
      'data-status': status,
      'data-travel': travelState,
      'data-skipped': this.skips.has(event.id) ? 'true' : null,
      'aria-selected': String(index === this.selected),
      'aria-rowindex': index + 2,
    });
    parts.skip.checked = this.skips.has(event.id);
    setText(parts.index, String(entryIndex + 1));
    const badgeText = status === 'confirmed' ? `✓ ${event.position}` : status;
    setText(parts.badge, badgeText);
    parts.badge.dataset.status = status;
    parts.badge.title =
      status === 'confirmed'
        ? `Confirmed by the server at position ${event.position}`
        : status === 'rebased'
          ? `Re-sequenced by a sync rebase during this session${event.position !== undefined ? `, now confirmed at ${event.position}` : ', still pending'}`
          : 'Pending: not yet confirmed by the server';
    setText(parts.type, event.known ? event.type : `${event.type} (unknown)`);
    parts.type.title = event.type;
    setText(parts.aggId, event.aggregateId);
    setText(parts.seq, `#${event.seq}`);
    parts.agg.title = `${event.aggregateType} ${event.aggregateId}, seq ${event.seq}`;
    setText(parts.time, formatClock(event.meta.occurredAt));
    parts.time.title = formatDateTime(event.meta.occurredAt);
  }

  // ================================================================ sources and loading

  private attach(source: DevtoolsSource): void {
    this.unsubscribe?.();
    this.source = source;
    const generation = ++this.generation;
    this.entries = [];
    this.pendingStart = 0;
    this.lastConfirmed = this.lastPending = null;
    this.filtered = [];
    this.filterRun++;
    this.filtering = false;
    this.selectedId = null;
    this.selected = -1;
    this.skips.clear();
    this.rebased.clear();
    this.outcomes = [];
    this.travel = null;
    this.travelSetByPanel = null;
    this.info = null;
    this.sync = null;
    this.loading = true;
    this.loadError = null;
    this.wantTail = this.wantReorder = false;
    this.aggregateIds.clear();
    this.eventTypes.clear();
    this.localEncoder.clear();
    this.unsubscribe = source.subscribe((event) => {
      if (generation === this.generation) this.onSourceEvent(event);
    });
    this.renderAll();
    this.showDetail();
    void this.track(this.loadAll(generation));
  }

  private async loadAll(generation: number): Promise<void> {
    const source = this.source;
    try {
      const [info, position, sync] = await Promise.all([source.info(), source.position(), source.syncStatus().catch(() => null)]);
      if (generation !== this.generation) return;
      this.info = info;
      this.travel = position;
      this.sync = sync;
      for (const type of info.eventTypes) this.eventTypes.add(type);
      this.expected = info.confirmedEvents + info.pendingEvents;
      this.renderHeader();
      this.renderTypes();
      this.renderSync();
      this.renderProgress();
      await this.readArea('confirmed', generation);
      await this.readArea('pending', generation);
      if (generation !== this.generation) return;
      this.loading = false;
      this.renderProgress();
      this.renderTimeline();
      this.renderSync();
      this.grid.refresh();
      if (this.travel) this.followTravel();
      // Anything announced while loading.
      if (this.wantTail || this.wantReorder) this.schedule();
    } catch (error) {
      if (generation !== this.generation) return;
      this.loading = false;
      this.loadError = errorText(error);
      this.renderProgress();
      this.showStatus(`Could not read the log: ${this.loadError}`, 'error');
    }
  }

  /** Reads one area of the log after its last cursor to its end; returns how many events came. */
  private async readArea(status: 'confirmed' | 'pending', generation: number): Promise<number> {
    let added = 0;
    for (;;) {
      const after = status === 'confirmed' ? this.lastConfirmed : this.lastPending;
      const page = await this.source.page({ status, after });
      if (generation !== this.generation) return added;
      if (page.entries.length > 0) {
        const batch = page.entries;
        const last = batch[batch.length - 1]!.cursor;
        let from: number;
        if (status === 'confirmed') {
          this.lastConfirmed = last;
          from = this.pendingStart;
          if (this.pendingStart === this.entries.length) pushAll(this.entries, batch);
          else this.entries = this.entries.slice(0, this.pendingStart).concat(batch, this.entries.slice(this.pendingStart));
          this.pendingStart += batch.length;
        } else {
          this.lastPending = last;
          from = this.entries.length;
          pushAll(this.entries, batch);
        }
        added += batch.length;
        this.noteEntries(batch);
        this.afterEntriesAdded(from, from + batch.length === this.entries.length);
        this.renderProgress();
        // Let the browser paint the rows so far.
        await yieldToBrowser();
        if (generation !== this.generation) return added;
      }
      if (page.end || page.entries.length === 0) return added;
    }
  }

  private noteEntries(batch: DevtoolsEntry[]): void {
    let newType = false;
    for (const { event } of batch) {
      this.aggregateIds.add(event.aggregateId);
      if (!this.eventTypes.has(event.type)) {
        this.eventTypes.add(event.type);
        newType = true;
      }
    }
    if (newType) this.renderTypes();
    const list = this.els.aggregateList;
    if (list.childElementCount < MAX_DATALIST) {
      for (const id of this.aggregateIds) {
        if (list.childElementCount >= MAX_DATALIST) break;
        if (!list.querySelector(`option[value="${CSS.escape(id)}"]`)) list.append(h('option', { attrs: { value: id } }));
      }
    }
  }

  private onSourceEvent(event: SourceEvent): void {
    switch (event.kind) {
      case 'appended':
        this.wantTail = true;
        this.schedule();
        break;
      case 'reordered':
        this.wantReorder = true;
        this.schedule();
        break;
      case 'travel':
        if (!sameCursor(event.position, this.travel)) {
          this.travel = event.position;
          this.renderTimeline();
          this.grid.refresh();
          if (this.travel) this.followTravel();
          this.requestWhatIf();
        }
        break;
      case 'sync':
        this.sync = event.status;
        this.renderSync();
        break;
      case 'outcomes': {
        const at = Date.now();
        let rejected = false;
        for (const outcome of event.outcomes) {
          if (outcome.status === 'rebased') this.rebased.add(outcome.id);
          if (outcome.status === 'rejected') rejected = true;
          this.outcomes.unshift({ at, outcome });
        }
        this.outcomes.length = Math.min(this.outcomes.length, MAX_OUTCOMES);
        this.grid.refresh();
        this.renderSync();
        if (rejected && this.tab === 'sync') void this.track(this.loadRejected());
        break;
      }
    }
  }

  /** Runs tail reads and pending reloads one at a time, coalescing what was asked meanwhile. */
  private schedule(): void {
    if (this.draining || this.loading) return;
    this.draining = true;
    const generation = this.generation;
    void this.track(
      (async () => {
        try {
          while ((this.wantTail || this.wantReorder) && generation === this.generation && !this.unmounted) {
            const reorder = this.wantReorder;
            this.wantTail = this.wantReorder = false;
            const confirmed = await this.readArea('confirmed', generation);
            if (reorder || confirmed > 0) await this.reloadPending(generation);
            else await this.readArea('pending', generation);
            if (generation === this.generation) {
              this.renderTimeline();
              this.renderSync();
            }
          }
        } catch (error) {
          if (generation === this.generation) this.showStatus(`Could not read new events: ${errorText(error)}`, 'error');
        } finally {
          this.draining = false;
        }
      })(),
    );
  }

  /** Pending events moved (confirmed, rebased or rejected): read that area again. */
  private async reloadPending(generation: number): Promise<void> {
    const fresh: DevtoolsEntry[] = [];
    let after: LogCursor | null = null;
    for (;;) {
      const page = await this.source.page({ status: 'pending', after });
      if (generation !== this.generation) return;
      if (page.entries.length === 0) break;
      pushAll(fresh, page.entries);
      after = page.entries[page.entries.length - 1]!.cursor;
      if (page.end) break;
    }
    this.entries.length = this.pendingStart;
    pushAll(this.entries, fresh);
    this.lastPending = after;
    this.noteEntries(fresh);
    this.refilter();
  }

  // ================================================================ filtering

  private hasFilter(): boolean {
    const f = this.filter;
    return Boolean(f.aggregate || f.type || f.text || f.from !== undefined || f.to !== undefined);
  }

  private matcher(): (entry: DevtoolsEntry) => boolean {
    const f = this.filter;
    if (!this.hasFilter()) return () => true;
    const exactAggregate = f.aggregate !== '' && this.aggregateIds.has(f.aggregate);
    const aggregate = f.aggregate.toLowerCase();
    const text = f.text.toLowerCase();
    return (entry) => {
      const { event } = entry;
      if (aggregate) {
        if (exactAggregate ? event.aggregateId !== f.aggregate : !event.aggregateId.toLowerCase().includes(aggregate)) return false;
      }
      if (f.type && event.type !== f.type) return false;
      if (f.from !== undefined && event.meta.occurredAt < f.from) return false;
      if (f.to !== undefined && event.meta.occurredAt > f.to + 999) return false;
      if (text) {
        let haystack = this.haystacks.get(entry);
        if (haystack === undefined) {
          haystack = JSON.stringify(event).toLowerCase();
          this.haystacks.set(entry, haystack);
        }
        if (!haystack.includes(text)) return false;
      }
      return true;
    };
  }

  private setFilter(filter: Filter): void {
    this.filter = filter;
    this.els.clearFilters.disabled = !this.hasFilter();
    this.refilter();
  }

  /** New entries from `from` on: filter them in place (a plain append), or refilter all. */
  private afterEntriesAdded(from: number, atEnd: boolean): void {
    if (!atEnd) {
      this.refilter();
      return;
    }
    if (this.filtering) return; // the running pass reads up to the current end
    const follow = !this.loading && this.grid.isAtBottom();
    const matches = this.matcher();
    for (let i = from; i < this.entries.length; i++) if (matches(this.entries[i]!)) this.filtered.push(i);
    this.afterFilterChange();
    if (follow && this.filtered.length > 0) this.grid.scrollToIndex(this.filtered.length - 1, 'end');
  }

  /** Recomputes `filtered` over the whole log in slices that leave the browser responsive. */
  private refilter(): void {
    const run = ++this.filterRun;
    this.filtering = true;
    this.root.dataset.filtering = 'true';
    void this.track(
      (async () => {
        const matches = this.matcher();
        const out: number[] = [];
        let i = 0;
        for (;;) {
          const deadline = performance.now() + FILTER_SLICE_MS;
          while (i < this.entries.length) {
            if (matches(this.entries[i]!)) out.push(i);
            i++;
            if ((i & 255) === 0 && performance.now() > deadline) break;
          }
          if (i >= this.entries.length) break;
          await yieldToBrowser();
          if (run !== this.filterRun) return;
        }
        if (run !== this.filterRun) return;
        this.filtering = false;
        delete this.root.dataset.filtering;
        this.filtered = out;
        this.afterFilterChange();
      })(),
    );
  }

  private afterFilterChange(): void {
    // Keep the selection on the same event if it is still listed.
    if (this.selectedId !== null) {
      const at = this.selected;
      const stillThere = at >= 0 && at < this.filtered.length && this.entries[this.filtered[at]!]?.event.id === this.selectedId;
      if (!stillThere) {
        this.selected = -1;
        for (let k = this.filtered.length - 1; k >= 0; k--) {
          if (this.entries[this.filtered[k]!]!.event.id === this.selectedId) {
            this.selected = k;
            break;
          }
        }
      }
    }
    this.grid.refresh();
    this.renderCount();
    this.renderTimeline();
    this.updateActiveDescendant();
  }

  // ================================================================ selection and keyboard

  private select(index: number, { scroll = true }: { scroll?: boolean } = {}): void {
    if (this.filtered.length === 0) return;
    const clamped = Math.max(0, Math.min(this.filtered.length - 1, index));
    const entry = this.entries[this.filtered[clamped]!]!;
    const changed = entry.event.id !== this.selectedId;
    this.selected = clamped;
    this.selectedId = entry.event.id;
    if (scroll) this.grid.scrollToIndex(clamped);
    this.grid.refresh();
    this.updateActiveDescendant();
    if (changed) this.showDetail();
  }

  private updateActiveDescendant(): void {
    const row = this.selected >= 0 ? this.grid.rowElement(this.selected) : undefined;
    if (row?.id) this.grid.element.setAttribute('aria-activedescendant', row.id);
    else this.grid.element.removeAttribute('aria-activedescendant');
  }

  private onKey(event: KeyboardEvent): void {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const count = this.filtered.length;
    if (count === 0) return;
    const at = this.selected;
    const page = this.grid.pageSize();
    let target: number | undefined;
    switch (event.key) {
      case 'ArrowDown':
        target = at < 0 ? 0 : at + 1;
        break;
      case 'ArrowUp':
        target = at < 0 ? 0 : at - 1;
        break;
      case 'PageDown':
        target = at + page;
        break;
      case 'PageUp':
        target = at - page;
        break;
      case 'Home':
        target = 0;
        break;
      case 'End':
        target = count - 1;
        break;
      case 'Enter':
        target = at < 0 ? 0 : at;
        break;
      case ' ':
        if (at >= 0) this.toggleSkip(at, !this.skips.has(this.selectedId ?? ''));
        event.preventDefault();
        return;
      case 't':
      case 'T':
        if (at >= 0) this.travelToFiltered(at);
        event.preventDefault();
        return;
      case 'Escape':
        if (this.travel) {
          this.resume();
          event.preventDefault();
        }
        return;
      default:
        return;
    }
    event.preventDefault();
    this.select(target);
    if (event.key === 'Enter') this.showDetail();
  }

  // ================================================================ time travel

  private travelIndex(): { index: number; exact: boolean } {
    const travel = this.travel;
    if (!travel) return { index: -1, exact: false };
    const index = lastAtOrBefore(this.filtered.length, (k) => this.entries[this.filtered[k]!]!.cursor, travel);
    const exact = index >= 0 && sameCursor(this.entries[this.filtered[index]!]!.cursor, travel);
    return { index, exact };
  }

  private travelToFiltered(index: number): void {
    if (index < 0 || index >= this.filtered.length) return;
    const entry = this.entries[this.filtered[index]!]!;
    const cursor = entry.cursor;
    this.travel = cursor;
    this.travelSetByPanel = cursor;
    void this.track(this.source.travel(cursor)).catch((error: unknown) => this.showStatus(`Could not travel: ${errorText(error)}`, 'error'));
    this.select(index);
    this.renderTimeline();
    this.grid.refresh();
    this.requestWhatIf();
  }

  private resume(): void {
    if (!this.travel) return;
    this.travel = null;
    this.travelSetByPanel = null;
    void this.track(this.source.travel(null)).catch((error: unknown) => this.showStatus(`Could not resume: ${errorText(error)}`, 'error'));
    this.renderTimeline();
    this.grid.refresh();
    this.requestWhatIf();
  }

  private step(kind: 'first' | 'prev' | 'next' | 'last'): void {
    const count = this.filtered.length;
    if (count === 0) return;
    const { index, exact } = this.travelIndex();
    const traveling = this.travel !== null;
    let target: number;
    if (kind === 'first') target = 0;
    else if (kind === 'last') target = count - 1;
    else if (kind === 'prev') target = traveling ? (exact ? index - 1 : index) : count - 2;
    else target = traveling ? index + 1 : count;
    if (target < 0 || target >= count) return;
    this.travelToFiltered(target);
  }

  /** Selects the row the store travelled to (when someone else moved it). */
  private followTravel(): void {
    const { index } = this.travelIndex();
    if (index >= 0 && this.entries[this.filtered[index]!]!.event.id !== this.selectedId) this.select(index);
  }

  // ================================================================ what-if

  private toggleSkip(index: number, skip: boolean): void {
    const entryIndex = this.filtered[index];
    if (entryIndex === undefined) return;
    const { event } = this.entries[entryIndex]!;
    if (skip) this.skips.set(event.id, { aggregateType: event.aggregateType, aggregateId: event.aggregateId, type: event.type, seq: event.seq });
    else this.skips.delete(event.id);
    this.grid.refresh();
    this.renderSkips();
    this.requestWhatIf();
  }

  private clearSkips(): void {
    this.skips.clear();
    this.grid.refresh();
    this.renderSkips();
    this.requestWhatIf();
  }

  private selectedEntry(): DevtoolsEntry | undefined {
    if (this.selected < 0) return undefined;
    const entry = this.entries[this.filtered[this.selected]!];
    return entry && entry.event.id === this.selectedId ? entry : undefined;
  }

  private requestWhatIf(): void {
    if (this.tab !== 'whatif') return;
    this.whatIfWanted = true;
    if (this.whatIfRunning) return;
    this.whatIfRunning = true;
    void this.track(
      (async () => {
        try {
          while (this.whatIfWanted && !this.unmounted) {
            this.whatIfWanted = false;
            await this.computeWhatIf();
          }
        } finally {
          this.whatIfRunning = false;
        }
      })(),
    );
  }

  private async computeWhatIf(): Promise<void> {
    const e = this.els;
    this.renderSkips();
    const entry = this.selectedEntry();
    if (!entry) {
      e.whatIfIntro.textContent = 'Tick events in the log to leave them out, then select an event of an aggregate to see its state without them. The log is not touched.';
      e.whatIfResult.hidden = true;
      return;
    }
    const { aggregateType, aggregateId } = entry.event;
    const skip = [...this.skips].filter(([, info]) => info.aggregateId === aggregateId && info.aggregateType === aggregateType).map(([id]) => id);
    const at = this.travel ? 'as of the time-travel position' : 'at the head';
    if (skip.length === 0) {
      e.whatIfIntro.textContent = `Tick events of ${aggregateType} ${aggregateId} in the log to see its state ${at} without them. The log is not touched.`;
      e.whatIfResult.hidden = true;
      return;
    }
    e.whatIfIntro.textContent = `${aggregateType} ${aggregateId} ${at}, without ${skip.length} event${skip.length === 1 ? '' : 's'}. Nothing is written.`;
    const source = this.source;
    for (const pane of [e.whatIfActual, e.whatIfState, e.whatIfDiff]) pane.el.setAttribute('aria-busy', 'true');
    let result: InspectResult;
    try {
      result = await source.inspect({ aggregateType, aggregateId, until: this.travel, skip, compareTo: { until: this.travel } });
    } catch (error) {
      if (source !== this.source || this.whatIfWanted) return;
      for (const pane of [e.whatIfActual, e.whatIfState, e.whatIfDiff]) {
        pane.el.removeAttribute('aria-busy');
        pane.body.replaceChildren(h('p', { class: 'chr-dt-error', text: errorText(error) }));
      }
      e.whatIfResult.hidden = false;
      return;
    }
    if (source !== this.source || this.whatIfWanted) return;
    e.whatIfResult.hidden = false;
    this.fillState(e.whatIfActual, result.base!, source);
    this.fillState(e.whatIfState, result.state, source);
    this.fillDiff(e.whatIfDiff, result.diff!, source, 'Leaving them out changes nothing.');
  }

  // ================================================================ detail

  private showDetail(): void {
    const e = this.els;
    const entry = this.selectedEntry();
    if (!entry) {
      e.eventHint.hidden = false;
      e.eventDetail.hidden = true;
      this.requestWhatIf();
      return;
    }
    e.eventHint.hidden = true;
    e.eventDetail.hidden = false;
    const { event } = entry;
    const status = this.statusOf(entry);
    clear(e.eventTitle);
    append(
      e.eventTitle,
      h('span', { text: event.type }),
      h('span', { class: 'chr-dt-badge', attrs: { 'data-status': status }, text: status }),
      event.known ? null : h('span', { class: 'chr-dt-badge', attrs: { 'data-status': 'rejected' }, text: 'unknown type' }),
      this.travel && sameCursor(this.travel, entry.cursor) ? h('span', { class: 'chr-dt-badge', attrs: { 'data-status': 'travel' }, text: 'time travel here' }) : null,
    );
    clear(e.facts);
    const fact = (label: string, value: string) => append(e.facts, h('dt', { text: label }), h('dd', { text: value }));
    fact('Aggregate', `${event.aggregateType} ${event.aggregateId}`);
    fact('Seq', String(event.seq));
    fact('Position', event.position !== undefined ? String(event.position) : 'pending');
    fact('Occurred', formatDateTime(event.meta.occurredAt));
    fact('Event id', event.id);
    fact('Version', event.version === event.storedVersion ? String(event.version) : `${event.version} (stored as ${event.storedVersion}, upcast on read)`);
    fact('Log index', String(this.filtered[this.selected]! + 1));
    const local = (value: unknown) => this.localEncoder.encode(value, 400);
    const localExpand = async (ref: string, offset?: number) => this.localEncoder.expand(ref, offset);
    e.dataBody.replaceChildren(renderTree(local(event.data), { expand: localExpand, openDepth: 2 }));
    e.metaBody.replaceChildren(renderTree(local(event.meta), { expand: localExpand, openDepth: 1 }));
    this.requestInspect(entry);
    this.requestWhatIf();
  }

  private requestInspect(entry: DevtoolsEntry): void {
    this.inspectWanted = entry;
    for (const pane of [this.els.beforePane, this.els.afterPane, this.els.diffPane]) pane.el.setAttribute('aria-busy', 'true');
    if (this.inspecting) return;
    this.inspecting = true;
    void this.track(
      (async () => {
        try {
          while (this.inspectWanted && !this.unmounted) {
            const wanted = this.inspectWanted;
            this.inspectWanted = null;
            await this.inspect(wanted);
          }
        } finally {
          this.inspecting = false;
        }
      })(),
    );
  }

  private async inspect(entry: DevtoolsEntry): Promise<void> {
    const e = this.els;
    const source = this.source;
    const { event, cursor } = entry;
    let result: InspectResult | undefined;
    let failure: unknown;
    try {
      result = await source.inspect({
        aggregateType: event.aggregateType,
        aggregateId: event.aggregateId,
        until: cursor,
        // The state before: every event of the aggregate up to this one, but this one.
        compareTo: { until: cursor, skip: [event.id] },
      });
    } catch (error) {
      failure = error;
    }
    // A newer selection (or another source) makes this answer stale.
    if (this.inspectWanted || source !== this.source || this.selectedId !== event.id) return;
    for (const pane of [e.beforePane, e.afterPane, e.diffPane]) pane.el.removeAttribute('aria-busy');
    if (!result) {
      const noAggregate = errorCode(failure) === 'NO_AGGREGATE';
      const message = noAggregate
        ? `No definition of the ${event.aggregateType} aggregate was given to the devtools: pass it in { aggregates: [...] } to see states.`
        : `Could not compute the state: ${errorText(failure)}`;
      for (const pane of [e.beforePane, e.afterPane, e.diffPane]) {
        pane.note.textContent = '';
        pane.body.replaceChildren(h('p', { class: noAggregate ? 'chr-dt-hint' : 'chr-dt-error', text: message }));
      }
      return;
    }
    const before = result.base!;
    this.fillState(e.beforePane, { ...before, version: event.seq - 1 }, source);
    this.fillState(e.afterPane, result.state, source);
    this.fillDiff(e.diffPane, result.diff!, source, event.known ? 'This event left the state as it was.' : 'Unknown event type: reducers skip it.');
  }

  private fillState(pane: { el: HTMLElement; note: HTMLElement; body: HTMLElement }, view: { version: number; state: Encoded }, source: DevtoolsSource): void {
    pane.el.removeAttribute('aria-busy');
    pane.note.textContent = `version ${view.version}`;
    pane.body.replaceChildren(renderTree(view.state, { expand: (ref, offset) => source.expand(ref, offset), openDepth: 2, track: (w) => this.track(w) }));
  }

  private fillDiff(pane: { el: HTMLElement; note: HTMLElement; body: HTMLElement }, diff: DiffResult, source: DevtoolsSource, emptyText: string): void {
    pane.el.removeAttribute('aria-busy');
    const n = diff.changes.length;
    pane.note.textContent = n === 0 ? '' : `${n}${diff.truncated ? '+' : ''} change${n === 1 ? '' : 's'}`;
    if (n === 0) {
      pane.body.replaceChildren(h('p', { class: 'chr-dt-hint', text: emptyText }));
      return;
    }
    const expand = (ref: string, offset?: number) => source.expand(ref, offset);
    const valueView = (value: Encoded) =>
      value.t === 'object' || value.t === 'array' || value.t === 'map' || value.t === 'set'
        ? renderTree(value, { expand, openDepth: 0, track: (w) => this.track(w) })
        : renderInline(value);
    const list = h('ul', { class: 'chr-dt-diff-list' });
    for (const change of diff.changes) {
      const sign = change.kind === 'added' ? '+' : change.kind === 'removed' ? '−' : '~';
      const values = h('div', { class: 'chr-dt-diff-values' });
      if (change.kind === 'changed') {
        const old = valueView(change.before!);
        old.classList.add('chr-dt-diff-old');
        append(values, old, h('span', { class: 'chr-dt-arrow', text: '→', attrs: { 'aria-label': 'becomes' } }), valueView(change.after!));
      } else {
        append(values, valueView((change.kind === 'added' ? change.after : change.before)!));
      }
      list.append(
        h(
          'li',
          { class: 'chr-dt-diff-item', attrs: { 'data-kind': change.kind } },
          h('span', { class: 'chr-dt-diff-sign', attrs: { 'aria-label': change.kind }, text: sign }),
          h('span', { class: 'chr-dt-diff-path', text: change.path || '(the whole state)' }),
          values,
        ),
      );
    }
    pane.body.replaceChildren(list);
    if (diff.truncated) pane.body.append(h('p', { class: 'chr-dt-hint', text: 'More changes than shown: the list stops here.' }));
  }

  // ================================================================ tabs, sync

  private setTab(tab: Tab): void {
    this.tab = tab;
    for (const [name, button] of Object.entries(this.els.tabs) as [Tab, HTMLButtonElement][]) {
      button.setAttribute('aria-selected', String(name === tab));
      button.tabIndex = name === tab ? 0 : -1;
      this.els.panels[name].hidden = name !== tab;
    }
    if (tab === 'whatif') this.requestWhatIf();
    if (tab === 'sync') {
      this.renderSync();
      void this.track(this.loadRejected());
      void this.track(
        this.source
          .syncStatus()
          .then((status) => {
            this.sync = status;
            this.renderSync();
          })
          .catch(() => undefined),
      );
    }
  }

  private async loadRejected(): Promise<void> {
    const source = this.source;
    const list = this.els.rejectedList;
    try {
      const rejected = await source.rejected();
      if (source !== this.source) return;
      list.replaceChildren();
      if (rejected.length === 0) list.append(h('li', { class: 'chr-dt-muted', text: 'None.' }));
      for (const record of rejected.slice(-50).reverse()) {
        list.append(
          h(
            'li',
            {},
            h('span', { class: 'chr-dt-badge', attrs: { 'data-status': 'rejected' }, text: 'rejected' }),
            h('strong', { text: record.event.type }),
            h('code', { text: `${record.event.aggregateId} #${record.event.seq}` }),
            h('span', { text: `${record.code}: ${record.reason}` }),
            h('span', { class: 'chr-dt-muted', text: formatDateTime(record.rejectedAt) }),
          ),
        );
      }
    } catch (error) {
      if (source === this.source) list.replaceChildren(h('li', { class: 'chr-dt-error', text: errorText(error) }));
    }
  }

  private renderSync(): void {
    const e = this.els;
    const status = this.sync;
    const state = status?.state ?? 'unknown';
    e.syncDot.dataset.state = state;
    if (!status) setText(e.syncText, 'sync: unknown');
    else if (status.state === 'disabled') setText(e.syncText, `sync off · ${formatCount(status.pending)} pending`);
    else setText(e.syncText, `${status.state} · ${formatCount(status.pending)} pending`);
    // The full view only while it shows (it walks the pending events).
    if (this.tab !== 'sync') return;
    const stat = (label: string, value: string, testid?: string) =>
      h('div', { class: 'chr-dt-stat' }, h('dt', { text: label }), h('dd', { text: value, attrs: testid ? { 'data-testid': testid } : {} }));
    e.syncStats.replaceChildren(
      stat('State', status ? (status.state === 'disabled' ? 'disabled (no server)' : status.state) : '—', 'devtools-sync-state'),
      stat('Server head', status ? formatCount(status.serverHead) : '—', 'devtools-sync-head'),
      stat('Confirmed position', status ? formatCount(status.confirmedPosition) : '—', 'devtools-sync-confirmed'),
      stat('Behind', status ? formatCount(Math.max(0, status.serverHead - status.confirmedPosition)) : '—'),
      stat('Pending', status ? formatCount(status.pending) : '—', 'devtools-sync-pending'),
      stat('Last sync', status?.lastSyncAt ? formatClock(status.lastSyncAt) : '—'),
      stat('Pending ranges', this.pendingRanges(), 'devtools-sync-ranges'),
      stat('This tab', !status || status.state === 'disabled' ? '—' : status.leader ? 'syncs (leader)' : 'standby'),
      ...(status?.progress ? [stat('Catching up', `${formatCount(status.progress.pulled)} / ${formatCount(status.progress.target)}`)] : []),
    );
    e.syncError.hidden = !status?.lastError;
    e.syncError.textContent = status?.lastError ? `Last error: ${status.lastError.code}: ${status.lastError.message}` : '';
    e.outcomeList.replaceChildren();
    if (this.outcomes.length === 0) e.outcomeList.append(h('li', { class: 'chr-dt-muted', text: 'No outcomes yet in this session.' }));
    for (const { at, outcome } of this.outcomes.slice(0, 50)) {
      const detail =
        outcome.status === 'confirmed'
          ? `position ${outcome.position ?? '?'}${outcome.seq !== undefined ? `, seq ${outcome.seq}` : ''}`
          : outcome.status === 'rebased'
            ? `seq ${outcome.previousSeq ?? '?'} → ${outcome.seq ?? '?'}`
            : (outcome.reason ?? '');
      e.outcomeList.append(
        h(
          'li',
          { attrs: { 'data-status': outcome.status } },
          h('span', { class: 'chr-dt-badge', attrs: { 'data-status': outcome.status }, text: outcome.status }),
          h('code', { text: outcome.aggregateId }),
          h('span', { text: detail }),
          h('code', { class: 'chr-dt-muted', text: outcome.id.slice(-12), attrs: { title: outcome.id } }),
          h('span', { class: 'chr-dt-muted', text: formatClock(at) }),
        ),
      );
    }
  }

  /** This client's pending events as clientSeq ranges (what a push sends), from the events listed. */
  private pendingRanges(): string {
    const clientId = this.info?.clientId;
    const seqs: number[] = [];
    for (let i = this.pendingStart; i < this.entries.length; i++) {
      const { meta } = this.entries[i]!.event;
      if (meta.clientId === clientId) seqs.push(meta.clientSeq);
    }
    if (seqs.length === 0) return 'none';
    seqs.sort((a, b) => a - b);
    const ranges: string[] = [];
    let from = seqs[0]!;
    let to = from;
    for (const seq of seqs.slice(1)) {
      if (seq === to + 1) to = seq;
      else {
        ranges.push(from === to ? `${from}` : `${from}–${to}`);
        from = to = seq;
      }
    }
    ranges.push(from === to ? `${from}` : `${from}–${to}`);
    return ranges.length > 4 ? `${ranges.slice(0, 4).join(', ')} +${ranges.length - 4}` : ranges.join(', ');
  }

  // ================================================================ render pieces

  private renderAll(): void {
    this.renderHeader();
    this.renderProgress();
    this.renderCount();
    this.renderTimeline();
    this.renderSkips();
    this.renderSync();
    this.grid.refresh();
  }

  private renderHeader(): void {
    const e = this.els;
    const info = this.info;
    setText(e.storeName, info ? (this.scratch ? `${this.scratch.file} → ${info.name}` : info.name) : '…');
    e.storeName.title = info ? `IndexedDB database ${info.name}, client ${info.clientId}` : '';
    setText(e.modeChip, info ? (info.inWorker ? 'worker' : 'in-process') : '…');
    e.scratchChip.hidden = !this.scratch;
    e.backButton.hidden = !this.scratch;
    this.root.dataset.source = this.scratch ? 'scratch' : 'live';
  }

  private renderTypes(): void {
    const select = this.els.typeSelect;
    const current = select.value;
    const types = [...this.eventTypes].sort();
    select.replaceChildren(h('option', { attrs: { value: '' }, text: 'All types' }), ...types.map((type) => h('option', { attrs: { value: type }, text: type })));
    select.value = current;
  }

  private renderProgress(): void {
    const e = this.els;
    const loaded = this.entries.length;
    this.root.dataset.state = this.loadError ? 'error' : this.loading ? 'loading' : 'ready';
    this.root.dataset.total = String(loaded);
    if (!this.loading) {
      e.progress.hidden = true;
      this.renderEmpty();
      return;
    }
    e.progress.hidden = false;
    const expected = Math.max(this.expected, loaded, 1);
    e.progressBar.max = expected;
    e.progressBar.value = loaded;
    setText(e.progressText, `Loading ${formatCount(loaded)} of ${formatCount(expected)} events…`);
    this.renderCount();
  }

  private renderEmpty(): void {
    const e = this.els;
    const empty = !this.loading && this.filtered.length === 0 && !this.filtering;
    e.empty.hidden = !empty;
    if (empty) e.empty.textContent = this.entries.length === 0 ? 'The log is empty.' : 'No event matches the filters.';
  }

  private renderCount(): void {
    const e = this.els;
    const total = this.entries.length;
    const shown = this.filtered.length;
    setText(e.count, this.hasFilter() ? `${formatCount(shown)} of ${formatCount(total)}` : `${formatCount(total)} events`);
    this.root.dataset.count = String(shown);
    this.grid.element.setAttribute('aria-rowcount', String(shown + 1));
    setText(e.exportLabel, this.hasFilter() ? `Export ${formatCount(shown)}` : 'Export');
    e.exportButton.title = this.hasFilter()
      ? `Download the ${formatCount(shown)} events the filters let through as NDJSON`
      : 'Download the whole log as NDJSON';
    this.renderEmpty();
  }

  private renderTimeline(): void {
    const e = this.els;
    const count = this.filtered.length;
    const traveling = this.travel !== null;
    const { index, exact } = this.travelIndex();
    this.root.classList.toggle('chr-dt-traveling', traveling);
    this.root.dataset.traveling = String(traveling);
    e.slider.max = String(Math.max(1, count));
    e.slider.value = String(traveling ? Math.max(1, index + 1) : Math.max(1, count));
    e.slider.disabled = count === 0;
    e.first.disabled = count === 0 || (traveling && exact && index === 0);
    e.prev.disabled = traveling ? index < 0 || (exact && index === 0) : count < 2;
    e.next.disabled = !traveling || index >= count - 1;
    e.last.disabled = count === 0 || (traveling && exact && index === count - 1);
    e.resume.disabled = !traveling;
    let text: string;
    let where = '';
    if (!traveling) text = `Live · following the head (${formatCount(this.entries.length)} events)`;
    else {
      const logIndex = lastAtOrBefore(this.entries.length, (k) => this.entries[k]!.cursor, this.travel!);
      const entry = this.entries[logIndex];
      if (entry) {
        const what = `${entry.event.type} ${entry.event.aggregateId} #${entry.event.seq}`;
        text = `Event ${formatCount(logIndex + 1)} of ${formatCount(this.entries.length)} · ${what}`;
        where = `event ${formatCount(logIndex + 1)} of ${formatCount(this.entries.length)} (${what})`;
      } else {
        text = 'Before the first event';
        where = 'a place before the first event listed';
      }
    }
    setText(e.position, text);
    e.slider.setAttribute('aria-valuetext', text);
    e.banner.hidden = !traveling;
    if (traveling) {
      const who = this.scratch ? 'the scratch store shows' : "the app's live queries show";
      setText(e.bannerText, `Time travel: ${who} the state as of ${where}. Appends are refused until you resume.`);
    }
  }

  private renderSkips(): void {
    const e = this.els;
    const n = this.skips.size;
    e.whatIfCount.hidden = n === 0;
    e.whatIfCount.textContent = String(n);
    e.clearSkips.hidden = n === 0;
    e.skipList.replaceChildren(
      ...[...this.skips].map(([id, info]) =>
        h(
          'li',
          { class: 'chr-dt-skip-chip' },
          h('span', { text: `${info.type} · ${info.aggregateId} #${info.seq}` }),
          h('button', {
            attrs: { type: 'button', 'aria-label': `Put back ${info.type} ${info.aggregateId} #${info.seq}` },
            text: '×',
            on: {
              click: () => {
                this.skips.delete(id);
                this.grid.refresh();
                this.renderSkips();
                this.requestWhatIf();
              },
            },
          }),
        ),
      ),
    );
  }

  private showStatus(message: string, kind: 'info' | 'error' | 'progress'): void {
    const status = this.els.status;
    status.hidden = false;
    status.dataset.kind = kind;
    status.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    status.textContent = message;
  }

  // ================================================================ export, import

  private async exportLog(): Promise<void> {
    const source = this.source;
    const info = this.info ?? (await source.info());
    const filtered = this.hasFilter();
    const f = this.filter;
    // The engine narrows by type, time and an exact aggregate; the ids listed decide the rest.
    const coarse: LogFilter = {};
    let ids: Set<string> | undefined;
    if (filtered) {
      if (f.type) coarse.types = [f.type];
      if (f.from !== undefined) coarse.fromTime = f.from;
      if (f.to !== undefined) coarse.toTime = f.to + 999;
      if (f.aggregate && this.aggregateIds.has(f.aggregate)) coarse.aggregateIds = [f.aggregate];
      ids = new Set(this.filtered.map((k) => this.entries[k]!.event.id));
    }
    this.showStatus('Exporting…', 'progress');
    const parts: string[] = [];
    try {
      await source.exportLog(coarse, (lines) => {
        for (const line of lines) {
          if (ids && !ids.has((JSON.parse(line) as { id: string }).id)) continue;
          parts.push(`${line}\n`);
        }
      });
    } catch (error) {
      this.showStatus(`Export failed: ${errorText(error)}`, 'error');
      return;
    }
    const filename = `${info.name}${filtered ? '-filtered' : ''}-${stamp()}.ndjson`;
    const blob = new Blob(parts, { type: 'application/x-ndjson' });
    (this.options.download ?? defaultDownload)({ blob, filename, lines: parts.length });
    this.showStatus(`Exported ${formatCount(parts.length)} event${parts.length === 1 ? '' : 's'} to ${filename}.`, 'info');
  }

  private async importFile(file: File): Promise<void> {
    this.showStatus(`Importing ${file.name}…`, 'progress');
    let text: string;
    try {
      text = await file.text();
    } catch (error) {
      this.showStatus(`Could not read ${file.name}: ${errorText(error)}`, 'error');
      return;
    }
    await this.importText(text, file.name);
  }

  private async importText(text: string, label: string): Promise<void> {
    try {
      const { source, result, name } = await this.rootSource.importLog(text);
      if (this.unmounted) {
        await source.dispose();
        return;
      }
      const previous = this.scratch;
      this.scratch = { source, name, file: label };
      this.attach(source);
      if (previous) await previous.source.dispose();
      const n = result.confirmed + result.pending;
      this.showStatus(
        `Imported ${formatCount(n)} event${n === 1 ? '' : 's'} (${formatCount(result.confirmed)} confirmed, ${formatCount(result.pending)} pending) from ${label} into the scratch store ${name}. The live store is untouched.`,
        'info',
      );
    } catch (error) {
      this.showStatus(`Import failed: ${errorText(error)}`, 'error');
    }
  }

  private async backToLive(): Promise<void> {
    const scratch = this.scratch;
    if (!scratch) return;
    this.scratch = null;
    this.attach(this.rootSource);
    this.showStatus(`Closed the scratch store ${scratch.name}.`, 'info');
    await scratch.source.dispose();
  }

  // ================================================================ teardown

  private async unmount(): Promise<void> {
    if (this.unmounted) return;
    this.unmounted = true;
    this.generation++;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.grid.destroy();
    this.root.remove();
    const scratch = this.scratch;
    this.scratch = null;
    try {
      // Leave the app at the head if the panel put it in the past.
      if (this.source === this.rootSource && this.travelSetByPanel && sameCursor(this.travel, this.travelSetByPanel)) {
        await this.rootSource.travel(null).catch(() => undefined);
      }
      if (scratch) await scratch.source.dispose();
      if (this.options.ownsSource) await this.rootSource.dispose();
    } finally {
      this.localEncoder.clear();
    }
  }
}

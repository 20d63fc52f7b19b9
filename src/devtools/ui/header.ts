/**
 * The header: which store (and whether a scratch copy), worker or
 * in-process, the sync summary (opens the Sync tab), Back to live store,
 * Export and Import.
 */
import { exportView } from '../model/filter.ts';
import { syncSummary } from '../model/sync.ts';
import { changed, type PanelContext, type View } from './context.ts';
import { h, icon, ICONS, setText, setTitle } from './dom.ts';

export interface HeaderView extends View {
  readonly element: HTMLElement;
}

/** Files the import accepts. */
const NDJSON_TYPES = '.ndjson,.jsonl,.json,application/x-ndjson,text/plain';

export function createHeader(ctx: PanelContext): HeaderView {
  const { commands } = ctx;
  const storeName = h('span', { class: 'chr-dt-store' });
  const modeChip = h('span', { class: 'chr-dt-chip' });
  const scratchChip = h('span', { class: 'chr-dt-chip chr-dt-chip-scratch', attrs: { hidden: true }, text: 'scratch copy' });
  // Compaction dropped confirmed history before this position: the list and states begin there.
  const historyChip = h('span', { class: 'chr-dt-chip', attrs: { hidden: true, 'data-testid': 'devtools-history-start' } });
  const backButton = h(
    'button',
    {
      class: 'chr-dt-btn',
      attrs: { type: 'button', hidden: true, 'data-testid': 'devtools-back' },
      on: { click: () => commands.backToLive() },
    },
    icon(ICONS.back),
    'Back to live store',
  );
  const syncDot = h('span', { class: 'chr-dt-dot', attrs: { 'aria-hidden': 'true' } });
  const syncText = h('span', { text: 'sync…' });
  const syncButton = h(
    'button',
    {
      class: 'chr-dt-sync-summary',
      attrs: { type: 'button', 'data-testid': 'devtools-sync-summary', title: 'Show sync details' },
      on: { click: () => commands.chooseTab('sync') },
    },
    syncDot,
    syncText,
  );
  const exportLabel = h('span', { text: 'Export' });
  const exportButton = h(
    'button',
    {
      class: 'chr-dt-btn',
      attrs: {
        type: 'button',
        'data-testid': 'devtools-export',
        title: 'Download the events listed (all, or those the filters let through) as NDJSON',
      },
      on: { click: () => commands.exportLog() },
    },
    icon(ICONS.download),
    exportLabel,
  );
  const fileInput = h('input', {
    class: 'chr-dt-sr',
    attrs: { type: 'file', accept: NDJSON_TYPES, tabindex: -1, 'aria-hidden': 'true', 'data-testid': 'devtools-import-file' },
  });
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    fileInput.value = '';
    if (file) commands.importFile(file);
  });
  const importButton = h(
    'button',
    {
      class: 'chr-dt-btn',
      attrs: {
        type: 'button',
        'data-testid': 'devtools-import',
        title: 'Open an NDJSON export in a scratch store (the live store is not touched)',
      },
      on: { click: () => fileInput.click() },
    },
    icon(ICONS.upload),
    'Import',
  );
  const element = h(
    'header',
    { class: 'chr-dt-header' },
    h(
      'div',
      { class: 'chr-dt-title' },
      h('span', { class: 'chr-dt-logo', attrs: { 'aria-hidden': 'true' } }),
      h('h2', { text: 'Chronicle' }),
      storeName,
      modeChip,
      historyChip,
      scratchChip,
    ),
    h('div', { class: 'chr-dt-actions' }, syncButton, backButton, exportButton, importButton, fileInput),
  );

  return {
    element,
    update(state, prev) {
      if (changed(state, prev, (s) => [s.info, s.scratch])) {
        const { info, scratch } = state;
        setText(storeName, info ? (scratch ? `${scratch.file} → ${info.name}` : info.name) : '…');
        setTitle(storeName, info ? `IndexedDB database ${info.name}, client ${info.clientId}` : '');
        setText(modeChip, info ? (info.inWorker ? 'worker' : 'in-process') : '…');
        scratchChip.hidden = !scratch;
        const startsAt = info?.historyStartsAt ?? 1;
        historyChip.hidden = startsAt <= 1;
        setText(historyChip, `history starts at ${startsAt}`);
        historyChip.title = `Compaction dropped confirmed events before position ${startsAt} from this device (the server keeps them)`;
        backButton.hidden = !scratch;
      }
      if (changed(state, prev, (s) => [s.sync])) {
        syncDot.dataset.state = state.sync?.state ?? 'unknown';
        setText(syncText, syncSummary(state));
      }
      if (changed(state, prev, (s) => [s.filter.filter, s.filter.shown])) {
        const view = exportView(state);
        setText(exportLabel, view.label);
        exportButton.title = view.title;
      }
    },
  };
}

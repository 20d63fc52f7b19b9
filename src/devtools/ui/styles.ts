/** The panel's stylesheet: every selector is scoped under .chr-dt, so it can live in any page. */
export const ROW_HEIGHT = 28;

export const STYLES = /* css */ `
.chr-dt {
  --chr-bg: #ffffff; --chr-bg-2: #f6f7f9; --chr-bg-3: #eceff3; --chr-fg: #1d2330; --chr-muted: #5d6676;
  --chr-border: #d8dce3; --chr-accent: #2563d6; --chr-accent-fg: #ffffff; --chr-sel: #dce7fb; --chr-focus: #2563d6;
  --chr-pending: #8f4f00; --chr-pending-bg: #fff0d6; --chr-confirmed: #176b37; --chr-confirmed-bg: #ddf3e5;
  --chr-rebased: #5b35b0; --chr-rebased-bg: #ece4fd; --chr-rejected: #a8261b; --chr-rejected-bg: #fde6e3;
  --chr-added: #176b37; --chr-added-bg: #e6f6ec; --chr-removed: #a8261b; --chr-removed-bg: #fdeceb; --chr-changed: #7a5000; --chr-changed-bg: #fdf3df;
  --chr-string: #a3271b; --chr-number: #1848a8; --chr-key: #7a2f8f; --chr-travel: #b25e00; --chr-travel-bg: #fff4e2;
  --chr-row-h: ${ROW_HEIGHT}px;
  --chr-mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
  container: chr-dt / inline-size;
  box-sizing: border-box; display: flex; flex-direction: column; width: 100%; max-width: 100%; height: 100%; min-height: 480px;
  overflow: hidden; color: var(--chr-fg); background: var(--chr-bg); color-scheme: light;
  font: 12px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, "Helvetica Neue", Arial, sans-serif;
  text-align: left;
}
@media (prefers-color-scheme: dark) {
  .chr-dt:not(.chr-dt-light) { color-scheme: dark;
    --chr-bg: #1a1d23; --chr-bg-2: #21252d; --chr-bg-3: #2a2f39; --chr-fg: #e4e7ec; --chr-muted: #9aa3b3;
    --chr-border: #353b47; --chr-accent: #6a9dff; --chr-accent-fg: #0c1222; --chr-sel: #233757; --chr-focus: #8ab4ff;
    --chr-pending: #ffc27a; --chr-pending-bg: #3b2b14; --chr-confirmed: #7fdca0; --chr-confirmed-bg: #163222;
    --chr-rebased: #c2a8ff; --chr-rebased-bg: #2c2347; --chr-rejected: #ff9c92; --chr-rejected-bg: #401d1b;
    --chr-added: #7fdca0; --chr-added-bg: #17301f; --chr-removed: #ff9c92; --chr-removed-bg: #3a1c1b; --chr-changed: #ffd27f; --chr-changed-bg: #372c14;
    --chr-string: #ff9f8f; --chr-number: #9cc2ff; --chr-key: #e0a3f5; --chr-travel: #ffb45c; --chr-travel-bg: #3a2a14;
  }
}
.chr-dt.chr-dt-dark { color-scheme: dark;
  --chr-bg: #1a1d23; --chr-bg-2: #21252d; --chr-bg-3: #2a2f39; --chr-fg: #e4e7ec; --chr-muted: #9aa3b3;
  --chr-border: #353b47; --chr-accent: #6a9dff; --chr-accent-fg: #0c1222; --chr-sel: #233757; --chr-focus: #8ab4ff;
  --chr-pending: #ffc27a; --chr-pending-bg: #3b2b14; --chr-confirmed: #7fdca0; --chr-confirmed-bg: #163222;
  --chr-rebased: #c2a8ff; --chr-rebased-bg: #2c2347; --chr-rejected: #ff9c92; --chr-rejected-bg: #401d1b;
  --chr-added: #7fdca0; --chr-added-bg: #17301f; --chr-removed: #ff9c92; --chr-removed-bg: #3a1c1b; --chr-changed: #ffd27f; --chr-changed-bg: #372c14;
  --chr-string: #ff9f8f; --chr-number: #9cc2ff; --chr-key: #e0a3f5; --chr-travel: #ffb45c; --chr-travel-bg: #3a2a14;
}
.chr-dt *, .chr-dt *::before, .chr-dt *::after { box-sizing: border-box; }
.chr-dt [hidden] { display: none !important; }
.chr-dt :focus { outline: none; }
.chr-dt :focus-visible { outline: 2px solid var(--chr-focus); outline-offset: 1px; }
.chr-dt button, .chr-dt input, .chr-dt select { font: inherit; color: inherit; }
.chr-dt .chr-dt-sr { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }

/* header */
.chr-dt-header { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; padding: 6px 10px; border-bottom: 1px solid var(--chr-border); background: var(--chr-bg-2); min-width: 0; }
.chr-dt-title { display: flex; align-items: center; gap: 8px; min-width: 0; flex: 1 1 180px; }
.chr-dt-logo { width: 18px; height: 18px; border-radius: 5px; flex: none; background: linear-gradient(135deg, #2563d6, #7c4ddb); box-shadow: inset 0 0 0 1px rgba(255,255,255,.25); }
.chr-dt-title h2 { margin: 0; font-size: 13px; font-weight: 650; white-space: nowrap; }
.chr-dt-store { min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: var(--chr-muted); font-family: var(--chr-mono); font-size: 11px; }
.chr-dt-chip { display: inline-flex; align-items: center; gap: 4px; padding: 1px 7px; border-radius: 999px; font-size: 10.5px; font-weight: 600; white-space: nowrap; background: var(--chr-bg-3); color: var(--chr-muted); }
.chr-dt-chip-scratch { background: var(--chr-rebased-bg); color: var(--chr-rebased); }
.chr-dt-actions { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; min-width: 0; }
.chr-dt-sync-summary { display: inline-flex; align-items: center; gap: 6px; min-width: 0; color: var(--chr-muted); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; background: none; border: 0; padding: 2px 4px; border-radius: 4px; cursor: pointer; }
.chr-dt-sync-summary:hover { background: var(--chr-bg-3); }
.chr-dt-dot { width: 8px; height: 8px; border-radius: 50%; flex: none; background: var(--chr-muted); }
.chr-dt-dot[data-state="online"] { background: #22a55a; }
.chr-dt-dot[data-state="syncing"] { background: #2563d6; }
.chr-dt-dot[data-state="offline"], .chr-dt-dot[data-state="paused"] { background: #d98a00; }
.chr-dt-dot[data-state="error"] { background: #d3392b; }

/* buttons and fields */
.chr-dt-btn { display: inline-flex; align-items: center; justify-content: center; gap: 5px; min-height: 26px; padding: 3px 9px; border: 1px solid var(--chr-border); border-radius: 6px; background: var(--chr-bg); cursor: pointer; white-space: nowrap; }
.chr-dt-btn:hover:not(:disabled) { background: var(--chr-bg-3); }
.chr-dt-btn:disabled { opacity: .45; cursor: default; }
.chr-dt-btn-primary { background: var(--chr-accent); border-color: var(--chr-accent); color: var(--chr-accent-fg); font-weight: 600; }
.chr-dt-btn-primary:hover:not(:disabled) { background: var(--chr-accent); filter: brightness(1.08); }
.chr-dt-icon-btn { width: 28px; padding: 0; }
.chr-dt-link { border: 0; background: none; padding: 0; color: var(--chr-accent); cursor: pointer; text-decoration: underline; font-size: 11px; }
.chr-dt-link:disabled { color: var(--chr-muted); }
.chr-dt-filters { display: flex; flex-wrap: wrap; align-items: flex-end; gap: 6px 8px; padding: 6px 10px; border-bottom: 1px solid var(--chr-border); min-width: 0; }
.chr-dt-field { display: flex; flex-direction: column; gap: 2px; min-width: 0; flex: 1 1 110px; }
.chr-dt-field-wide { flex: 2 1 160px; }
.chr-dt-field > span { font-size: 10.5px; color: var(--chr-muted); font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.chr-dt-field input, .chr-dt-field select { width: 100%; min-width: 0; height: 26px; padding: 2px 6px; border: 1px solid var(--chr-border); border-radius: 6px; background: var(--chr-bg); }
.chr-dt-filter-end { display: flex; align-items: center; gap: 8px; flex: 0 1 auto; min-width: 0; }
.chr-dt-count { color: var(--chr-muted); white-space: nowrap; font-variant-numeric: tabular-nums; }

/* timeline */
.chr-dt-timeline { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 8px; padding: 6px 10px; border-bottom: 1px solid var(--chr-border); min-width: 0; }
.chr-dt-steps { display: flex; gap: 4px; flex: none; }
.chr-dt-slider { flex: 1 1 140px; min-width: 0; width: 100%; accent-color: var(--chr-travel); margin: 0; }
.chr-dt-position { flex: 1 1 100%; order: 5; min-width: 0; color: var(--chr-muted); font-variant-numeric: tabular-nums; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
@container chr-dt (min-width: 720px) { .chr-dt-position { flex: 0 1 260px; order: 0; } }
.chr-dt-traveling .chr-dt-position { color: var(--chr-travel); font-weight: 600; }
.chr-dt-banner { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; padding: 6px 10px; background: var(--chr-travel-bg); color: var(--chr-travel); border-bottom: 1px solid var(--chr-border); font-weight: 500; min-width: 0; }
.chr-dt-banner span { min-width: 0; overflow-wrap: anywhere; flex: 1 1 200px; }
.chr-dt-status { padding: 4px 10px; border-bottom: 1px solid var(--chr-border); min-width: 0; overflow-wrap: anywhere; }
.chr-dt-status[data-kind="error"] { background: var(--chr-rejected-bg); color: var(--chr-rejected); }
.chr-dt-status[data-kind="info"] { background: var(--chr-confirmed-bg); color: var(--chr-confirmed); }
.chr-dt-progress { display: flex; align-items: center; gap: 8px; padding: 4px 10px; border-bottom: 1px solid var(--chr-border); color: var(--chr-muted); min-width: 0; }
.chr-dt-progress progress { flex: 1 1 auto; min-width: 0; height: 6px; }

/* main split */
.chr-dt-main { flex: 1 1 0; min-height: 0; display: grid; grid-template-columns: minmax(0, 11fr) minmax(0, 9fr); }
.chr-dt-log { container: chr-dt-log / inline-size; display: flex; flex-direction: column; min-height: 0; min-width: 0; border-right: 1px solid var(--chr-border); }
.chr-dt-side { display: flex; flex-direction: column; min-height: 0; min-width: 0; }
@container chr-dt (max-width: 719px) {
  .chr-dt-main { display: flex; flex-direction: column; overflow-x: hidden; overflow-y: auto; }
  .chr-dt-log { flex: 0 0 auto; height: 300px; border-right: 0; border-bottom: 1px solid var(--chr-border); }
  .chr-dt-side { flex: 0 0 auto; min-height: auto; }
  .chr-dt-side .chr-dt-tabpanel { overflow: visible; }
}

/* the log grid */
.chr-dt-grid { display: flex; flex-direction: column; flex: 1 1 auto; min-height: 0; min-width: 0; position: relative; }
.chr-dt-grid:focus-visible { outline: 2px solid var(--chr-focus); outline-offset: -2px; }
.chr-dt-scroller { flex: 1 1 auto; min-height: 120px; overflow-x: hidden; overflow-y: auto; position: relative; contain: strict; }
.chr-dt-spacer { position: relative; width: 100%; }
.chr-dt-row, .chr-dt-head-row { display: grid; grid-template-columns: 26px 58px 84px minmax(0, 1.3fr) minmax(0, 1fr) 90px; align-items: center; height: var(--chr-row-h); padding-right: 6px; min-width: 0; }
.chr-dt-head-row { height: 24px; border-bottom: 1px solid var(--chr-border); background: var(--chr-bg-2); color: var(--chr-muted); font-size: 10.5px; font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.chr-dt-row { border-bottom: 1px solid color-mix(in srgb, var(--chr-border) 55%, transparent); cursor: default; user-select: none; }
.chr-dt-row:hover { background: var(--chr-bg-2); }
.chr-dt-row[aria-selected="true"] { background: var(--chr-sel); }
.chr-dt-grid:focus-visible .chr-dt-row[aria-selected="true"] { box-shadow: inset 3px 0 0 var(--chr-focus); }
.chr-dt-row[data-travel="future"] { opacity: .45; }
.chr-dt-row[data-travel="here"] { box-shadow: inset 0 -2px 0 var(--chr-travel); }
.chr-dt-row[data-skipped="true"] .chr-dt-cell-type, .chr-dt-row[data-skipped="true"] .chr-dt-cell-agg { text-decoration: line-through; opacity: .6; }
.chr-dt-cell { min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; padding: 0 4px; }
.chr-dt-cell-skip { display: flex; align-items: center; justify-content: center; padding: 0; }
.chr-dt-cell-skip input { margin: 0; width: 13px; height: 13px; cursor: pointer; }
.chr-dt-cell-index { color: var(--chr-muted); font-variant-numeric: tabular-nums; text-align: right; font-size: 11px; }
.chr-dt-cell-type { font-weight: 600; }
.chr-dt-cell-agg { display: flex; align-items: baseline; font-family: var(--chr-mono); font-size: 11px; }
.chr-dt-agg-id { min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.chr-dt-seq { flex: none; color: var(--chr-muted); margin-left: 4px; }
.chr-dt-cell-time { color: var(--chr-muted); font-family: var(--chr-mono); font-size: 10.5px; text-align: right; }
.chr-dt-badge { display: inline-block; max-width: 100%; overflow: hidden; text-overflow: ellipsis; vertical-align: middle; padding: 0 6px; border-radius: 999px; font-size: 10px; font-weight: 700; line-height: 16px; letter-spacing: .02em; }
.chr-dt-badge[data-status="pending"] { background: var(--chr-pending-bg); color: var(--chr-pending); }
.chr-dt-badge[data-status="confirmed"] { background: var(--chr-confirmed-bg); color: var(--chr-confirmed); }
.chr-dt-badge[data-status="local"] { background: var(--chr-bg-3); color: var(--chr-muted); }
.chr-dt-badge[data-status="rebased"] { background: var(--chr-rebased-bg); color: var(--chr-rebased); }
.chr-dt-badge[data-status="rejected"] { background: var(--chr-rejected-bg); color: var(--chr-rejected); }
.chr-dt-badge[data-status="travel"] { background: var(--chr-travel-bg); color: var(--chr-travel); }
.chr-dt-empty { padding: 24px 16px; color: var(--chr-muted); text-align: center; }
@container chr-dt-log (max-width: 520px) {
  .chr-dt-row, .chr-dt-head-row { grid-template-columns: 26px 74px minmax(0, 1.2fr) minmax(0, 1fr); }
  .chr-dt-cell-index, .chr-dt-cell-time { display: none; }
}

/* side: tabs and detail */
.chr-dt-tabs { display: flex; gap: 2px; padding: 0 8px; border-bottom: 1px solid var(--chr-border); background: var(--chr-bg-2); min-width: 0; overflow-x: auto; flex: none; }
.chr-dt-tab { border: 0; border-bottom: 2px solid transparent; background: none; padding: 7px 10px 5px; cursor: pointer; color: var(--chr-muted); font-weight: 600; white-space: nowrap; }
.chr-dt-tab[aria-selected="true"] { color: var(--chr-fg); border-bottom-color: var(--chr-accent); }
.chr-dt-tab .chr-dt-chip { margin-left: 4px; }
.chr-dt-tabpanel { flex: 1 1 auto; min-height: 0; overflow-y: auto; overflow-x: hidden; padding: 10px; }
.chr-dt-section { margin: 0 0 14px; min-width: 0; }
.chr-dt-section > h3, .chr-dt-pane > h3 { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px; margin: 0 0 6px; font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: .04em; color: var(--chr-muted); }
.chr-dt-section > h3 small, .chr-dt-pane > h3 small { font-weight: 500; text-transform: none; letter-spacing: 0; }
.chr-dt-event-title { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 8px; margin: 0 0 8px; font-size: 14px; font-weight: 700; min-width: 0; overflow-wrap: anywhere; }
.chr-dt-facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 3px 12px; margin: 0 0 12px; }
.chr-dt-facts dt { color: var(--chr-muted); }
.chr-dt-facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; font-family: var(--chr-mono); font-size: 11.5px; }
.chr-dt-states { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 220px), 1fr)); gap: 10px; }
.chr-dt-pane { min-width: 0; border: 1px solid var(--chr-border); border-radius: 8px; padding: 8px; background: var(--chr-bg); }
.chr-dt-pane[aria-busy="true"] > :not(h3) { opacity: .5; }
.chr-dt-muted { color: var(--chr-muted); }
.chr-dt-error { color: var(--chr-rejected); }
.chr-dt-hint { color: var(--chr-muted); margin: 0; overflow-wrap: anywhere; }

/* value trees */
.chr-dt-tree { font-family: var(--chr-mono); font-size: 11.5px; line-height: 1.55; min-width: 0; overflow-wrap: anywhere; }
.chr-dt-tree ul { list-style: none; margin: 0; padding: 0 0 0 14px; }
.chr-dt-node { min-width: 0; }
.chr-dt-line { display: flex; align-items: baseline; min-width: 0; cursor: pointer; border-radius: 3px; }
.chr-dt-line:hover { background: var(--chr-bg-2); }
.chr-dt-leaf { display: flex; align-items: baseline; flex-wrap: wrap; min-width: 0; }
.chr-dt-twisty, .chr-dt-twisty-space { flex: none; width: 14px; height: 14px; padding: 0; border: 0; background: none; color: var(--chr-muted); cursor: pointer; position: relative; top: 2px; }
.chr-dt-twisty::before { content: ""; position: absolute; left: 4px; top: 3px; border: 4px solid transparent; border-left: 5px solid currentColor; border-right: 0; transition: transform .1s; }
.chr-dt-twisty[aria-expanded="true"]::before { transform: rotate(90deg); }
.chr-dt-key { color: var(--chr-key); white-space: pre; }
.chr-dt-key-index { color: var(--chr-muted); }
.chr-dt-punct { color: var(--chr-muted); }
.chr-dt-summary { color: var(--chr-fg); min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.chr-dt-open > .chr-dt-line .chr-dt-summary { color: var(--chr-muted); }
.chr-dt-v-string { color: var(--chr-string); white-space: pre-wrap; overflow-wrap: anywhere; min-width: 0; }
.chr-dt-v-number { color: var(--chr-number); }
.chr-dt-v-boolean { color: var(--chr-rebased); }
.chr-dt-v-null, .chr-dt-v-special { color: var(--chr-muted); font-style: italic; }
.chr-dt-more { padding: 2px 0; }

/* diff */
.chr-dt-diff-list { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 3px; }
.chr-dt-diff-item { display: grid; grid-template-columns: 16px minmax(0, 1fr); gap: 0 6px; padding: 3px 6px; border-radius: 5px; font-family: var(--chr-mono); font-size: 11.5px; min-width: 0; }
.chr-dt-diff-item[data-kind="added"] { background: var(--chr-added-bg); }
.chr-dt-diff-item[data-kind="removed"] { background: var(--chr-removed-bg); }
.chr-dt-diff-item[data-kind="changed"] { background: var(--chr-changed-bg); }
.chr-dt-diff-sign { font-weight: 700; text-align: center; }
.chr-dt-diff-item[data-kind="added"] .chr-dt-diff-sign { color: var(--chr-added); }
.chr-dt-diff-item[data-kind="removed"] .chr-dt-diff-sign { color: var(--chr-removed); }
.chr-dt-diff-item[data-kind="changed"] .chr-dt-diff-sign { color: var(--chr-changed); }
.chr-dt-diff-path { font-weight: 600; overflow-wrap: anywhere; min-width: 0; }
.chr-dt-diff-values { grid-column: 2; display: flex; flex-wrap: wrap; align-items: baseline; gap: 2px 6px; min-width: 0; }
.chr-dt-diff-values > * { min-width: 0; max-width: 100%; }
.chr-dt-diff-old { text-decoration: line-through; opacity: .75; }
.chr-dt-arrow { color: var(--chr-muted); }

/* what-if and sync */
.chr-dt-skips { display: flex; flex-wrap: wrap; gap: 4px; margin: 0 0 10px; padding: 0; list-style: none; }
.chr-dt-skip-chip { display: inline-flex; align-items: center; gap: 4px; max-width: 100%; padding: 2px 4px 2px 8px; border-radius: 999px; background: var(--chr-bg-3); font-size: 11px; min-width: 0; }
.chr-dt-skip-chip span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; min-width: 0; }
.chr-dt-skip-chip button { border: 0; background: none; cursor: pointer; color: var(--chr-muted); padding: 0 4px; border-radius: 50%; }
.chr-dt-sync-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 130px), 1fr)); gap: 8px; margin: 0 0 14px; }
.chr-dt-stat { border: 1px solid var(--chr-border); border-radius: 8px; padding: 6px 8px; min-width: 0; }
.chr-dt-stat dt { font-size: 10.5px; color: var(--chr-muted); font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.chr-dt-stat dd { margin: 2px 0 0; font-size: 15px; font-weight: 650; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.chr-dt-outcomes { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 4px; }
.chr-dt-outcomes li { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 8px; padding: 4px 6px; border-radius: 6px; background: var(--chr-bg-2); min-width: 0; overflow-wrap: anywhere; }
.chr-dt-outcomes code { font-family: var(--chr-mono); font-size: 11px; min-width: 0; overflow-wrap: anywhere; }
.chr-dt-drop { outline: 2px dashed var(--chr-accent); outline-offset: -6px; }

/* metrics and reactions */
.chr-dt-table-wrap { overflow-x: auto; margin: 6px 0 14px; }
.chr-dt-metrics-table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
.chr-dt-metrics-table th, .chr-dt-metrics-table td { padding: 4px 8px; border-bottom: 1px solid var(--chr-border); text-align: right; white-space: nowrap; }
.chr-dt-metrics-table th:first-child { text-align: left; }
.chr-dt-metrics-table thead th { font-size: 10.5px; color: var(--chr-muted); font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.chr-dt-badge[data-status="caught-up"] { background: var(--chr-confirmed-bg); color: var(--chr-confirmed); }
.chr-dt-badge[data-status="working"] { background: var(--chr-pending-bg); color: var(--chr-pending); }
.chr-dt-badge[data-status="failing"] { background: var(--chr-rejected-bg); color: var(--chr-rejected); }
.chr-dt-badge[data-status="waiting"] { background: var(--chr-pending-bg); color: var(--chr-pending); }
.chr-dt-parked-actions { display: inline-flex; gap: 4px; margin-left: auto; }
`;

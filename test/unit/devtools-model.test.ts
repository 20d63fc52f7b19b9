// The devtools panel's model: its state and transitions, without a DOM or a store.
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../src/core/index.ts';
import type { SyncStatus } from '../../src/client/index.ts';
import type { DevtoolsEntry, SourceInfo } from '../../src/devtools/index.ts';
import { countText, exportPlan, exportView, matcher } from '../../src/devtools/model/filter.ts';
import { emptyText, MAX_AGGREGATE_SAMPLE, progressView } from '../../src/devtools/model/log.ts';
import { reduce } from '../../src/devtools/model/reduce.ts';
import { badge, eventFacts, rowStatus } from '../../src/devtools/model/rows.ts';
import { keyTarget, selectedEntry } from '../../src/devtools/model/selection.ts';
import { initialState, NO_FILTER, type Filter, type PanelAction, type PanelState } from '../../src/devtools/model/state.ts';
import { MAX_OUTCOMES, pendingRanges, syncStats, syncSummary } from '../../src/devtools/model/sync.ts';
import { followTarget, stepTarget, timelineView, travelIndex } from '../../src/devtools/model/travel.ts';
import { skipChips, whatIfView } from '../../src/devtools/model/whatif.ts';

const CLIENT = 'client-1';
let nextSeq = 0;

/** An event of aggregate `aggregateId`; confirmed at `position` (area 0), else pending (area 1). */
function entry(
  aggregateId: string,
  type = 'ItemAdded',
  options: { position?: number; clientSeq?: number; data?: unknown; at?: number } = {},
): DevtoolsEntry {
  nextSeq++;
  const confirmed = options.position !== undefined;
  const event = {
    known: true,
    id: `ev-${nextSeq}`,
    aggregateId,
    aggregateType: 'Order',
    seq: nextSeq,
    type,
    version: 1,
    storedVersion: 1,
    data: options.data ?? { n: nextSeq },
    meta: { occurredAt: options.at ?? 1_700_000_000_000 + nextSeq * 1000, clientId: CLIENT, clientSeq: options.clientSeq ?? nextSeq },
    ...(confirmed ? { position: options.position } : {}),
  } as LogEvent;
  return { event, cursor: { area: confirmed ? 0 : 1, page: 0, index: confirmed ? options.position! : nextSeq } };
}

const info = (over: Partial<SourceInfo> = {}): SourceInfo => ({
  name: 'db',
  clientId: CLIENT,
  inWorker: false,
  pendingEvents: 0,
  confirmedEvents: 0,
  aggregates: [],
  eventTypes: ['OrderPlaced'],
  scratch: false,
  ...over,
});

const syncStatus = (over: Partial<SyncStatus> = {}): SyncStatus => ({
  state: 'online',
  leader: true,
  pending: 0,
  confirmedPosition: 0,
  serverHead: 0,
  lastSyncAt: null,
  lastError: null,
  progress: null,
  ...over,
});

const run = (state: PanelState, ...actions: PanelAction[]) => actions.reduce(reduce, state);

/** A panel attached to a source and loaded with `pending` (and `confirmed`) entries. */
function loaded(pending: DevtoolsEntry[], confirmed: DevtoolsEntry[] = [], sync: SyncStatus | null = syncStatus()): PanelState {
  let state = run(initialState(), { type: 'attached', scratch: null });
  const generation = state.generation;
  state = run(
    state,
    { type: 'loadStarted', generation, info: info(), position: null, sync },
    { type: 'pageRead', generation, area: 'confirmed', entries: confirmed },
    { type: 'pageRead', generation, area: 'pending', entries: pending },
    { type: 'loadFinished', generation },
  );
  return state;
}

/**
 * Runs the filter pass the state asks for, as the panel's runtime does (with the model's matcher unless
 * given one): over the whole log, or over the entries appended from `filter.from`.
 */
function passFilter(state: PanelState, match = matcher(state.filter.filter, state.filter.exact)): PanelState {
  const { from } = state.filter;
  const kept = from > 0 ? state.filter.shown : [];
  const shown = [...kept, ...state.log.entries.flatMap((e, i) => (i >= from && match(e) ? [i] : []))];
  return reduce(state, { type: 'filterPassed', run: state.filter.run, shown });
}

const ids = (state: PanelState) => state.filter.shown.map((k) => state.log.entries[k]!.event.id);
const filter = (over: Partial<Filter>): Filter => ({ ...NO_FILTER, ...over });

describe('devtools model: loading the log', () => {
  it('given pages of both areas, when they arrive, then the log lists confirmed by position and then pending, all shown', () => {
    const c = [entry('o1', 'A', { position: 1 }), entry('o2', 'B', { position: 2 })];
    const p = [entry('o1', 'C'), entry('o3', 'D')];
    const state = loaded(p, c);
    expect(state.log.entries.map((e) => e.event.id)).toEqual([...c, ...p].map((e) => e.event.id));
    expect(state.log.pendingStart).toBe(2);
    expect(ids(state)).toEqual([...c, ...p].map((e) => e.event.id));
    expect(state.log.eventTypes).toEqual(['OrderPlaced', 'A', 'B', 'C', 'D']);
    expect(state.log.aggregateSample).toEqual(['o1', 'o2', 'o3']);
    expect(progressView(state).state).toBe('ready');
  });

  it('given pages of many distinct event types, then each type is listed once, in the order first seen, and a page of known types keeps the list', () => {
    const page = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => entry(`a${from + i}`, `Type${(from + i) % 5000}`));
    let state = loaded(page(0, 2000));
    for (let from = 2000; from < 8000; from += 2000) {
      state = reduce(state, { type: 'pageRead', generation: state.generation, area: 'pending', entries: page(from, 2000) });
    }
    const expected = ['OrderPlaced', ...Array.from({ length: 5000 }, (_, i) => `Type${i}`)];
    expect(state.log.eventTypes).toEqual(expected);
    expect(state.log.aggregateSample).toHaveLength(MAX_AGGREGATE_SAMPLE);
    const before = state.log;
    state = reduce(state, { type: 'pageRead', generation: state.generation, area: 'pending', entries: page(0, 100) });
    expect(state.log.eventTypes).toBe(before.eventTypes);
    expect(state.log.aggregateSample).toBe(before.aggregateSample);
  });

  it('given pending events listed, when a confirmed page arrives, then it goes before them and the whole log is filtered again', () => {
    const p = [entry('o1'), entry('o2')];
    let state = loaded(p);
    const runBefore = state.filter.run;
    const c = [entry('o9', 'ItemAdded', { position: 7 })];
    state = reduce(state, { type: 'pageRead', generation: state.generation, area: 'confirmed', entries: c });
    expect(state.log.entries.map((e) => e.event.id)).toEqual([c[0]!.event.id, p[0]!.event.id, p[1]!.event.id]);
    expect(state.log.lastConfirmed).toEqual(c[0]!.cursor);
    expect(state.filter.running).toBe(true);
    expect(state.filter.run).toBe(runBefore + 1);
    // Until the pass ends, the rows listed are still the same events.
    expect(ids(state)).toEqual(p.map((e) => e.event.id));
    state = passFilter(state);
    expect(ids(state)).toHaveLength(3);
  });

  it('given a page read for the source before an import, when it arrives, then it is dropped', () => {
    const state = loaded([entry('o1')]);
    const next = reduce(state, { type: 'attached', scratch: { name: 'scratch-db', file: 'bug.ndjson' } });
    const stale = reduce(next, { type: 'pageRead', generation: state.generation, area: 'pending', entries: [entry('o2')] });
    expect(stale).toBe(next);
    expect(next.log.entries).toEqual([]);
    expect(next.scratch).toEqual({ name: 'scratch-db', file: 'bug.ndjson' });
  });

  it('given pending events that moved, when the pending area is read again, then it replaces them', () => {
    const c = [entry('o1', 'A', { position: 1 })];
    let state = loaded([entry('o2'), entry('o3')], c);
    state = reduce(state, { type: 'selected', index: 2 });
    const again = [entry('o3')];
    state = reduce(state, { type: 'pendingReloaded', generation: state.generation, entries: again });
    expect(state.log.entries.map((e) => e.event.id)).toEqual([c[0]!.event.id, again[0]!.event.id]);
    // Until the pass ends, only the confirmed rows stay listed (no row points past the log).
    expect(ids(state)).toEqual([c[0]!.event.id]);
    expect(state.selection.index).toBe(-1);
    expect(state.log.lastPending).toEqual(again[0]!.cursor);
    expect(state.filter.running).toBe(true);
  });

  it('says how far loading got, and why the list is empty', () => {
    let state = run(initialState(), { type: 'attached', scratch: null });
    state = reduce(state, {
      type: 'loadStarted',
      generation: state.generation,
      info: info({ pendingEvents: 4 }),
      position: null,
      sync: null,
    });
    state = reduce(state, { type: 'pageRead', generation: state.generation, area: 'pending', entries: [entry('o1')] });
    expect(progressView(state)).toMatchObject({ state: 'loading', loaded: 1, expected: 4, text: 'Loading 1 of 4 events…' });
    expect(emptyText(state)).toBeNull();
    expect(emptyText(loaded([]))).toBe('The log is empty.');
    const failed = reduce(state, { type: 'loadFailed', generation: state.generation, message: 'gone' });
    expect(progressView(failed).state).toBe('error');
    expect(failed.notice).toEqual({ message: 'Could not read the log: gone', kind: 'error' });
  });
});

describe('devtools model: filters', () => {
  it('given a filter naming an aggregate of the log, when it is set, then only that aggregate is listed (not ids containing it)', () => {
    let state = loaded([entry('o1'), entry('o10'), entry('o2')]);
    state = reduce(state, { type: 'filterChanged', filter: filter({ aggregate: 'o1' }) });
    expect(state.filter.exact).toBe(true);
    expect(state.filter.running).toBe(true);
    state = passFilter(state);
    expect(state.filter.shown).toEqual([0]);
    expect(countText(state)).toBe('1 of 3');
    expect(exportView(state)).toEqual({ label: 'Export 1', title: 'Download the 1 events the filters let through as NDJSON' });
  });

  it('given a filter, when new events are appended, then just those are filtered and listed', () => {
    let state = loaded([entry('o1', 'A')]);
    state = passFilter(reduce(state, { type: 'filterChanged', filter: filter({ type: 'B' }) }));
    expect(ids(state)).toEqual([]);
    const added = [entry('o2', 'B'), entry('o3', 'A'), entry('o4', 'B', { data: { note: 'Needle' } })];
    state = reduce(state, { type: 'pageRead', generation: state.generation, area: 'pending', entries: added });
    expect(ids(state)).toEqual([added[0]!.event.id, added[2]!.event.id]);
    state = passFilter(reduce(state, { type: 'filterChanged', filter: filter({ text: 'needle' }) }));
    expect(ids(state)).toEqual([added[2]!.event.id]);
    const more = [entry('o5', 'A', { data: { note: 'a NEEDLE' } }), entry('o6', 'A')];
    // A text filter: the appended entries go to a pass over just them.
    state = passFilter(reduce(state, { type: 'pageRead', generation: state.generation, area: 'pending', entries: more }));
    expect(ids(state)).toEqual([added[2]!.event.id, more[0]!.event.id]);
  });

  it('given a pass under way, when events are appended, then they wait for the pass (which reads to the end)', () => {
    let state = loaded([entry('o1')]);
    state = reduce(state, { type: 'filterChanged', filter: filter({ aggregate: 'o' }) });
    const shownBefore = state.filter.shown;
    state = reduce(state, { type: 'pageRead', generation: state.generation, area: 'pending', entries: [entry('o2')] });
    expect(state.filter.shown).toBe(shownBefore);
    const stale = reduce(state, { type: 'filterPassed', run: state.filter.run - 1, shown: [0] });
    expect(stale).toBe(state);
  });

  it('plans an export: everything without a filter; with one, what the store can narrow plus the ids listed', () => {
    const events = [entry('o1', 'A', { at: 5_000 }), entry('o2', 'A', { at: 9_000 })];
    let state = loaded(events);
    expect(exportPlan(state)).toEqual({ filter: {}, filtered: false });
    state = passFilter(reduce(state, { type: 'filterChanged', filter: filter({ aggregate: 'o2', type: 'A', from: 1_000, to: 9_000 }) }));
    const plan = exportPlan(state);
    expect(plan.filter).toEqual({ types: ['A'], fromTime: 1_000, toTime: 9_999, aggregateIds: ['o2'] });
    expect([...plan.ids!]).toEqual([events[1]!.event.id]);
    expect(plan.filtered).toBe(true);
  });
});

describe('devtools model: selection', () => {
  it('given a listed event selected, when the filter hides it and then lets it through again, then the selection comes back to it', () => {
    const events = [entry('o1'), entry('o2'), entry('o1')];
    let state = reduce(loaded(events), { type: 'selected', index: 1 });
    expect(selectedEntry(state)?.event.id).toBe(events[1]!.event.id);
    state = passFilter(reduce(state, { type: 'filterChanged', filter: filter({ aggregate: 'o1' }) }));
    expect(state.selection.index).toBe(-1);
    expect(selectedEntry(state)).toBeUndefined();
    state = passFilter(reduce(state, { type: 'filterChanged', filter: NO_FILTER }));
    expect(state.selection.index).toBe(1);
    expect(selectedEntry(state)?.event.id).toBe(events[1]!.event.id);
  });

  it('clamps a selection to the list, changes nothing when it stays, and bumps rev when asked to show it again', () => {
    const state = loaded([entry('o1'), entry('o2')]);
    const last = reduce(state, { type: 'selected', index: 99 });
    expect(last.selection.index).toBe(1);
    expect(reduce(last, { type: 'selected', index: 1 })).toBe(last);
    expect(reduce(last, { type: 'selected', index: 1, again: true }).selection.rev).toBe(last.selection.rev + 1);
    expect(reduce(loaded([]), { type: 'selected', index: 0 }).selection.index).toBe(-1);
  });

  it('moves by keys: arrows, pages, Home, End, Enter', () => {
    expect(keyTarget('ArrowDown', -1, 10, 4)).toBe(0);
    expect(keyTarget('ArrowDown', 3, 10, 4)).toBe(4);
    expect(keyTarget('ArrowUp', 3, 10, 4)).toBe(2);
    expect(keyTarget('PageDown', 3, 10, 4)).toBe(7);
    expect(keyTarget('PageUp', 3, 10, 4)).toBe(-1);
    expect(keyTarget('Home', 3, 10, 4)).toBe(0);
    expect(keyTarget('End', 3, 10, 4)).toBe(9);
    expect(keyTarget('Enter', -1, 10, 4)).toBe(0);
    expect(keyTarget('x', 3, 10, 4)).toBeUndefined();
  });
});

describe('devtools model: time travel', () => {
  const events = [entry('o1'), entry('o2'), entry('o3'), entry('o4')];
  const travelTo = (state: PanelState, k: number, byPanel = true) =>
    reduce(state, { type: 'travelled', position: state.log.entries[k]!.cursor, byPanel });

  it('given the panel live, then next goes nowhere, prev to the one before the last, and the timeline follows the head', () => {
    const state = loaded(events);
    expect(stepTarget(state, 'next')).toBeUndefined();
    expect(stepTarget(state, 'prev')).toBe(2);
    expect(stepTarget(state, 'first')).toBe(0);
    expect(stepTarget(state, 'last')).toBe(3);
    const view = timelineView(state);
    expect(view).toMatchObject({
      traveling: false,
      sliderMax: 4,
      sliderValue: 4,
      banner: null,
      text: 'Live · following the head (4 events)',
    });
    expect(view.disabled).toEqual({ slider: false, first: false, prev: false, next: true, last: false, resume: true });
  });

  it('given the store travelled to an event, then the steps move from it and the timeline says where it is', () => {
    const state = travelTo(loaded(events), 1);
    expect(travelIndex(state)).toEqual({ index: 1, exact: true });
    expect(stepTarget(state, 'prev')).toBe(0);
    expect(stepTarget(state, 'next')).toBe(2);
    expect(state.travelSetByPanel).toEqual(events[1]!.cursor);
    const view = timelineView(state);
    expect(view.sliderValue).toBe(2);
    expect(view.text).toBe(`Event 2 of 4 · ItemAdded o2 #${events[1]!.event.seq}`);
    expect(view.banner).toContain("the app's live queries show the state as of event 2 of 4");
    expect(view.disabled.resume).toBe(false);
  });

  it('given a travel position filtered out, then prev goes to the listed event at or before it', () => {
    let state = reduce(loaded(events), { type: 'filterChanged', filter: filter({ aggregate: 'x' }) });
    state = passFilter(state, (e) => e.event.aggregateId !== 'o3');
    state = travelTo(state, 2);
    expect(travelIndex(state)).toEqual({ index: 1, exact: false });
    expect(stepTarget(state, 'prev')).toBe(1);
    expect(stepTarget(state, 'next')).toBe(2);
  });

  it('given the panel moved the live store, when it shows a scratch store and back, then it still knows that travel (unmount resumes it)', () => {
    const live = travelTo(loaded(events), 1);
    let state = reduce(live, { type: 'attached', scratch: { name: 'db-scratch-1', file: 'bug.ndjson' } });
    expect(state.travel).toBeNull();
    expect(state.travelSetByPanel).toEqual(events[1]!.cursor);
    // Travel in the scratch store is not the live store's: the scratch store is deleted on unmount.
    state = reduce(state, { type: 'travelled', position: events[3]!.cursor, byPanel: true });
    expect(state.travelSetByPanel).toEqual(events[1]!.cursor);
    state = reduce(state, { type: 'attached', scratch: null });
    expect(state.travelSetByPanel).toEqual(events[1]!.cursor);
    expect(reduce(state, { type: 'travelled', position: null, byPanel: true }).travelSetByPanel).toBeNull();
  });

  it('given travel started elsewhere, then the panel follows it with its selection, and the same position again changes nothing', () => {
    const state = travelTo(loaded(events), 2, false);
    expect(state.travelSetByPanel).toBeNull();
    expect(followTarget(state)).toBe(2);
    expect(followTarget(reduce(state, { type: 'selected', index: 2 }))).toBeUndefined();
    expect(reduce(state, { type: 'travelled', position: events[2]!.cursor, byPanel: false })).toBe(state);
    const resumed = reduce(state, { type: 'travelled', position: null, byPanel: true });
    expect(resumed.travel).toBeNull();
    expect(timelineView(resumed).traveling).toBe(false);
  });
});

describe('devtools model: what-if', () => {
  it('given events ticked of two aggregates, when one aggregate is selected, then the query leaves out only its own', () => {
    const events = [entry('o1', 'A'), entry('o1', 'B'), entry('o2', 'C'), entry('o1', 'D')];
    let state = loaded(events);
    expect(whatIfView(state).query).toBeNull();
    state = run(
      state,
      { type: 'skipSet', index: 1, skip: true },
      { type: 'skipSet', index: 2, skip: true },
      { type: 'selected', index: 3 },
    );
    const view = whatIfView(state);
    expect(view.intro).toBe('Order o1 at the head, without 1 event. Nothing is written.');
    expect(view.query).toEqual({
      aggregateType: 'Order',
      aggregateId: 'o1',
      until: null,
      skip: [events[1]!.event.id],
      compareTo: { until: null },
    });
    expect(skipChips(state.skips).map((c) => c.text)).toEqual([`B · o1 #${events[1]!.event.seq}`, `C · o2 #${events[2]!.event.seq}`]);
  });

  it('asks as of the travel position while travelling, and puts events back one by one or all at once', () => {
    const events = [entry('o1'), entry('o1')];
    let state = run(loaded(events), { type: 'skipSet', index: 0, skip: true }, { type: 'selected', index: 1 });
    state = reduce(state, { type: 'travelled', position: events[1]!.cursor, byPanel: true });
    expect(whatIfView(state).query?.until).toEqual(events[1]!.cursor);
    expect(whatIfView(state).intro).toContain('as of the time-travel position');
    expect(reduce(state, { type: 'skipRemoved', id: events[0]!.event.id }).skips.size).toBe(0);
    expect(reduce(state, { type: 'skipsCleared' }).skips.size).toBe(0);
    expect(reduce(state, { type: 'skipSet', index: 0, skip: false }).skips.size).toBe(0);
    expect(whatIfView(reduce(state, { type: 'skipsCleared' })).query).toBeNull();
  });
});

describe('devtools model: row status and sync', () => {
  it('given a store that does not sync, then its unconfirmed events are local, not pending', () => {
    const [p] = [entry('o1')];
    const confirmed = entry('o2', 'A', { position: 3 });
    const local = loaded([p!], [confirmed], syncStatus({ state: 'disabled' }));
    expect(rowStatus(local, p!)).toBe('local');
    expect(badge(local, p!)).toMatchObject({ status: 'local', text: 'local' });
    expect(badge(local, confirmed)).toMatchObject({ status: 'confirmed', text: '✓ 3' });
    expect(eventFacts(p!, 1, 'local')).toContainEqual(['Position', 'none (this store does not sync)']);
    expect(syncSummary(local)).toBe('sync off · 0 local');
    expect(syncStats(local).find((s) => s.testid === 'devtools-sync-pending')?.label).toBe('Local (never synced)');
  });

  it('given a store that syncs (or whose status is not known yet), then its unconfirmed events are pending', () => {
    const p = entry('o1');
    expect(rowStatus(loaded([p], [], syncStatus({ state: 'offline' })), p)).toBe('pending');
    expect(rowStatus(loaded([p], [], null), p)).toBe('pending');
    expect(syncSummary(loaded([p], [], null))).toBe('sync: unknown');
  });

  it('given a rebased outcome, then its event is marked rebased (over local), and outcomes are kept newest first, at most 100', () => {
    const events = [entry('o1'), entry('o1')];
    let state = loaded(events, [], syncStatus({ state: 'disabled' }));
    state = reduce(state, {
      type: 'outcomesSeen',
      at: 1,
      outcomes: [{ id: events[1]!.event.id, aggregateId: 'o1', type: 'ItemAdded', status: 'rebased', previousSeq: 2, seq: 3 }],
    });
    expect(rowStatus(state, events[1]!)).toBe('rebased');
    expect(rowStatus(state, events[0]!)).toBe('local');
    expect(state.rejections).toBe(0);
    const many = Array.from({ length: 120 }, (_, i) => ({
      id: `x${i}`,
      aggregateId: 'o9',
      type: 'T',
      status: 'rejected' as const,
      reason: `r${i}`,
    }));
    state = reduce(state, { type: 'outcomesSeen', at: 2, outcomes: many });
    expect(state.outcomes).toHaveLength(MAX_OUTCOMES);
    expect(state.outcomes[0]!.outcome.id).toBe('x119');
    expect(state.rejections).toBe(1);
  });

  it('lists this client’s pending clientSeqs as ranges, and the sync figures', () => {
    const events = [1, 2, 3, 5, 7, 8].map((clientSeq) => entry('o1', 'A', { clientSeq }));
    const state = reduce(loaded(events), { type: 'syncChanged', status: syncStatus({ serverHead: 10, confirmedPosition: 4, pending: 6 }) });
    expect(pendingRanges(state)).toBe('1–3, 5, 7–8');
    const stats = Object.fromEntries(syncStats(state).map((s) => [s.label, s.value]));
    expect(stats).toMatchObject({
      State: 'online',
      Behind: '6',
      Pending: '6',
      'Pending ranges': '1–3, 5, 7–8',
      'This tab': 'syncs (leader)',
    });
    const scattered = loaded([1, 3, 5, 7, 9, 11].map((clientSeq) => entry('o1', 'A', { clientSeq })));
    expect(pendingRanges(scattered)).toBe('1, 3, 5, 7 +2');
  });
});

describe('devtools model: import and the detail tabs', () => {
  it('given a filter, a tab and a notice, when the panel attaches to a scratch store, then they stay and the rest starts over', () => {
    let state = loaded([entry('o1')]);
    state = run(
      state,
      { type: 'filterChanged', filter: filter({ text: 'x' }) },
      { type: 'tabChosen', tab: 'sync' },
      { type: 'skipSet', index: 0, skip: true },
      { type: 'noticed', notice: { message: 'Importing…', kind: 'progress' } },
    );
    const next = reduce(state, { type: 'attached', scratch: { name: 's', file: 'f.ndjson' } });
    expect(next.generation).toBe(state.generation + 1);
    expect(next.filter.filter.text).toBe('x');
    expect(next.tab).toBe('sync');
    expect(next.notice?.kind).toBe('progress');
    expect(next.skips.size).toBe(0);
    expect(next.log.loading).toBe(true);
    expect(next.info).toBeNull();
    const traveling = reduce({ ...next, travel: { area: 1, page: 0, index: 0 } }, { type: 'tabChosen', tab: 'sync' });
    expect(timelineView(traveling).banner).toContain('the scratch store shows');
  });
});

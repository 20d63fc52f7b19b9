// The devtools text filter over appended events: searched by a sliced pass, never inside a dispatch.
import { describe, expect, it, vi } from 'vitest';
import type { DevtoolsEntry } from '../../src/devtools/index.ts';
import { filterSlice, matcher, rowsAppended } from '../../src/devtools/model/filter.ts';
import { reduce } from '../../src/devtools/model/reduce.ts';
import { initialState, NO_FILTER, type PanelAction, type PanelState } from '../../src/devtools/model/state.ts';
import type { PanelCore } from '../../src/devtools/ui/context.ts';
import { runFilterPass } from '../../src/devtools/ui/filter-pass.ts';

let seq = 0;
/** A pending event whose data, when read as JSON (the text filter's haystack), calls `toJSON`. */
function entry(note: string, toJSON = vi.fn(() => ({ note }))): DevtoolsEntry {
  seq++;
  const event = {
    known: true,
    id: `ev-${seq}`,
    aggregateId: `o${seq}`,
    aggregateType: 'Order',
    type: 'Noted',
    version: 1,
    seq,
    data: { toJSON },
    meta: { occurredAt: 1_000, clientId: 'c', clientSeq: seq },
  };
  return { event, cursor: { area: 1, page: 0, index: seq } } as unknown as DevtoolsEntry;
}

/** A panel core over the model alone: what the runtime's filter pass needs. */
function core(start: PanelState): PanelCore & { passes: Promise<unknown>[] } {
  let state = start;
  const passes: Promise<unknown>[] = [];
  const ctx: PanelCore & { passes: Promise<unknown>[] } = {
    uid: 't',
    passes,
    state: () => state,
    dispatch(action: PanelAction) {
      const prev = state;
      state = reduce(state, action);
      if (state.filter.running && state.filter.run !== prev.filter.run) runFilterPass(ctx, state.filter.run);
    },
    source: () => {
      throw new Error('no source in this test');
    },
    track: <T>(work: Promise<T>) => {
      passes.push(work);
      return work;
    },
    unmounted: () => false,
  };
  return ctx;
}

const ids = (state: PanelState) => state.filter.shown.map((k) => state.log.entries[k]!.event.id);

async function settle(ctx: { passes: Promise<unknown>[] }): Promise<void> {
  while (ctx.passes.length > 0) await ctx.passes.shift();
}

describe('devtools text filter over appended events', () => {
  it('given a text filter, when a page is appended, then the dispatch searches none of it and a pass lists the matches', async () => {
    const ctx = core(initialState());
    ctx.dispatch({ type: 'attached', scratch: null });
    const { generation } = ctx.state();
    const first = [entry('a needle'), entry('hay')];
    ctx.dispatch({ type: 'pageRead', generation, area: 'pending', entries: first });
    ctx.dispatch({ type: 'filterChanged', filter: { ...NO_FILTER, text: 'NEEDLE' } });
    await settle(ctx);
    expect(ids(ctx.state())).toEqual([first[0]!.event.id]);

    const spy = vi.fn(() => ({ note: 'another Needle' }));
    const more = [entry('hay'), entry('', spy), entry('needle again')];
    ctx.dispatch({ type: 'pageRead', generation, area: 'pending', entries: more });
    expect(spy).not.toHaveBeenCalled();
    expect(ctx.state().filter).toMatchObject({ running: true, from: 2 });
    expect(ids(ctx.state())).toEqual([first[0]!.event.id]);
    await settle(ctx);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(ctx.state().filter.running).toBe(false);
    expect(ids(ctx.state())).toEqual([first[0]!.event.id, more[1]!.event.id, more[2]!.event.id]);
  });

  it('given a filter without text, when a page is appended, then it is filtered at once, as before', () => {
    let state = reduce(initialState(), { type: 'attached', scratch: null });
    const { generation } = state;
    state = reduce(state, { type: 'filterChanged', filter: { ...NO_FILTER, aggregate: 'o' } });
    state = reduce(state, { type: 'filterPassed', run: state.filter.run, shown: [] });
    const page = [entry('x'), entry('y')];
    state = reduce(state, { type: 'pageRead', generation, area: 'pending', entries: page });
    expect(state.filter.running).toBe(false);
    expect(ids(state)).toEqual(page.map((e) => e.event.id));
  });

  it('given slices whose time is up after each entry, when a pass runs, then it lets the browser in after every entry', async () => {
    const calls = vi.fn(() => ({ note: 'needle' }));
    const entries = [entry('', calls), entry('', calls), entry('', calls)];
    // Each yield notes how many haystacks were read by then; every clock reading is 100 ms after the last.
    const atYields: number[] = [];
    vi.stubGlobal('scheduler', { yield: async () => void atYields.push(calls.mock.calls.length) });
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => (now += 100));
    try {
      const ctx = core(initialState());
      ctx.dispatch({ type: 'attached', scratch: null });
      ctx.dispatch({ type: 'pageRead', generation: ctx.state().generation, area: 'pending', entries });
      ctx.dispatch({ type: 'filterChanged', filter: { ...NO_FILTER, text: 'needle' } });
      await settle(ctx);
      expect(ids(ctx.state())).toEqual(entries.map((e) => e.event.id));
      expect(atYields).toEqual([0, 1, 2]);
    } finally {
      vi.restoreAllMocks();
      vi.unstubAllGlobals();
    }
  });

  it('stops a slice after any entry once its time is up, however few entries it read', () => {
    const entries = [entry('needle'), entry('hay'), entry('needle')];
    const matches = matcher({ ...NO_FILTER, text: 'needle' }, false);
    const shown: number[] = [];
    expect(filterSlice(entries, 0, matches, shown, () => true)).toBe(1);
    expect(filterSlice(entries, 1, matches, shown, () => true)).toBe(2);
    expect(filterSlice(entries, 2, matches, shown, () => false)).toBe(3);
    expect(shown).toEqual([0, 2]);
  });

  it('tells rows appended at the end from a list made anew', () => {
    const base = { filter: NO_FILTER, exact: false, run: 3 };
    const idle = { ...base, shown: [0], running: false, from: 0 };
    expect(rowsAppended(idle, { ...idle, shown: [0, 1] })).toBe(true);
    const appending = { ...base, shown: [0], running: true, from: 1 };
    expect(rowsAppended(appending, { ...appending, shown: [0, 1], running: false })).toBe(true);
    const whole = { ...base, shown: [0], running: true, from: 0 };
    expect(rowsAppended(whole, { ...whole, shown: [0, 1], running: false })).toBe(false);
    expect(rowsAppended(idle, { ...idle, run: 4, shown: [0, 1] })).toBe(false);
  });
});

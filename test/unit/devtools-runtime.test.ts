// The devtools panel's runtime pieces that need no DOM: the state dispatcher and the activity counter.
import { describe, expect, it } from 'vitest';
import { initialState, type PanelState } from '../../src/devtools/model/state.ts';
import { createActivity } from '../../src/devtools/ui/activity.ts';
import { createDispatcher } from '../../src/devtools/ui/dispatcher.ts';

describe('devtools dispatcher', () => {
  it('given a listener that dispatches, when an action comes, then every listener sees the states in order', () => {
    const dispatcher = createDispatcher(initialState());
    const seen: string[] = [];
    dispatcher.listen((state, prev) => {
      seen.push(`first ${prev.tab}→${state.tab}`);
      if (state.tab === 'whatif') dispatcher.dispatch({ type: 'tabChosen', tab: 'sync' });
    });
    dispatcher.listen((state, prev) => seen.push(`second ${prev.tab}→${state.tab} (now ${dispatcher.state().tab})`));
    dispatcher.dispatch({ type: 'tabChosen', tab: 'whatif' });
    expect(seen).toEqual(['first event→whatif', 'second event→whatif (now whatif)', 'first whatif→sync', 'second whatif→sync (now sync)']);
    expect(dispatcher.state().tab).toBe('sync');
  });

  it('tells no one when an action changes nothing', () => {
    const dispatcher = createDispatcher(initialState());
    const seen: PanelState[] = [];
    dispatcher.listen((state) => seen.push(state));
    dispatcher.dispatch({ type: 'tabChosen', tab: 'event' });
    dispatcher.dispatch({ type: 'skipsCleared' });
    expect(seen).toEqual([]);
  });
});

describe('devtools activity', () => {
  it('given tracked work, then idle waits for it and for work its end started, and says busy meanwhile', async () => {
    const busy: boolean[] = [];
    const activity = createActivity((b) => busy.push(b));
    const order: string[] = [];
    let finish!: () => void;
    const first = new Promise<void>((resolve) => (finish = resolve));
    void activity.track(first).then(() => {
      // Work that finishing work starts counts too.
      void activity.track(Promise.resolve().then(() => order.push('follow-up')));
    });
    const idle = activity.idle().then(() => order.push('idle'));
    await Promise.resolve();
    expect(order).toEqual([]);
    finish();
    await idle;
    expect(order).toEqual(['follow-up', 'idle']);
    expect(busy[0]).toBe(true);
    expect(busy[busy.length - 1]).toBe(false);
  });

  it('is idle at once when nothing is tracked, and a failed work still ends', async () => {
    const activity = createActivity(() => undefined);
    await activity.idle();
    const failing = activity.track(Promise.reject(new Error('no')));
    await expect(failing).rejects.toThrow('no');
    await activity.idle();
  });
});

/**
 * Holds the panel's state: `dispatch` runs the reducer and tells every
 * listener (views, then effects) the new state and the one before. An action
 * dispatched while listeners run waits until they are done, so every
 * listener sees the states in order.
 */
import { reduce } from '../model/reduce.ts';
import type { PanelAction, PanelState } from '../model/state.ts';

export type StateListener = (state: PanelState, prev: PanelState) => void;

export interface Dispatcher {
  state(): PanelState;
  dispatch(action: PanelAction): void;
  listen(listener: StateListener): void;
}

export function createDispatcher(initial: PanelState): Dispatcher {
  let state = initial;
  const listeners: StateListener[] = [];
  const queue: PanelAction[] = [];
  let draining = false;
  return {
    state: () => state,
    dispatch(action) {
      queue.push(action);
      if (draining) return;
      draining = true;
      try {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const prev = state;
          state = reduce(state, next);
          if (state !== prev) for (const listener of listeners) listener(state, prev);
        }
      } finally {
        draining = false;
        queue.length = 0;
      }
    },
    listen(listener) {
      listeners.push(listener);
    },
  };
}

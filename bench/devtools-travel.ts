/**
 * devtools-travel-long-task: the devtools panel's time travel and selection
 * over long aggregates, the work the panel does on the app's thread (the
 * state before and after the selected event, and at the travel point, folded
 * from the start of the stream: snapshots are not used for inspection). A
 * store of 50,000 events in two aggregates of 25,000 each, interleaved; the
 * panel shows it, a row is selected, then the timeline travels to the middle,
 * to the first event, one step on, and back to the end. Reported: the
 * longest task on the page's thread meanwhile, against the same budget as
 * the scale check (issue 12: none over 200 ms).
 */
import { openStore } from '../src/client/index.ts';
import { mountDevtools } from '../src/devtools/index.ts';
import { serverLogPages } from './data.ts';
import { model, Order } from './model.ts';
import { deleteDatabase, pause, watchLongTasks } from './scale.ts';

const AGGREGATES = 2;
const PER_AGGREGATE = 25_000;
const PAGE = 1000;

export interface TravelRun {
  events: number;
  /** From the selection to the panel idle at the end of the last step. */
  travelMs: number;
  /** The longest task on the page's thread meanwhile (0: none over 50 ms). */
  longestTaskMs: number;
  steps: number;
}

const now = (): number => performance.now();

export async function devtoolsTravel(name: string): Promise<TravelRun> {
  await deleteDatabase(name);
  const store = await openStore({ name, ...model });
  const element = document.createElement('div');
  try {
    for (const page of serverLogPages(AGGREGATES, PER_AGGREGATE, PAGE)) await store.importConfirmed(page);
    while ((await store.info()).unindexedEvents > 0) await pause(100);
    element.style.cssText = 'width:1100px;height:720px;position:relative;';
    document.body.append(element);
    const panel = mountDevtools(store, element, { aggregates: [Order] });
    await panel.idle();
    const root = element.querySelector<HTMLElement>('[data-testid="chronicle-devtools"]')!;
    const events = Number(root.dataset.total);
    if (events !== AGGREGATES * PER_AGGREGATE) throw new Error(`devtools-travel: the panel shows ${events} events`);
    const slider = root.querySelector<HTMLInputElement>('[data-testid="devtools-slider"]')!;
    const button = (id: string) => root.querySelector<HTMLButtonElement>(`[data-testid="devtools-${id}"]`)!;
    const steps: (() => void)[] = [
      () => root.querySelectorAll<HTMLElement>('[data-testid="devtools-row"]')[3]!.click(),
      () => {
        slider.value = String(Math.round(events / 2));
        slider.dispatchEvent(new Event('input', { bubbles: true }));
      },
      () => button('first').click(),
      () => button('next').click(),
      () => button('last').click(),
    ];
    await pause(300);
    const tasks = watchLongTasks();
    const start = now();
    try {
      for (const step of steps) {
        step();
        await panel.idle();
      }
      const end = now();
      await pause(100); // long tasks are reported a little after they end
      return { events, travelMs: Math.round(end - start), longestTaskMs: tasks.longestIn(start, end), steps: steps.length };
    } finally {
      tasks.stop();
      await panel.unmount();
    }
  } finally {
    element.remove();
    await store.close();
    await deleteDatabase(name);
  }
}

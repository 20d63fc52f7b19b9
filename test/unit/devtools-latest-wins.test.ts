// The devtools' latest-wins request loop: one run at a time, the newest request next.
import { describe, expect, it } from 'vitest';
import { latestWins } from '../../src/devtools/latest-wins.ts';

/** A run whose end the test decides. */
function controlled<T>() {
  const started: T[] = [];
  const finishers: (() => void)[] = [];
  const run = (value: T) =>
    new Promise<void>((resolve) => {
      started.push(value);
      finishers.push(resolve);
    });
  /** Ends the oldest run still going and lets the loop move on. */
  const finish = async () => {
    finishers.shift()!();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { run, started, finish };
}

describe('latestWins', () => {
  it('given a run under way, when three requests come in, then only the newest runs after it', async () => {
    const { run, started, finish } = controlled<string>();
    const loop = latestWins(run);
    loop.request('a');
    expect(started).toEqual(['a']);
    loop.request('b');
    loop.request('c');
    loop.request('d');
    expect(started).toEqual(['a']);
    await finish();
    expect(started).toEqual(['a', 'd']);
    await finish();
    expect(started).toEqual(['a', 'd']);
    expect(loop.running).toBe(false);
  });

  it('given a waiting request, when a newer one comes in, then merge combines them', async () => {
    const { run, started, finish } = controlled<{ reorder: boolean }>();
    const loop = latestWins(run, { merge: (a, b) => ({ reorder: a.reorder || b.reorder }) });
    loop.request({ reorder: false });
    loop.request({ reorder: true });
    loop.request({ reorder: false });
    await finish();
    expect(started).toEqual([{ reorder: false }, { reorder: true }]);
  });

  it('says a run is superseded while a newer request waits', async () => {
    const seen: boolean[] = [];
    const { run, finish } = controlled<number>();
    const loop = latestWins(async (value: number) => {
      await run(value);
      seen.push(loop.superseded);
    });
    loop.request(1);
    expect(loop.superseded).toBe(false);
    loop.request(2);
    expect(loop.superseded).toBe(true);
    await finish();
    await finish();
    expect(seen).toEqual([true, false]);
  });

  it('given hold, when requests come in, then none runs until flush after hold lets go', async () => {
    const { run, started, finish } = controlled<number>();
    let held = true;
    const loop = latestWins(run, { hold: () => held });
    loop.request(1);
    loop.request(2);
    expect(started).toEqual([]);
    loop.flush();
    expect(started).toEqual([]);
    held = false;
    loop.flush();
    expect(started).toEqual([2]);
    await finish();
  });

  it('stops between runs when hold turns on, keeping the waiting request', async () => {
    const { run, started, finish } = controlled<number>();
    let held = false;
    const loop = latestWins(run, { hold: () => held });
    loop.request(1);
    loop.request(2);
    held = true;
    await finish();
    expect(started).toEqual([1]);
    expect(loop.running).toBe(false);
    expect(loop.superseded).toBe(true);
    held = false;
    loop.flush();
    expect(started).toEqual([1, 2]);
    await finish();
  });

  it('drop forgets the waiting request but lets the run under way finish', async () => {
    const { run, started, finish } = controlled<number>();
    const loop = latestWins(run);
    loop.request(1);
    loop.request(2);
    loop.drop();
    expect(loop.superseded).toBe(false);
    await finish();
    expect(started).toEqual([1]);
    expect(loop.running).toBe(false);
  });

  it('given a run that throws, then onError hears it and a later request runs again', async () => {
    const errors: unknown[] = [];
    const values: number[] = [];
    const loop = latestWins(
      async (value: number) => {
        values.push(value);
        if (value === 1) throw new Error('boom');
      },
      { onError: (error) => errors.push(error) },
    );
    loop.request(1);
    await Promise.resolve();
    await Promise.resolve();
    expect(errors).toEqual([new Error('boom')]);
    expect(loop.running).toBe(false);
    loop.request(2);
    await Promise.resolve();
    expect(values).toEqual([1, 2]);
  });

  it('tracks one stretch of runs per burst, settled when nothing waits', async () => {
    const { run, finish } = controlled<number>();
    const stretches: Promise<void>[] = [];
    let settled = 0;
    const loop = latestWins(run, {
      track: (work) => {
        stretches.push(work);
        void work.then(() => settled++);
      },
    });
    loop.request(1);
    loop.request(2);
    expect(stretches).toHaveLength(1);
    await finish();
    expect(settled).toBe(0);
    await finish();
    expect(settled).toBe(1);
    loop.request(3);
    expect(stretches).toHaveLength(2);
    await finish();
    expect(settled).toBe(2);
  });
});

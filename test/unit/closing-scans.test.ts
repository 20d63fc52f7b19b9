import { describe, expect, it } from 'vitest';
import { StoreClosedError } from '../../src/core/errors.ts';
import type { LogScanSession } from '../../src/client/call-client.ts';
import { guardConnection } from '../../src/client/closing.ts';
import type { EngineConnection } from '../../src/client/connection.ts';
import type { LogPageQuery, LogPageResult } from '../../worker/contract.ts';

/** A worker-mode connection whose scans answer `steps` in turn, then never again (a terminated worker). */
function workerConnection(steps: LogPageResult[]) {
  const opened: LogPageQuery[] = [];
  const closed: number[] = [];
  const connection: EngineConnection = {
    engine: {} as EngineConnection['engine'],
    inWorker: true,
    openScan(query): LogScanSession {
      const id = opened.push(query);
      let at = 0;
      return {
        next: () => (at < steps.length ? Promise.resolve(steps[at++]!) : new Promise<LogPageResult>(() => undefined)),
        close: () => void closed.push(id),
      };
    },
    subscribe: async () => () => undefined,
    callable: (functions) => functions,
    close: async () => undefined,
  };
  return { connection, opened, closed };
}

const step = (end: boolean): LogPageResult => ({ pages: [{ area: 0, page: 1, count: 1, json: '[{}]' }], end, historyStartsAt: 1 });

describe("the store's guarded connection and log scans", () => {
  it('passes scans on to the engine (a worker engine walks them itself)', async () => {
    const inner = workerConnection([step(false), step(true)]);
    const { connection } = guardConnection(inner.connection, 'shop');
    expect(connection.openScan).toBeTypeOf('function');
    const scan = connection.openScan!({ fromTime: 5 });
    await expect(scan.next()).resolves.toMatchObject({ end: false });
    await expect(scan.next()).resolves.toMatchObject({ end: true });
    scan.close();
    expect(inner.opened).toEqual([{ fromTime: 5 }]);
    expect(inner.closed).toEqual([1]);
  });

  it('a scan step in flight at close, and every step after it, rejects with StoreClosedError instead of hanging', async () => {
    const inner = workerConnection([]);
    const guard = guardConnection(inner.connection, 'shop');
    const scan = guard.connection.openScan!({});
    const waiting = scan.next();
    guard.shut();
    await expect(waiting).rejects.toBeInstanceOf(StoreClosedError);
    await expect(scan.next()).rejects.toBeInstanceOf(StoreClosedError);
  });

  it('an in-process connection has no scans to pass on', () => {
    const { openScan, ...inProcess } = workerConnection([]).connection;
    expect(openScan).toBeTypeOf('function');
    const { connection } = guardConnection({ ...inProcess, inWorker: false }, 'shop');
    expect(connection.openScan).toBeUndefined();
  });
});

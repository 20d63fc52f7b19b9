import { expect, it } from 'vitest';
import { SyncError } from '../../src/server/errors.ts';
import { createLogKnowledge } from '../../src/server/store/log-knowledge.ts';
import { createPushPipeline, DEFAULT_WRITES_IN_FLIGHT } from '../../src/server/store/push-pipeline.ts';
import { SCHEMA_VERSION } from '../../src/server/store/schema.ts';
import type { SqlDriver, SqlExecutor } from '../../src/server/store/sql-driver.ts';
import { LOCK_LOG_SQL, READ_SQL } from '../../src/server/store/statements.ts';
import type { PushResult } from '../../src/server/store/types.ts';
import { writeStatement } from '../../src/server/store/write-statement.ts';
import { makePush, TestClient } from '../server/helpers.ts';

/**
 * A push whose write keeps running into a bounded lock wait (other writes
 * keep taking the rows it needs) gives up after a bounded number of attempts
 * with 503 UNAVAILABLE, which a client retries: the database is busy, the
 * push is not wrong. Before, it ended in a plain Error, which the server
 * answers with 500. A scripted driver stands in for the database: an empty
 * log whose every write fails with lock_not_available (55P03).
 */

function busyDatabase(): { driver: SqlDriver; writes: () => number } {
  let writes = 0;
  const executor: SqlExecutor = {
    async query<R extends object>(text: string): Promise<R[]> {
      if (text === READ_SQL) return [{ k: 'h', a: null, n: 0, id: null, p: null }] as R[];
      if (text === LOCK_LOG_SQL) return [{ head: 0, move_state: null, move_peer: null }] as R[];
      // The write (which reads the schema version too): every one runs out of its bounded lock wait.
      if (text.includes('INSERT INTO chronicle_pages')) {
        writes++;
        throw Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' });
      }
      if (text.includes('FROM chronicle_schema')) return [{ version: SCHEMA_VERSION }] as R[];
      return [];
    },
  };
  const driver: SqlDriver = {
    ...executor,
    transaction: (fn) => fn(executor),
    exec: async () => undefined,
    close: async () => undefined,
  };
  return { driver, writes: () => writes };
}

it('a push that keeps waiting for its log locks gets 503 UNAVAILABLE (store-timeout), not a plain error', async () => {
  const { driver, writes } = busyDatabase();
  const pipeline = createPushPipeline({
    driver,
    ordered: driver,
    statement: writeStatement(),
    knowledge: createLogKnowledge(),
    maxBatchEvents: 5000,
    maxFlights: DEFAULT_WRITES_IN_FLIGHT,
    emitHead: () => undefined,
    explain: async (error) => error,
  });
  const push = new TestClient('till-1').next(['order-1']);
  const outcome = await new Promise<PushResult | unknown>((resolve) => {
    pipeline.push('orders', {
      push: makePush(push.clientId, push.from, push.events),
      json: push.events.map((e) => JSON.stringify(e)),
      deadline: undefined,
      resolve,
      reject: resolve,
    });
  });
  expect(outcome).toBeInstanceOf(SyncError);
  expect(outcome).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'store-timeout', attempts: 20 } });
  // The fast write, then every attempt under the log's lock.
  expect(writes()).toBe(21);
}, 30_000);

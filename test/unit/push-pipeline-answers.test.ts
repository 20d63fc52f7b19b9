import { describe, expect, it } from 'vitest';
import { createLogKnowledge } from '../../src/server/store/log-knowledge.ts';
import { createPushPipeline } from '../../src/server/store/push-pipeline.ts';
import type { OrderedExecutor, SqlDriver } from '../../src/server/store/sql-driver.ts';
import { INSERT_LOG_SQL, READ_SQL } from '../../src/server/store/statements.ts';
import { writeStatement } from '../../src/server/store/write-statement.ts';
import { TestClient } from '../server/helpers.ts';
import type { PushRequest } from '../../src/core/protocol.ts';

/**
 * With one write in flight, the pushes of a write that succeeded are answered
 * once the next write is on its connection, so that the database does not
 * wait while the server replies to them; and before anything else the next
 * batch waits for (a read of the log). A scripted database stands in: every
 * step it takes goes into `steps`, and each write is answered only when the
 * test says so.
 */
function scriptedDatabase(options: { connectionWaitMs?: number } = {}) {
  const steps: string[] = [];
  const writes: { answer: () => void }[] = [];
  /** The log as the last write answered left it: its head ($18) and write id ($20). */
  let log: { head: number; writeId: string } | undefined;
  const driver: SqlDriver = {
    async query<R extends object>(text: string): Promise<R[]> {
      if (text === READ_SQL) {
        steps.push('read');
        // The log's row once it was written to (no rows: never pushed to); nothing else is stored for these tills.
        return (log ? [{ k: 'h', a: null, n: log.head, id: log.writeId, p: null }] : []) as R[];
      }
      if (text === INSERT_LOG_SQL) return [];
      throw new Error(`unexpected statement: ${text.slice(0, 80)}`);
    },
    transaction: () => Promise.reject(new Error('the slow path is not expected here')),
    exec: async () => undefined,
    close: async () => undefined,
  };
  const ordered: OrderedExecutor = {
    query<R extends object>(_text: string, params: readonly unknown[], _name: string | undefined, onSent: () => void): Promise<R[]> {
      const n = writes.length + 1;
      const send = (): void => {
        steps.push(`write ${n} sent`);
        onSent();
      };
      // A busy pool: the write waits for a connection before it is sent.
      if (options.connectionWaitMs) setTimeout(send, options.connectionWaitMs);
      else send();
      // The counts the write statement returns when it wrote everything: ids ($3), heads ($8), ranges ($10).
      const count = (index: number): number => (JSON.parse(params[index] as string) as unknown[]).length;
      const row = { n: count(2), l: 1, h: count(7), g: count(9) };
      const written = { head: params[17] as number, writeId: params[19] as string };
      return new Promise<R[]>((resolve) =>
        writes.push({
          answer: () => {
            log = written;
            resolve([row] as unknown as R[]);
          },
        }),
      );
    },
  };
  return { driver, ordered, steps, writes };
}

function pipelineOn(database: ReturnType<typeof scriptedDatabase>) {
  return createPushPipeline({
    driver: database.driver,
    ordered: database.ordered,
    statement: writeStatement(),
    knowledge: createLogKnowledge(),
    maxBatchEvents: 5000,
    maxFlights: 1,
    emitHead: (_log, head) => database.steps.push(`head ${head}`),
    explain: async (error) => error,
  });
}

/** Queues a push; its answer goes into `steps` as "push N answered". */
function push(
  pipeline: ReturnType<typeof pipelineOn>,
  steps: string[],
  name: string,
  request: PushRequest,
  deadline?: number,
): Promise<unknown> {
  return new Promise((resolve) => {
    pipeline.push('orders', {
      push: request,
      json: request.events.map((e) => JSON.stringify(e)),
      deadline,
      resolve: (result) => {
        steps.push(`${name} answered`);
        resolve(result);
      },
      reject: (error) => {
        steps.push(`${name} refused`);
        resolve(error);
      },
    });
  });
}

const settled = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('the push pipeline answers a written batch once the next write is on its way', () => {
  it('the next write is sent before the pushes of the write before it are answered', async () => {
    const database = scriptedDatabase();
    const pipeline = pipelineOn(database);
    const till = new TestClient('till-1');
    const first = push(pipeline, database.steps, 'push 1', till.next(['order-1', 'order-2']));
    await settled();
    // While write 1 runs, the till's next push arrives: it is judged behind write 1 from what is known.
    const second = push(pipeline, database.steps, 'push 2', till.next(['order-1']));
    await settled();
    expect(database.steps).toEqual(['read', 'write 1 sent']);

    database.writes[0]!.answer();
    await settled();
    expect(database.steps).toEqual(['read', 'write 1 sent', 'write 2 sent', 'push 1 answered', 'head 2']);

    database.writes[1]!.answer();
    await expect(first).resolves.toMatchObject({ appended: 2, head: 2 });
    await expect(second).resolves.toMatchObject({ appended: 1, head: 3 });
    // Nothing waits behind write 2: its push is answered as soon as it is written.
    expect(database.steps.slice(5)).toEqual(['push 2 answered', 'head 3']);
  });

  it('a next batch that must read the log first does not hold the answers during the read', async () => {
    const database = scriptedDatabase();
    const pipeline = pipelineOn(database);
    const first = push(pipeline, database.steps, 'push 1', new TestClient('till-1').next(['order-1']));
    await settled();
    // Another till, which this process knows nothing of: its batch needs a read.
    const second = push(pipeline, database.steps, 'push 2', new TestClient('till-2').next(['order-9']));
    await settled();
    database.writes[0]!.answer();
    await settled();
    expect(database.steps).toEqual(['read', 'write 1 sent', 'push 1 answered', 'head 1', 'read', 'write 2 sent']);
    database.writes[1]!.answer();
    await expect(first).resolves.toMatchObject({ appended: 1, head: 1 });
    await expect(second).resolves.toMatchObject({ appended: 1, head: 2 });
  });

  it('a next write that waits for a connection does not hold the answers', async () => {
    const database = scriptedDatabase({ connectionWaitMs: 50 });
    const pipeline = pipelineOn(database);
    const till = new TestClient('till-1');
    const first = push(pipeline, database.steps, 'push 1', till.next(['order-1']));
    await new Promise((resolve) => setTimeout(resolve, 80));
    const second = push(pipeline, database.steps, 'push 2', till.next(['order-1']));
    await settled();
    database.writes[0]!.answer();
    await expect(first).resolves.toMatchObject({ appended: 1, head: 1 });
    expect(database.steps).toEqual(['read', 'write 1 sent', 'push 1 answered', 'head 1']);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(database.steps.at(-1)).toBe('write 2 sent');
    database.writes[1]!.answer();
    await expect(second).resolves.toMatchObject({ appended: 1, head: 2 });
  });

  it('a push whose caller stopped waiting is refused after the written pushes before it are answered', async () => {
    const database = scriptedDatabase();
    const pipeline = pipelineOn(database);
    const till = new TestClient('till-1');
    const first = push(pipeline, database.steps, 'push 1', till.next(['order-1']));
    await settled();
    // Its caller gives up before write 1 is answered; the push queued after it is still wanted.
    const gaveUp = push(pipeline, database.steps, 'push 2', new TestClient('till-2').next(['order-9']), Date.now() + 5);
    const third = push(pipeline, database.steps, 'push 3', till.next(['order-1']));
    await settled();
    database.writes[0]!.answer();
    await settled();
    expect(database.steps).toEqual(['read', 'write 1 sent', 'push 1 answered', 'head 1', 'push 2 refused', 'write 2 sent']);
    database.writes[1]!.answer();
    await expect(first).resolves.toMatchObject({ appended: 1, head: 1 });
    await expect(gaveUp).resolves.toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'store-timeout' } });
    await expect(third).resolves.toMatchObject({ appended: 1, head: 2 });
  });

  it('a push that arrives while nothing is in flight is answered when its own write is written', async () => {
    const database = scriptedDatabase();
    const pipeline = pipelineOn(database);
    const only = push(pipeline, database.steps, 'push 1', new TestClient('till-1').next(['order-1']));
    await settled();
    database.writes[0]!.answer();
    await expect(only).resolves.toMatchObject({ appended: 1, head: 1 });
    expect(database.steps).toEqual(['read', 'write 1 sent', 'push 1 answered', 'head 1']);
  });
});

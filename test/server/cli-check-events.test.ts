import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, killChildren, startChildServer } from './child-server.ts';
import { errorOf, freshLog, httpPush, makeEvent, makePush } from './helpers.ts';

/** `chronicle-server --check-events <module>`: the CLI's way to createSyncServer's checkEvents. */

const run = promisify(execFile);
const fixture = (name: string): string => resolve(import.meta.dirname, 'fixtures', name);
afterAll(killChildren);

describe('chronicle-server --check-events', () => {
  it("checks pushed data against the module's definitions", async () => {
    const server = await startChildServer(['--memory', '--check-events', fixture('check-events-model.ts')]);
    try {
      const log = freshLog('cli-check');
      const bad = makePush('c1', 1, [
        makeEvent({ clientId: 'c1', clientSeq: 1, aggregateId: 'o1', seq: 1, data: { sku: 'tea', qty: 'lots' } }),
      ]);
      expect(errorOf(await httpPush(server.url, log, bad))).toMatchObject({
        status: 422,
        code: 'INVALID_EVENT',
        details: { field: 'events.0.data.qty' },
      });
      const good = makePush('c1', 1, [
        makeEvent({ clientId: 'c1', clientSeq: 1, aggregateId: 'o1', seq: 1, data: { sku: 'tea', qty: 2 } }),
      ]);
      expect((await httpPush(server.url, log, good)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('refuses to start, exit code 2 and one line, with a module that exports no definitions or cannot load', async () => {
    for (const [module, said] of [
      [fixture('check-events-nothing.ts'), /exports neither "events" nor "aggregates"/],
      [fixture('no-such-module.mjs'), /cannot use --check-events .*no-such-module/],
      [fixture('check-events-throws-null.ts'), /cannot use --check-events .*check-events-throws-null\.ts: null/],
    ] as const) {
      const failed = await run(process.execPath, [BIN, '--memory', '--port', '0', '--check-events', module]).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      );
      expect(failed.code).toBe(2);
      expect(failed.stderr).toMatch(said);
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore, createSyncServer, silentLogger, type LogStore, type PullPage } from '../../src/server/index.ts';
import { createMetrics } from '../../src/server/metrics.ts';
import { freshLog, httpJson, httpPull, httpPush, okPull, okPush, sample, TestClient } from './helpers.ts';

/**
 * The outsider audit: chronicle_log_head ("the highest position of a log")
 * went down when a pull that read an older snapshot finished after a push
 * that moved the head. A log's head never goes down, so the gauge keeps the
 * highest head this process saw.
 */

describe('chronicle_log_head', () => {
  it('keeps the highest head reported for a log: a lower, stale report does not lower it', async () => {
    const metrics = createMetrics({ liveSockets: () => 0, storeStats: () => undefined });
    metrics.logHead('x', 5);
    metrics.pushStored('y', 1, 0, 1);
    metrics.logHead('x', 3); // a pull that read before the push to 5
    metrics.pushStored('y', 0, 1, 1);
    const render = async (): Promise<string> => {
      const rendered = await metrics.render();
      return 'body' in rendered ? rendered.body : '';
    };
    await expect.poll(async () => sample(await render(), 'chronicle_log_head{log="x"}')).toBe(5);
    expect(sample(await render(), 'chronicle_log_head{log="y"}')).toBe(1);
    metrics.logHead('x', 7);
    expect(sample(await render(), 'chronicle_log_head{log="x"}')).toBe(7);
  });

  it('a log at head 0 (pulled, never written: a typo, a probe) takes no series', async () => {
    const metrics = createMetrics({ liveSockets: () => 0, storeStats: () => undefined });
    for (let i = 0; i < 50; i++) metrics.logHead(`nothing-${i}`, 0);
    metrics.logHead('real', 2);
    const render = async (): Promise<string> => {
      const rendered = await metrics.render();
      return 'body' in rendered ? rendered.body : '';
    };
    await expect.poll(async () => sample(await render(), 'chronicle_log_head{log="real"}')).toBe(2);
    expect((await render()).match(/^chronicle_log_head\{/gm)).toHaveLength(1);
  });

  describe('over HTTP, a pull that read head 1 replying after a push to 2', () => {
    let inner: LogStore;
    beforeAll(async () => {
      inner = await createPgliteStore();
    });
    afterAll(async () => {
      await inner?.close();
    });

    it('the gauge stays at 2', async () => {
      // Pulls of `log` are held after their read until released: the reply of an older snapshot comes last.
      let pullRead!: () => void;
      const read = new Promise<void>((resolve) => (pullRead = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const log = freshLog('gauge');
      const store: LogStore = {
        ...inner,
        kind: inner.kind,
        push: (l, push, prepared) => inner.push(l, push, prepared),
        head: (l) => inner.head(l),
        clientSeq: (l, c) => inner.clientSeq(l, c),
        fence: (l, c, e) => inner.fence(l, c, e),
        watch: (onHead, onResync) => inner.watch(onHead, onResync),
        ping: () => inner.ping(),
        close: () => Promise.resolve(),
        async pull(l, query): Promise<PullPage> {
          const page = await inner.pull(l, query);
          if (l === log) {
            pullRead();
            await released;
          }
          return page;
        },
      };
      delete store.pushDecoded;
      const server = createSyncServer({ store, logger: silentLogger, limits: { rateLimit: false } });
      const { url } = await server.listen(0);
      try {
        const client = new TestClient('gauge');
        okPush(await httpPush(url, log, client.next(['o1'])));
        const pull = httpPull(url, log, { after: 0 });
        await read;
        expect(okPush(await httpPush(url, log, client.next(['o1']))).head).toBe(2);
        release();
        expect(okPull(await pull).head).toBe(1);
        // (prom-client loads in the background: /metrics is 503 until it is there; what came before is replayed.)
        await expect.poll(async () => (await httpJson(`${url}/metrics`)).status).toBe(200);
        const text = String((await httpJson(`${url}/metrics`)).body);
        expect(sample(text, `chronicle_log_head{log="${log}"}`)).toBe(2);
      } finally {
        release();
        await server.close();
      }
    });
  });
});

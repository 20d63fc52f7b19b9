import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/core/event.ts';
import { serverHistoryProblem } from '../../worker/sync/server-history.ts';
import type { PullPage } from '../../worker/sync/transport.ts';

/** The check of a round's first pull against what the client holds (worker/sync/server-history.ts), without a server. */

const event = (position: number, id: string): StoredEvent => ({
  id,
  aggregateId: 'o',
  aggregateType: 'Order',
  seq: position,
  type: 'ItemAdded',
  version: 1,
  data: {},
  meta: { occurredAt: 0, clientId: 'c', clientSeq: position },
  position,
});
const page = (head: number, ...events: StoredEvent[]): PullPage => ({ events, head, hasMore: false });

describe('server history check', () => {
  it('given the same event at the last position the client holds, then there is no problem, whatever follows', () => {
    expect(serverHistoryProblem(3, 'e3', page(3, event(3, 'e3')))).toBeUndefined();
    expect(serverHistoryProblem(3, 'e3', page(9, event(3, 'e3'), event(4, 'x4')))).toBeUndefined();
  });

  it('given a server head below the client’s confirmed position, then SYNC_SERVER_BEHIND with both positions', () => {
    const problem = serverHistoryProblem(5, 'e5', page(2, event(2, 'e2')));
    expect(problem).toMatchObject({ code: 'SYNC_SERVER_BEHIND', details: { serverHead: 2, confirmedPosition: 5 } });
    expect(problem?.message).toContain('position 2');
    // An empty log is behind too: a client that synced 5 events meets a server that lost them all.
    expect(serverHistoryProblem(5, 'e5', page(0))).toMatchObject({ code: 'SYNC_SERVER_BEHIND' });
  });

  it('given another event at that position, then SYNC_DIVERGED naming both ids', () => {
    expect(serverHistoryProblem(3, 'e3', page(5, event(3, 'other'), event(4, 'x4')))).toMatchObject({
      code: 'SYNC_DIVERGED',
      details: { position: 3, serverId: 'other', localId: 'e3' },
    });
  });

  it('given a client that does not know that event’s id (compacted by an older version), then only the head is checked', () => {
    expect(serverHistoryProblem(3, undefined, page(5, event(3, 'other')))).toBeUndefined();
    expect(serverHistoryProblem(3, undefined, page(1))).toMatchObject({ code: 'SYNC_SERVER_BEHIND' });
  });

  it('given a client that holds nothing yet, then nothing is checked', () => {
    expect(serverHistoryProblem(0, undefined, page(0))).toBeUndefined();
  });

  it('given a page that does not start at that position, then the content is not judged (the pull rules judge the page)', () => {
    expect(serverHistoryProblem(3, 'e3', page(5, event(4, 'x4')))).toBeUndefined();
  });
});

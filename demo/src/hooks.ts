/**
 * App-level hooks on top of chronicle/react: the online/offline switch, what
 * became of this device's offline edits, and pending events per order.
 */
import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
import type { EventOutcome, RejectedRecord, SyncStatus } from 'chronicle';
import { describeEdit } from './model.ts';
import type { DemoStore } from './store.ts';

// ---------------------------------------------------------------- network

export interface NetworkSwitch {
  /** Whether the app talks to the sync server (the switch). */
  online: boolean;
  /** The browser's own idea (navigator.onLine). */
  browserOnline: boolean;
  setOnline(online: boolean): void;
}

/**
 * The app's offline switch: pauses and resumes the store's sync. A pause is
 * for the store in every tab (and kept across reloads), so the switch shows the store's state (`sync`,
 * from useSyncStatus), whichever tab flipped it, and a tab that opens changes
 * nothing by itself. It follows the browser's `online` / `offline` events,
 * and the user can flip it any time.
 */
export function useNetworkSwitch(store: DemoStore, sync: SyncStatus | null): NetworkSwitch {
  const [browserOnline, setBrowserOnline] = useState(() => navigator.onLine);
  const setOnline = useCallback(
    (online: boolean) => void (online ? store.sync.resume() : store.sync.pause()).catch(() => undefined),
    [store],
  );
  useEffect(() => {
    const up = () => {
      setBrowserOnline(true);
      setOnline(true);
    };
    const down = () => {
      setBrowserOnline(false);
      setOnline(false);
    };
    window.addEventListener('online', up);
    window.addEventListener('offline', down);
    return () => {
      window.removeEventListener('online', up);
      window.removeEventListener('offline', down);
    };
  }, [setOnline]);
  return { online: sync?.state !== 'paused', browserOnline, setOnline };
}

// ---------------------------------------------------------------- outcomes

export interface EditNotice {
  /** The event id. */
  id: string;
  orderId: string;
  kind: 'rejected' | 'rebased';
  /** What the user did, e.g. "add 2 × Stoneware cup". */
  edit: string;
  /** rejected: why. */
  reason?: string;
  /** rebased: how many changes from elsewhere came first. */
  seq?: number;
  previousSeq?: number;
  at: number;
}

const dismissedKey = (store: DemoStore) => `${store.name}:dismissed-notices`;

function readDismissed(store: DemoStore): Set<string> {
  try {
    return new Set(JSON.parse(localStorage.getItem(dismissedKey(store)) ?? '[]') as string[]);
  } catch {
    return new Set();
  }
}

/**
 * Every edit of this device that a sync rebased (others' changes came first,
 * it was re-sequenced after them) or rejected (the order's rebase rule or the
 * server refused it), grouped by order. Rejected edits come from the store's
 * persistent rejected list, so they survive reloads; rebased ones are shown
 * as they happen.
 */
export function useEditNotices(store: DemoStore) {
  const [rejected, setRejected] = useState<RejectedRecord[]>([]);
  const [rebased, setRebased] = useState<EditNotice[]>([]);
  const [dismissed, setDismissed] = useState(() => readDismissed(store));

  useEffect(() => {
    let alive = true;
    const refresh = () =>
      store.sync.rejected().then(
        (records) => alive && setRejected(records),
        () => undefined,
      );
    void refresh();
    const describeRebased = async (outcome: EventOutcome): Promise<EditNotice | null> => {
      if (outcome.seq === undefined) return null;
      for await (const event of store.readStream(outcome.aggregateId, { fromSeq: outcome.seq, toSeq: outcome.seq })) {
        if (event.id !== outcome.id) continue;
        return {
          id: outcome.id,
          orderId: outcome.aggregateId,
          kind: 'rebased',
          edit: describeEdit(event.type, event.data),
          seq: outcome.seq,
          ...(outcome.previousSeq !== undefined ? { previousSeq: outcome.previousSeq } : {}),
          at: Date.now(),
        };
      }
      return null;
    };
    const stop = store.sync.onOutcome((outcomes) => {
      if (outcomes.some((o) => o.status === 'rejected')) void refresh();
      const moved = outcomes.filter((o) => o.status === 'rebased');
      if (moved.length === 0) return;
      void Promise.all(moved.map((o) => describeRebased(o).catch(() => null))).then((notices) => {
        const fresh = notices.filter((n): n is EditNotice => n !== null);
        if (alive && fresh.length) setRebased((previous) => [...previous.filter((p) => !fresh.some((f) => f.id === p.id)), ...fresh]);
      });
    });
    return () => {
      alive = false;
      stop();
    };
  }, [store]);

  const dismiss = useCallback(
    (id: string) => {
      setDismissed((previous) => {
        const next = new Set(previous).add(id);
        try {
          localStorage.setItem(dismissedKey(store), JSON.stringify([...next].slice(-500)));
        } catch {
          // private mode: dismissals last for this session only
        }
        return next;
      });
    },
    [store],
  );

  const all: EditNotice[] = [
    ...rejected.map((r) => ({
      id: r.id,
      orderId: r.event.aggregateId,
      kind: 'rejected' as const,
      edit: describeEdit(r.event.type, r.event.data),
      reason: r.reason,
      at: r.rejectedAt,
    })),
    ...rebased.filter((n) => !rejected.some((r) => r.id === n.id)),
  ]
    .filter((n) => !dismissed.has(n.id))
    .sort((a, b) => b.at - a.at);

  const byOrder = new Map<string, EditNotice[]>();
  for (const notice of all) byOrder.set(notice.orderId, [...(byOrder.get(notice.orderId) ?? []), notice]);
  return { all, byOrder, dismiss };
}

// ---------------------------------------------------------------- pending

/** How many of this device's events each order still has waiting for the server. */
export function usePendingByOrder(store: DemoStore): Record<string, number> {
  const [counts, setCounts] = useState<Record<string, number>>({});
  useEffect(() => {
    let alive = true;
    let running = false;
    let again = false;
    const refresh = async () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          const next: Record<string, number> = {};
          for await (const event of store.readLog({ status: 'pending' })) next[event.aggregateId] = (next[event.aggregateId] ?? 0) + 1;
          if (alive) setCounts((previous) => (JSON.stringify(previous) === JSON.stringify(next) ? previous : next));
        } while (again && alive);
      } catch {
        // the store closed
      } finally {
        running = false;
      }
    };
    // Sync status changes after every append, confirmation and sync round: recount then.
    const stop = store.sync.subscribe(() => void refresh());
    return () => {
      alive = false;
      stop();
    };
  }, [store]);
  return counts;
}

// ---------------------------------------------------------------- selection

const hashId = () => new URLSearchParams(location.hash.slice(1)).get('order');

/** The selected order lives in the URL (#order=…), so a reload or a shared link keeps it. */
export function useSelectedOrder(): [string | null, (id: string | null) => void] {
  const id = useSyncExternalStore(
    (listener) => {
      window.addEventListener('hashchange', listener);
      return () => window.removeEventListener('hashchange', listener);
    },
    hashId,
    () => null,
  );
  const select = useCallback((next: string | null) => {
    if (next) location.hash = `order=${encodeURIComponent(next)}`;
    else history.pushState(null, '', location.pathname + location.search);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  }, []);
  return [id, select];
}

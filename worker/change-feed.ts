import { laterEnd } from '../src/core/cursor.ts';
import type { Change } from './types.ts';

/**
 * The engine's change feed: this engine's listeners, and the engines of other
 * tabs through a BroadcastChannel named after the store.
 */
export interface ChangeFeed {
  /** Tells this engine's listeners now and other tabs one task later. */
  publish(change: Change): void;
  /** Tells this engine's own listeners only (no other tab): what is about this engine alone. */
  tell(change: Change): void;
  /**
   * Tells other tabs nothing more, including what waits to be sent: the
   * engine's database was deleted, and a late message (a sync pause, say)
   * would reach the next store opened under its name. Its own listeners
   * still hear every change.
   */
  silence(): void;
  subscribe(listener: (change: Change) => void): number;
  unsubscribe(id: number): void;
  /** Sends what is queued for other tabs, then stops hearing and telling them. */
  close(): void;
}

/**
 * @param onRemote sees every change another tab published, before this
 *   engine's listeners do (the engine reacts to some: sync control, appends).
 */
export function createChangeFeed(name: string, onRemote: (change: Change) => void): ChangeFeed {
  const listeners = new Map<number, (change: Change) => void>();
  let nextListener = 1;
  const emitLocal = (change: Change) => {
    for (const listener of listeners.values()) {
      try {
        listener(change);
      } catch {
        // A failing subscriber must not break the engine or other subscribers.
      }
    }
  };
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(`chronicle:${name}`) : undefined;
  if (channel) {
    channel.onmessage = (message: MessageEvent<Change>) => {
      onRemote(message.data);
      emitLocal(message.data);
    };
  }
  // Other tabs hear of a change one task later, once the caller's reply is
  // posted, and during a burst at most once per BROADCAST_EVERY_MS: a
  // BroadcastChannel post costs 0.1-0.4 ms of this thread, about a third of a
  // single append's round trip. Order is kept; appends that follow one
  // another in the outbox go as one change.
  const outbox: Change[] = [];
  let channelOpen = channel !== undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastSent = -Infinity;
  const sendOutbox = () => {
    timer = undefined;
    lastSent = Date.now();
    const changes = mergeAppends(outbox.splice(0));
    // A change published while closing finds the channel gone: nobody is told by a closed engine.
    if (channelOpen) for (const change of changes) channel?.postMessage(change);
  };
  const subscribe = (listener: (change: Change) => void) => {
    const id = nextListener++;
    listeners.set(id, listener);
    return id;
  };
  return {
    publish(change) {
      emitLocal(change);
      if (!channelOpen) return;
      outbox.push(change);
      timer ??= setTimeout(sendOutbox, Math.max(0, lastSent + BROADCAST_EVERY_MS - Date.now()));
    },
    tell: emitLocal,
    silence() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      outbox.length = 0;
      channelOpen = false;
      channel?.close();
    },
    subscribe,
    unsubscribe(id) {
      listeners.delete(id);
    },
    close() {
      listeners.clear();
      if (timer) clearTimeout(timer);
      sendOutbox();
      channelOpen = false;
      channel?.close();
    },
  };
}

/** Other tabs are told of changes at most this often while changes keep coming (the first one goes at once). */
export const BROADCAST_EVERY_MS = 10;

/** Consecutive 'appended' changes as one: the aggregates' newest heads, the counts summed, the later end. */
function mergeAppends(changes: Change[]): Change[] {
  const out: Change[] = [];
  for (const change of changes) {
    const previous = out[out.length - 1];
    if (change.kind !== 'appended' || previous?.kind !== 'appended') {
      out.push(change);
      continue;
    }
    const heads = new Map(previous.aggregates);
    for (const [id, head] of change.aggregates) heads.set(id, Math.max(heads.get(id) ?? 0, head));
    const merged: Change = { kind: 'appended', aggregates: [...heads], count: previous.count + change.count };
    const end = previous.end && change.end ? laterEnd(previous.end, change.end) : (change.end ?? previous.end);
    if (end) merged.end = end;
    if (previous.later || change.later) merged.later = true;
    out[out.length - 1] = merged;
  }
  return out;
}

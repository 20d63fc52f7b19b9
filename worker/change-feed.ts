import type { Change } from './types.ts';

/**
 * The engine's change feed: this engine's listeners, and the engines of other
 * tabs through a BroadcastChannel named after the store.
 */
export interface ChangeFeed {
  /** Tells this engine's listeners now and other tabs one task later. */
  publish(change: Change): void;
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
  // posted: a BroadcastChannel post costs ~0.1 ms of this thread, a
  // single-event append's whole round trip ~1.5 ms. Order is kept.
  const outbox: Change[] = [];
  let channelOpen = channel !== undefined;
  const sendOutbox = () => {
    const changes = outbox.splice(0);
    // A change published while closing finds the channel gone: nobody is told by a closed engine.
    if (channelOpen) for (const change of changes) channel?.postMessage(change);
  };
  return {
    publish(change) {
      emitLocal(change);
      if (channel && outbox.push(change) === 1) setTimeout(sendOutbox, 0);
    },
    subscribe(listener) {
      const id = nextListener++;
      listeners.set(id, listener);
      return id;
    },
    unsubscribe(id) {
      listeners.delete(id);
    },
    close() {
      listeners.clear();
      sendOutbox();
      channelOpen = false;
      channel?.close();
    },
  };
}

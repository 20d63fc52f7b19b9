import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { createLiveHub } from '../../src/server/live.ts';
import type { Logger } from '../../src/server/logger.ts';
import type { LogStore } from '../../src/server/store/types.ts';

/**
 * The live channel and a socket that writes slowly (a slow reader, a
 * congested link): each head move used to add a message to the socket's
 * buffer, so a busy log grew it by one message per move until the socket
 * drained or was terminated. Now the newest head waits while a message is
 * unsent, and goes once it is written: one message at a time, none lost.
 */

/** A socket whose sends complete only when the test says so (written()), as a socket that writes slowly. */
class SlowSocket extends EventEmitter {
  readonly OPEN = 1;
  readonly CLOSED = 3;
  readyState = 1;
  readonly messages: { type: string; head: number }[] = [];
  private readonly callbacks: ((error?: Error) => void)[] = [];
  get bufferedAmount(): number {
    return this.callbacks.length * 40;
  }
  send(data: string, callback: (error?: Error) => void): void {
    this.messages.push(JSON.parse(data) as { type: string; head: number });
    this.callbacks.push(callback);
  }
  /** The oldest unsent message reaches the kernel. */
  written(): void {
    this.callbacks.shift()?.();
  }
  get unsent(): number {
    return this.callbacks.length;
  }
  ping(): void {}
  terminated = false;
  terminate(): void {
    this.terminated = true;
    this.readyState = this.CLOSED;
  }
  close(): void {
    this.readyState = this.CLOSED;
    this.emit('close');
  }
}

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A store whose only part the hub uses is its head and its head moves (`move`). */
function fakeStore(): { store: LogStore; move: (log: string, head: number) => void } {
  let publish: (log: string, head: number) => void = () => undefined;
  const store = {
    head: async () => 0,
    watch(listener: (log: string, head: number) => void) {
      publish = listener;
      return () => undefined;
    },
  } as unknown as LogStore;
  return { store, move: (log, head) => publish(log, head) };
}

describe('the live channel and a socket that writes slowly', () => {
  it('holds one unsent message at most: the newest head goes once it is written, in order, none lost', async () => {
    const { store, move } = fakeStore();
    const hub = createLiveHub(store, quiet, 60_000, 0, 60_000);
    const socket = new SlowSocket();
    try {
      await hub.add('a', socket as unknown as WebSocket);
      expect(socket.messages).toEqual([{ type: 'hello', protocolVersion: 2, head: 0 }]);
      for (let head = 1; head <= 1000; head++) move('a', head);
      // hello is still unsent: nothing more was given to the socket.
      expect(socket.unsent).toBe(1);
      socket.written();
      expect(socket.messages.slice(1)).toEqual([{ type: 'head', head: 1000 }]);
      expect(socket.unsent).toBe(1);
      move('a', 1001);
      move('a', 1002);
      socket.written();
      socket.written();
      expect(socket.messages.slice(1)).toEqual([
        { type: 'head', head: 1000 },
        { type: 'head', head: 1002 },
      ]);
      // Drained: the next move goes at once.
      move('a', 1003);
      expect(socket.messages.at(-1)).toEqual({ type: 'head', head: 1003 });
    } finally {
      await hub.close();
    }
  });

  it('terminates a socket whose one unsent message has not been written for replyMs; one that writes now and then stays', async () => {
    const { store, move } = fakeStore();
    const warnings: string[] = [];
    const hub = createLiveHub(store, { ...quiet, warn: (message) => void warnings.push(message) }, 60_000, 0, 400);
    const stuck = new SlowSocket();
    const slow = new SlowSocket();
    try {
      await hub.add('a', stuck as unknown as WebSocket);
      await hub.add('a', slow as unknown as WebSocket);
      for (let round = 1; round <= 6; round++) {
        move('a', round);
        await new Promise((resolve) => setTimeout(resolve, 100));
        slow.written(); // a slow reader: a message now and then, more often than every replyMs
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(stuck.terminated).toBe(true);
      expect(slow.terminated).toBe(false);
      expect(warnings.filter((message) => message.includes('did not read'))).toHaveLength(1);
    } finally {
      await hub.close();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '../../src/core/protocol.ts';
import { createPushDecoder } from '../../src/server/http/push-decoder.ts';
import type { Logger } from '../../src/server/index.ts';
import { makeEvent } from './helpers.ts';

/**
 * `new Worker()` throws at once when no thread can be made: ERR_WORKER_INIT_FAILED
 * when the system's limit on threads (a container's pids limit) is reached, or
 * a module that cannot be resolved. The decoder let that escape from decode(),
 * so every push large enough for a thread failed with 500 INTERNAL, and each
 * tried to start a thread again, for as long as the limit held; a thread that
 * fails must never fail a push (push-decoder.ts): its body is decoded on the
 * event loop instead.
 */

const LIMITS = { maxEventsPerPush: 1000, maxEventBytes: 256 * 1024 };

describe('a push decoder that cannot start a thread', () => {
  it('leaves each body to the event loop, and after a few failures stops trying', async () => {
    const warnings: string[] = [];
    const logger: Logger = { info: () => undefined, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) };
    let attempts = 0;
    const decoder = createPushDecoder({
      threads: 2,
      minBytes: 0,
      supported: SUPPORTED_PROTOCOL_VERSIONS,
      limits: LIMITS,
      logger,
      spawn: () => {
        attempts++;
        throw Object.assign(new Error('Worker initialization failure: EAGAIN'), { code: 'ERR_WORKER_INIT_FAILED' });
      },
    });
    const event = makeEvent({ clientId: 'c', clientSeq: 1, aggregateId: 'a', seq: 1, data: { n: 1 } });
    const body = new TextEncoder().encode(
      JSON.stringify({ protocolVersion: PROTOCOL_VERSION, clientId: 'c', from: 1, to: 1, events: [event] }),
    );
    try {
      for (let i = 0; i < 5; i++) await expect(decoder.decode(body)).resolves.toBeUndefined();
      // Three failures in a row turn threads off, as for threads that die.
      expect(attempts).toBe(3);
      expect(warnings.at(-1)).toContain('push decoding in threads is off');
    } finally {
      await decoder.close();
    }
  });
});

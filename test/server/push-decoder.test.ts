import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '../../src/core/protocol.ts';
import { decodePushBody } from '../../src/server/http/push-decode.ts';
import { createPushDecoder, spawnDecoderThread as defaultSpawn, type PushDecoder } from '../../src/server/http/push-decoder.ts';
import { createPgliteStore, createSyncServer, silentLogger, type Logger, type SyncServer } from '../../src/server/index.ts';
import { freshLog, makeEvent, type PushEvent } from './helpers.ts';

const execFileAsync = promisify(execFile);

/**
 * Push bodies decoded in worker threads (src/server/http/push-decoder.ts): the
 * same bytes get the same outcome as on the event loop, a server that decodes in
 * threads replies exactly as one that does not, and a thread that dies never
 * fails a push (the body is decoded on the event loop instead).
 */

const LIMITS = { maxEventsPerPush: 1000, maxEventBytes: 256 * 1024 };

function events(clientId: string, n: number, data: (i: number) => unknown = (i) => ({ n: i, pad: 'x'.repeat(200) })): PushEvent[] {
  return Array.from({ length: n }, (_, i) =>
    makeEvent({ clientId, clientSeq: i + 1, aggregateId: `${clientId}-a-${i % 7}`, seq: Math.floor(i / 7) + 1, data: data(i) }),
  );
}

const body = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const push = (clientId: string, list: PushEvent[], extra: Record<string, unknown> = {}) => ({
  protocolVersion: PROTOCOL_VERSION,
  clientId,
  from: 1,
  to: list.length,
  events: list,
  ...extra,
});

/** Bodies of every kind: valid, and refused at each step of the protocol's order. */
function bodies(): [string, Uint8Array][] {
  const valid = events('c-valid', 300);
  const deep: unknown = JSON.parse('['.repeat(70) + ']'.repeat(70));
  return [
    ['a valid push', body(push('c-valid', valid))],
    ['a valid version-1 push', body({ ...push('c-v1', events('c-v1', 50)), protocolVersion: 1 })],
    ['not JSON', body('{"protocolVersion": 2, "events": [')],
    ['not an object', body('[1, 2, 3]')],
    ['an unsupported version', body({ ...push('c-x', events('c-x', 3)), protocolVersion: 9 })],
    ['too many events', body(push('c-many', events('c-many', 1001)))],
    [
      'a schema error',
      body(
        push(
          'c-bad',
          events('c-bad', 5).map((e, i) => (i === 3 ? { ...e, seq: -1 } : e)),
        ),
      ),
    ],
    [
      'a NUL in data',
      body(
        push(
          'c-nul',
          events('c-nul', 4, (i) => ({ s: i === 2 ? 'a\u0000b' : 'ok' })),
        ),
      ),
    ],
    [
      'data nested too deep',
      body(
        push(
          'c-deep',
          events('c-deep', 2, () => deep),
        ),
      ),
    ],
    [
      'an event over the size limit',
      body(
        push(
          'c-big',
          events('c-big', 3, (i) => ({ s: i === 1 ? 'é'.repeat(140 * 1024) : '' })),
        ),
      ),
    ],
  ];
}

describe('push decoder threads', () => {
  let decoder: PushDecoder;
  const warnings: string[] = [];
  const logger: Logger = { info: () => undefined, warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };

  beforeAll(() => {
    decoder = createPushDecoder({ threads: 2, minBytes: 0, supported: SUPPORTED_PROTOCOL_VERSIONS, limits: LIMITS, logger });
  });
  afterAll(() => decoder.close());

  it('gives every body the outcome the event loop gives it, decoded in a thread', async () => {
    const cases = bodies();
    for (const [name, bytes] of cases) {
      const inThread = await decoder.decode(bytes);
      expect(inThread, name).toEqual(decodePushBody(bytes, SUPPORTED_PROTOCOL_VERSIONS, LIMITS));
    }
    expect(decoder.decoded).toBe(cases.length);
    expect(warnings).toEqual([]);
  });

  it('refuses each kind of bad body with the code the protocol gives it', async () => {
    const codes: Record<string, string> = {};
    for (const [name, bytes] of bodies()) {
      const outcome = await decoder.decode(bytes);
      codes[name] = outcome?.ok ? 'ok' : outcome && 'code' in outcome ? outcome.code : 'internal';
    }
    expect(codes).toEqual({
      'a valid push': 'ok',
      'a valid version-1 push': 'ok',
      'not JSON': 'BAD_REQUEST',
      'not an object': 'BAD_REQUEST',
      'an unsupported version': 'UNSUPPORTED_PROTOCOL',
      'too many events': 'PAYLOAD_TOO_LARGE',
      'a schema error': 'BAD_REQUEST',
      'a NUL in data': 'BAD_REQUEST',
      'data nested too deep': 'BAD_REQUEST',
      'an event over the size limit': 'PAYLOAD_TOO_LARGE',
    });
  });

  it('a body that is a view into a larger buffer is decoded from its own bytes', async () => {
    const bytes = body(push('c-view', events('c-view', 20)));
    const big = new Uint8Array(bytes.length + 100);
    big.set(bytes, 50);
    big.fill(0x7b, 0, 50);
    const outcome = await decoder.decode(big.subarray(50, 50 + bytes.length));
    expect(outcome).toMatchObject({ ok: true, events: 20 });
  });

  it('a thread that dies fails no push: its bodies are left to the event loop, and the next ones go to a new thread', async () => {
    // The first thread says it is ready, then ends on its first body; later threads are real ones.
    let started = 0;
    const dying = `const { parentPort } = require('node:worker_threads'); parentPort.postMessage({ ready: true }); parentPort.on('message', () => process.exit(3));`;
    const decoderWith = createPushDecoder({
      threads: 1,
      minBytes: 0,
      supported: SUPPORTED_PROTOCOL_VERSIONS,
      limits: LIMITS,
      logger,
      spawn: (workerData) => (started++ === 0 ? new Worker(dying, { eval: true, workerData }) : defaultSpawn(workerData)),
    });
    try {
      const small = body(push('c-small', events('c-small', 3)));
      expect(await decoderWith.decode(small)).toBeUndefined();
      expect(warnings.some((w) => w.includes('decoder thread failed'))).toBe(true);
      expect(await decoderWith.decode(small)).toMatchObject({ ok: true, events: 3 });
      expect(started).toBe(2);
    } finally {
      await decoderWith.close();
    }
  });

  it('threads that keep failing to start turn decoding in threads off; every push is decoded on the event loop', async () => {
    const messages: string[] = [];
    const quiet: Logger = { info: () => undefined, warn: (m: string) => messages.push(m), error: (m: string) => messages.push(m) };
    let started = 0;
    const never = createPushDecoder({
      threads: 1,
      minBytes: 0,
      supported: SUPPORTED_PROTOCOL_VERSIONS,
      limits: LIMITS,
      logger: quiet,
      spawn: (workerData) => {
        started++;
        return new Worker('process.exit(1)', { eval: true, workerData });
      },
    });
    try {
      const small = body(push('c-off', events('c-off', 2)));
      for (let i = 0; i < 5; i++) expect(await never.decode(small)).toBeUndefined();
      expect(started).toBe(3);
      expect(messages.at(-1)).toContain('push decoding in threads is off');
    } finally {
      await never.close();
    }
  });

  it("decodes in a thread when the module was loaded through tsx's API (as bench/run.mjs loads the server)", async () => {
    // tsImport gives the module a `?tsx-namespace=` URL; a thread that imported that URL got the file untransformed and died.
    const moduleUrl = new URL('../../src/server/http/push-decoder.ts', import.meta.url).href;
    const script = fileURLToPath(new URL('./fixtures/decode-through-tsx.mjs', import.meta.url));
    const { stdout } = await execFileAsync(process.execPath, [script, moduleUrl, JSON.stringify(SUPPORTED_PROTOCOL_VERSIONS)], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toMatchObject({ decoded: 1, warnings: [] });
  });
});

describe('a server that decodes pushes in threads replies as one that does not', () => {
  const servers: SyncServer[] = [];
  let threaded: string;
  let inline: string;

  beforeAll(async () => {
    for (const pushDecoding of [{ threads: 1, minBytes: 0 }, false] as const) {
      const server = createSyncServer({ store: await createPgliteStore(), logger: silentLogger, pushDecoding });
      servers.push(server);
      const { url } = await server.listen(0);
      if (pushDecoding) threaded = url;
      else inline = url;
    }
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
  });

  const send = async (url: string, log: string, bytes: Uint8Array) => {
    const response = await fetch(`${url}/v1/logs/${log}/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(bytes),
    });
    return { status: response.status, body: (await response.json()) as unknown };
  };

  it('same status and body for every kind of push, and the same events stored', async () => {
    const log = freshLog('decode');
    for (const [name, bytes] of bodies()) {
      const a = await send(threaded, log, bytes);
      const b = await send(inline, log, bytes);
      expect(a, name).toEqual(b);
    }
    const pullA = await (await fetch(`${threaded}/v1/logs/${log}/pull?after=0&limit=1000`)).json();
    const pullB = await (await fetch(`${inline}/v1/logs/${log}/pull?after=0&limit=1000`)).json();
    expect(pullA).toEqual(pullB);
    expect((pullA as { head: number }).head).toBe(350);
  });
});

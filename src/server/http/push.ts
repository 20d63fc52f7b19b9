import type { IncomingMessage, ServerResponse } from 'node:http';
import { utf8Length } from '../../core/json-data.ts';
import { fenceRequestSchema, PROTOCOL_VERSION, pushRequestSchema, SUPPORTED_PROTOCOL_VERSIONS, type FenceResponse, type PushResponse } from '../../core/protocol.ts';
import { SyncError } from '../errors.ts';
import { acceptPush } from '../validate.ts';
import { checkJsonContentType, readBody } from './body.ts';
import type { HandlerContext } from './context.ts';
import { withDeadline } from './deadline.ts';
import { requestInfo } from './request-context.ts';
import type { LogRoute } from './routes.ts';
import { zodDetails } from './zod-details.ts';

/**
 * POST /v1/logs/:log/push and POST /v1/logs/:log/fence: read and validate the
 * body (docs/protocol.md, Push and Limits), then hand it to the store, whose
 * judge decides.
 */

/** Reads the body as a JSON object: 415 for another content type, 413 / 408 from readBody, 400 for anything not a JSON object. */
async function readJsonObject(context: HandlerContext, request: IncomingMessage): Promise<Record<string, unknown>> {
  checkJsonContentType(request);
  const raw = await readBody(request, context.limits.maxRequestBytes, context.timeouts.bodyMs);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new SyncError('BAD_REQUEST', `The body is not valid JSON: ${(error as Error).message}`, {});
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SyncError('BAD_REQUEST', 'The body must be a JSON object', {});
  }
  return body as Record<string, unknown>;
}

/** The protocol version is checked before the rest of the body, so an old or new client learns what this server speaks. */
function checkVersion(candidate: Record<string, unknown>, supported: readonly number[]): void {
  if (typeof candidate.protocolVersion !== 'number' || !supported.includes(candidate.protocolVersion)) {
    throw new SyncError(
      'UNSUPPORTED_PROTOCOL',
      `This server speaks protocol versions ${supported.join(', ')}; the request says ${JSON.stringify(candidate.protocolVersion) ?? 'nothing'}`,
      { supported: [...supported], received: candidate.protocolVersion ?? null },
    );
  }
}

export async function handlePush(context: HandlerContext, request: IncomingMessage, response: ServerResponse, route: LogRoute): Promise<void> {
  const { limits, store } = context;
  const candidate = await readJsonObject(context, request);
  checkVersion(candidate, SUPPORTED_PROTOCOL_VERSIONS);
  const info = requestInfo(request);
  if (info && Array.isArray(candidate.events)) info.events = candidate.events.length;
  if (Array.isArray(candidate.events) && candidate.events.length > limits.maxEventsPerPush) {
    throw new SyncError(
      'PAYLOAD_TOO_LARGE',
      `The push holds ${candidate.events.length} events; the limit is ${limits.maxEventsPerPush}`,
      { what: 'events', count: candidate.events.length, limit: limits.maxEventsPerPush },
    );
  }
  // A valid push takes the fast check; anything it cannot vouch for goes to the schema, which decides and explains.
  let push = acceptPush(candidate);
  if (!push) {
    const parsed = pushRequestSchema.safeParse(candidate);
    if (!parsed.success) {
      const { message, details } = zodDetails(parsed.error.issues);
      throw new SyncError('BAD_REQUEST', `Invalid push: ${message}`, details);
    }
    push = parsed.data;
  }
  // The JSON of each event as validated: its size is checked here, and the store keeps it as is.
  const eventsJson = push.events.map((event) => JSON.stringify(event));
  push.events.forEach((event, index) => {
    const bytes = utf8Length(eventsJson[index]!);
    if (bytes > limits.maxEventBytes) {
      throw new SyncError(
        'PAYLOAD_TOO_LARGE',
        `Event ${index} (id ${event.id}) is ${bytes} bytes; the limit is ${limits.maxEventBytes}`,
        { what: 'event', index, id: event.id, clientSeq: event.meta.clientSeq, bytes, limit: limits.maxEventBytes },
      );
    }
  });
  const timeoutMs = context.timeouts.storeMs;
  const result = await withDeadline(store.push(route.log, push, { eventsJson, deadline: Date.now() + timeoutMs }), timeoutMs, 'push');
  context.metrics.pushStored(route.log, result.appended, result.duplicates, result.head);
  const reply: PushResponse = {
    positions: result.positions,
    duplicates: result.duplicates,
    clientSeq: result.clientSeq,
    head: result.head,
  };
  context.replier.send(request, response, 200, JSON.stringify(reply));
}

export async function handleFence(context: HandlerContext, request: IncomingMessage, response: ServerResponse, route: LogRoute): Promise<void> {
  const candidate = await readJsonObject(context, request);
  checkVersion(candidate, [PROTOCOL_VERSION]);
  const parsed = fenceRequestSchema.safeParse(candidate);
  if (!parsed.success) {
    const { message, details } = zodDetails(parsed.error.issues);
    throw new SyncError('BAD_REQUEST', `Invalid fence: ${message}`, details);
  }
  const { clientId, epoch } = parsed.data;
  const result = await withDeadline(context.store.fence(route.log, clientId, epoch), context.timeouts.storeMs, 'fence');
  const reply: FenceResponse = { epoch: result.epoch, clientSeq: result.clientSeq };
  context.replier.send(request, response, 200, JSON.stringify(reply));
}

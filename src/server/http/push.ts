import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  fenceRequestSchema,
  PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  type FenceResponse,
  type PushRequest,
  type PushResponse,
  type PushResponseMinimal,
} from '../../core/protocol.ts';
import { SyncError } from '../errors.ts';
import type { PushResult } from '../store/types.ts';
import { checkChunkedOnly, checkIdentityEncoding, checkJsonContentType, readBody } from './body.ts';
import type { HandlerContext } from './context.ts';
import { prefersMinimalReturn, RETURN_MINIMAL } from './prefer.ts';
import { withDeadline } from './deadline.ts';
import { checkPushData } from './push-data-check.ts';
import { checkVersion, eventCount, fromColumns, parseJsonObject, validatePush } from './push-decode.ts';
import { requestInfo } from './request-context.ts';
import type { LogRoute } from './routes.ts';
import { zodDetails } from './zod-details.ts';

/**
 * POST /v1/logs/:log/push and POST /v1/logs/:log/fence: read and validate the
 * body (docs/protocol.md, Push and Limits), then hand it to the store, whose
 * judge decides.
 */

/**
 * Reads the body as a JSON object: 415 for another content type, a content coding or a transfer coding but
 * chunked, 413 / 408 from readBody, 400 for anything not a JSON object.
 */
async function readJsonObject(context: HandlerContext, request: IncomingMessage): Promise<Record<string, unknown>> {
  checkJsonContentType(request);
  checkIdentityEncoding(request);
  checkChunkedOnly(request);
  return parseJsonObject(await readBody(request, context.limits.maxRequestBytes, context.timeouts.bodyMs));
}

/**
 * The push as the store takes it: decoded in a decoder thread when the body is
 * large enough and the store takes decoded pushes (push-decoder.ts), else here,
 * by the same checks in the same order (push-decode.ts).
 */
async function storePush(context: HandlerContext, request: IncomingMessage, route: LogRoute, raw: Buffer): Promise<PushResult> {
  const { limits, store, decoder, dataCheck } = context;
  const info = requestInfo(request);
  const timeoutMs = context.timeouts.storeMs;
  if (decoder && store.pushDecoded && raw.length >= decoder.minBytes) {
    const outcome = await decoder.decode(raw);
    if (outcome) {
      if (info && outcome.events !== undefined) info.events = outcome.events;
      if (!outcome.ok)
        throw 'internal' in outcome ? new Error(outcome.internal) : new SyncError(outcome.code, outcome.message, outcome.details);
      const decoded = fromColumns(outcome.columns);
      if (dataCheck) {
        const { eventsJson } = decoded;
        const eventAt = (index: number) => JSON.parse(eventsJson[index]!) as PushRequest['events'][number];
        await checkPushData(dataCheck, store, route.log, { ...decoded, count: eventsJson.length, eventAt }, timeoutMs);
      }
      return withDeadline(store.pushDecoded(route.log, decoded, { deadline: Date.now() + timeoutMs }), timeoutMs, 'push');
    }
  }
  const candidate = parseJsonObject(raw);
  checkVersion(candidate, SUPPORTED_PROTOCOL_VERSIONS);
  const count = eventCount(candidate);
  if (info && count !== undefined) info.events = count;
  const { push, eventsJson } = validatePush(candidate, limits);
  if (dataCheck) {
    const eventAt = (index: number) => push.events[index]!;
    await checkPushData(dataCheck, store, route.log, { ...push, count: push.events.length, eventAt }, timeoutMs);
  }
  return withDeadline(store.push(route.log, push, { eventsJson, deadline: Date.now() + timeoutMs }), timeoutMs, 'push');
}

export async function handlePush(
  context: HandlerContext,
  request: IncomingMessage,
  response: ServerResponse,
  route: LogRoute,
): Promise<void> {
  checkJsonContentType(request);
  checkIdentityEncoding(request);
  checkChunkedOnly(request);
  const raw = await readBody(request, context.limits.maxRequestBytes, context.timeouts.bodyMs);
  const result = await storePush(context, request, route, raw);
  context.metrics.pushStored(route.log, result.appended, result.duplicates, result.head);
  const counts = { duplicates: result.duplicates, clientSeq: result.clientSeq, head: result.head };
  // Prefer: return=minimal (prefer.ts): a push's positions are most of its reply, and a client that
  // confirms by pulling does not read them.
  if (prefersMinimalReturn(request.headers.prefer)) {
    const reply: PushResponseMinimal = counts;
    context.replier.send(request, response, 200, JSON.stringify(reply), { 'preference-applied': RETURN_MINIMAL });
    return;
  }
  const reply: PushResponse = { positions: result.positions, ...counts };
  context.replier.send(request, response, 200, JSON.stringify(reply));
}

export async function handleFence(
  context: HandlerContext,
  request: IncomingMessage,
  response: ServerResponse,
  route: LogRoute,
): Promise<void> {
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

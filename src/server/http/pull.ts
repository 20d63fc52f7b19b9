import type { IncomingMessage, ServerResponse } from 'node:http';
import { pullQuerySchema } from '../../core/protocol.ts';
import { SyncError } from '../errors.ts';
import { pullPageToJson } from '../store/types.ts';
import type { HandlerContext } from './context.ts';
import { withDeadline } from './deadline.ts';
import type { LogRoute, RequestTarget } from './routes.ts';
import { zodDetails } from './zod-details.ts';

const PARAMETERS = ['after', 'limit', 'clientId'] as const;

/** GET /v1/logs/:log/pull?after=N&limit=M[&clientId=C]: strict parameters (plain decimal integers, each at most once). */
export async function handlePull(
  context: HandlerContext,
  request: IncomingMessage,
  response: ServerResponse,
  route: LogRoute,
  { query, badlyEncoded }: RequestTarget,
): Promise<void> {
  const given: Record<string, string> = {};
  for (const key of PARAMETERS) {
    if (badlyEncoded.has(key)) {
      throw new SyncError('BAD_REQUEST', `Invalid pull: ${key} is not valid percent-encoded UTF-8`, {
        field: key,
        issues: [{ path: key, message: 'must be percent-encoded UTF-8' }],
      });
    }
    const values = query.getAll(key);
    if (values.length > 1) {
      throw new SyncError('BAD_REQUEST', `Invalid pull: ${key} is given ${values.length} times`, {
        field: key,
        issues: [{ path: key, message: 'must be given at most once' }],
      });
    }
    if (values.length === 1) given[key] = values[0]!;
  }
  const parsed = pullQuerySchema.safeParse(given);
  if (!parsed.success) {
    const { message, details } = zodDetails(parsed.error.issues);
    throw new SyncError('BAD_REQUEST', `Invalid pull: ${message}`, details);
  }
  const { after, limit, clientId } = parsed.data;
  const page = await withDeadline(
    context.store.pull(route.log, { after, limit: Math.min(limit, context.limits.maxPullLimit), clientId }),
    context.timeouts.storeMs,
    'pull',
  );
  context.metrics.logHead(route.log, page.head);
  context.replier.send(request, response, 200, pullPageToJson(page));
}

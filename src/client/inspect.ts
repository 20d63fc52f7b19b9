import type { LogCursor } from '../core/cursor.ts';
import { projectionRuntime, type AnyProjectionDefinition } from '../core/projection.ts';
import { checkAggregateId } from './append.ts';
import { checkDefinition, checkOptionsObject } from './argument-checks.ts';
import { loadAggregate } from './aggregate-loader.ts';
import type { StoreContext } from './context.ts';
import { isAfter, requireReadable } from './log-events.ts';
import { scanLog } from './log-scan.ts';
import type { Store } from './store-api.ts';
import type { LoadResult } from './types.ts';

/**
 * A projection's state folded from the first event up to `until` (or the
 * head), leaving out `skip`: for time travel and what-if. Nothing is stored.
 */
export async function projectionAt(
  ctx: StoreContext,
  definition: AnyProjectionDefinition,
  until: LogCursor | null,
  skip?: ReadonlySet<string>,
): Promise<{ state: unknown; cursor: LogCursor | null; applied: number }> {
  const projection = projectionRuntime(definition);
  let state = projection.initialState();
  let cursor: LogCursor | null = null;
  let applied = 0;
  // 'exact': over compacted history the fold would miss events: HistoryCompactedError instead.
  // Events of other types whose upcast fails are looked at, not folded: they fail nothing here (requireReadable).
  const scan = scanLog(ctx.connection, ctx.registry, {}, { history: 'exact', upcastFailures: 'unreadable' });
  outer: for await (const batch of scan) {
    for (const { event, cursor: at } of batch.matches) {
      if (until && isAfter(at, until)) break outer;
      cursor = at;
      if (skip?.has(event.id)) continue;
      if (projection.handlers[event.type]) requireReadable(ctx.registry, event);
      const handler = event.known ? projection.handlers[event.type] : undefined;
      if (handler) {
        state = handler(state, event, { isReplay: true });
        applied++;
      }
    }
  }
  return { state, cursor, applied };
}

/** States as of a place in the log and/or without some events (devtools' before / after / what-if). */
export function createInspector(ctx: StoreContext): Pick<Store, 'inspect' | 'inspectProjection'> {
  return {
    async inspect(aggregate, aggregateId, options) {
      checkDefinition(aggregate, 'aggregate');
      checkAggregateId(aggregateId);
      checkOptionsObject(options, 'options');
      const result = await loadAggregate(ctx.connection, ctx.registry, aggregate, aggregateId, {
        until: options.until ?? null,
        skip: new Set(options.skip ?? []),
      });
      return result as LoadResult<never>;
    },
    async inspectProjection(definition, options) {
      checkDefinition(definition, 'projection');
      checkOptionsObject(options, 'options');
      return (await projectionAt(ctx, definition, options.until ?? null, new Set(options.skip ?? []))).state as never;
    },
  };
}

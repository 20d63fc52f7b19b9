import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyAggregateDefinition } from '../core/aggregate.ts';
import type { AnyEventDefinition } from '../core/event.ts';
import { dataCheckOf } from './http/push-data-check.ts';
import type { SyncServerOptions } from './server.ts';

/**
 * `chronicle-server --check-events <module>`: the app's event definitions for
 * createSyncServer's `checkEvents`, from a JavaScript module that exports
 * `events` and/or `aggregates` (arrays of the definitions its stores open
 * with), by name or as its default export's fields. The module is the app's
 * own (it imports `chronicle` and `zod` from the app's node_modules).
 */
export async function loadCheckEvents(path: string): Promise<NonNullable<SyncServerOptions['checkEvents']>> {
  const module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  const named = module.events !== undefined || module.aggregates !== undefined;
  const source = (named ? module : module.default) as { events?: unknown; aggregates?: unknown } | null | undefined;
  const events = typeof source === 'object' && source !== null ? source.events : undefined;
  const aggregates = typeof source === 'object' && source !== null ? source.aggregates : undefined;
  if (events === undefined && aggregates === undefined) {
    throw new Error(`it exports neither "events" nor "aggregates" (arrays of the app's event and aggregate definitions)`);
  }
  for (const [name, value] of [
    ['events', events],
    ['aggregates', aggregates],
  ] as const) {
    if (value !== undefined && !Array.isArray(value)) throw new Error(`its "${name}" export is not an array of definitions`);
  }
  const definitions = {
    ...(events ? { events: events as readonly AnyEventDefinition[] } : {}),
    ...(aggregates ? { aggregates: aggregates as readonly AnyAggregateDefinition[] } : {}),
  };
  // Definitions that clash fail here, before the store opens, as createSyncServer would fail on them.
  dataCheckOf(definitions);
  return definitions;
}

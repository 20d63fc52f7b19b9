import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyAggregateDefinition } from '../core/aggregate.ts';
import type { AnyEventDefinition } from '../core/event.ts';
import { settleWithin } from './http/deadline.ts';
import { dataCheckOf } from './http/push-data-check.ts';
import type { SyncServerOptions } from './server.ts';

/**
 * `chronicle-server --check-events <module>`: the app's event definitions for
 * createSyncServer's `checkEvents`, from a JavaScript module that exports
 * `events` and/or `aggregates` (arrays of the definitions its stores open
 * with), and `allowEncrypted: true` when the app encrypts, by name or as its
 * default export's fields. The module is the app's
 * own (it imports `chronicle` and `zod` from the app's node_modules).
 */
/** How long the module may take to load. */
const LOAD_MS = 30_000;

export async function loadCheckEvents(path: string): Promise<NonNullable<SyncServerOptions['checkEvents']>> {
  // Bounded, and a pending timer: a module whose top-level await never settles would otherwise let the
  // process end quietly with nothing started.
  const module = (await settleWithin(
    import(pathToFileURL(resolve(path)).href),
    LOAD_MS,
    () => new Error(`it did not finish loading within ${LOAD_MS / 1000} s`),
  )) as Record<string, unknown>;
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
  const allowEncrypted =
    typeof source === 'object' && source !== null ? (source as { allowEncrypted?: unknown }).allowEncrypted : undefined;
  if (allowEncrypted !== undefined && typeof allowEncrypted !== 'boolean')
    throw new Error('its "allowEncrypted" export is not true or false');
  const definitions = {
    ...(events ? { events: events as readonly AnyEventDefinition[] } : {}),
    ...(aggregates ? { aggregates: aggregates as readonly AnyAggregateDefinition[] } : {}),
    ...(allowEncrypted ? { allowEncrypted } : {}),
  };
  // Definitions that clash fail here, before the store opens, as createSyncServer would fail on them.
  dataCheckOf(definitions);
  return definitions;
}

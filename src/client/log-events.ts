import type { LogEvent, StoredEvent } from '../core/event.ts';
import type { Registry } from '../core/registry.ts';
import { isAfter, type LogCursor } from '../core/cursor.ts';
import { decodePageJson, type RawPage } from '../../worker/contract.ts';

/** An event with its place in the log, for checkpoints. */
export interface PlacedEvent {
  event: LogEvent;
  cursor: LogCursor;
  /** The event exactly as stored (data not upcast): what export writes. */
  stored: StoredEvent;
}

export { isAfter } from '../core/cursor.ts';

/** Parses a raw page into stored events (data as written, not yet upcast). */
export function parsePage(page: RawPage): StoredEvent[] {
  return decodePageJson(page.json);
}

/**
 * Decodes a page's events after `after`. With `keepStored`, each entry also
 * keeps the stored form untouched (exports need it); without, events are
 * decoded in place, which saves a copy of every event on hot read paths.
 */
export function decodePage(registry: Registry, page: RawPage, after?: LogCursor | null, keepStored = true): PlacedEvent[] {
  const stored = parsePage(page);
  const out: PlacedEvent[] = [];
  for (let index = 0; index < stored.length; index++) {
    const cursor = { area: page.area, page: page.page, index };
    if (!isAfter(cursor, after)) continue;
    const raw = stored[index]!;
    const event = keepStored ? registry.decode(raw) : registry.decodeInPlace(raw);
    out.push({ event, cursor, stored: raw });
  }
  return out;
}

import type { LogEvent, StoredEvent } from '../core/event.ts';
import { ChronicleError } from '../core/errors.ts';
import type { Registry } from '../core/registry.ts';
import { isAfter, slotOf, type LogCursor } from '../core/cursor.ts';
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
 * One stored event decoded (upcast) at its place. With `keepStored`, the entry
 * also keeps the stored form untouched (exports need it); without, the event
 * is decoded in place, which saves a copy of every event on hot read paths.
 */
export function placeEvent(
  registry: Registry,
  stored: StoredEvent,
  cursor: LogCursor,
  keepStored: boolean,
  upcastFailures: UpcastFailures = 'throw',
): PlacedEvent {
  return { event: decodeEvent(registry, stored, keepStored, upcastFailures), cursor, stored };
}

/**
 * What a reader does with an event whose upcast fails (UPCAST): 'throw' fails
 * the read (loads and reads: no state is folded without it); 'unreadable'
 * reads it as an event this build cannot read (known: false), for readers
 * that stop before such an event and wait for a build that can (reactions,
 * compaction) or only look at it (log subscriptions, exports, a rebase, a
 * fold of other types: those that need it call requireReadable).
 */
export type UpcastFailures = 'throw' | 'unreadable';

/**
 * For a reader that read `event` with upcastFailures 'unreadable' and needs
 * it (its type is one it folds or hands over): throws the UPCAST error when
 * the event is unreadable because its upcast fails, so that read fails as
 * loudly as a 'throw' read would. An event of a newer version or of a type
 * this build does not define decodes as unreadable again, and passes.
 */
export function requireReadable(registry: Registry, event: LogEvent): void {
  if (!event.known) registry.decode(event as unknown as StoredEvent);
}

/** A stored event decoded (upcast); see placeEvent and UpcastFailures. */
export function decodeEvent(registry: Registry, stored: StoredEvent, keepStored: boolean, upcastFailures: UpcastFailures): LogEvent {
  try {
    return keepStored ? registry.decode(stored) : registry.decodeInPlace(stored);
  } catch (error) {
    if (upcastFailures === 'throw' || !(error instanceof ChronicleError) || error.code !== 'UPCAST') throw error;
    return { ...stored, known: false, storedVersion: stored.version, upcastError: error.message };
  }
}

/**
 * Decodes a page's events after `after` that `wanted` accepts (every one by
 * default), judged on their stored form: pages hold many aggregates' events,
 * and one nobody asked for is never upcast, so an event whose upcast fails
 * (UPCAST) fails the reads of it alone, not those of its page's neighbours.
 */
export function decodePage(
  registry: Registry,
  page: RawPage,
  after?: LogCursor | null,
  keepStored = true,
  wanted?: (stored: StoredEvent) => boolean,
  upcastFailures: UpcastFailures = 'throw',
): PlacedEvent[] {
  const stored = parsePage(page);
  const out: PlacedEvent[] = [];
  for (let index = 0; index < stored.length; index++) {
    const cursor = { area: page.area, page: page.page, index: slotOf(page, index) };
    if (!isAfter(cursor, after)) continue;
    const raw = stored[index]!;
    if (wanted && !wanted(raw)) continue;
    out.push(placeEvent(registry, raw, cursor, keepStored, upcastFailures));
  }
  return out;
}

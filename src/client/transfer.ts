import { ChronicleError } from '../core/errors.ts';
import type { StoredEvent } from '../core/event.ts';
import { sameStoredEvent } from '../core/same-event.ts';
import { checkLogSource } from './argument-checks.ts';
import type { EngineConnection } from './connection.ts';
import type { StoreContext } from './context.ts';
import { checkImportedEvent, createLineChecker } from './import-lines.ts';
import { scanLog } from './log-scan.ts';
import { checkLogFilter } from './read-options.ts';
import type { Store } from './store-api.ts';
import type { ImportResult } from './types.ts';

/** Events written per engine call while importing. */
const IMPORT_CHUNK = 2000;

/** A chunk of confirmed events; a file that is not the whole log from here on says so (a filtered export). */
async function importConfirmedPart(ctx: StoreContext, events: StoredEvent[]): Promise<{ stored: number; head: number }> {
  try {
    return await ctx.connection.engine.ingestConfirmed(events);
  } catch (error) {
    if ((error as ChronicleError | null)?.code !== 'POSITION_GAP') throw error;
    const { expected, got } = (error as ChronicleError).details as { expected?: number; got?: number };
    throw new ChronicleError(
      'POSITION_GAP',
      `The file's confirmed events skip from position ${(expected ?? 1) - 1} to ${got}: it is not the whole log ` +
        '(a filtered export, or one of a compacted store?). Only an export of the whole log can be imported.',
      { expected, got },
    );
  }
}

/**
 * Positions this store holds already (up to `storedHead`) are skipped, as a
 * sync skips a page pulled twice; but only if they hold the same events, the
 * same in every field. Another log's export would otherwise continue this log
 * with its own, and an edited export would be taken for imported.
 */
async function refuseAnotherLog({ connection, registry }: StoreContext, events: StoredEvent[], storedHead: number): Promise<void> {
  const overlap = events.filter((e) => Number.isInteger(e.position) && e.position! >= 1 && e.position! <= storedHead);
  if (overlap.length === 0) return;
  const filter = { fromPosition: overlap[0]!.position, toPosition: overlap.at(-1)!.position };
  const stored = new Map<number, StoredEvent>();
  // Positions compaction dropped here cannot be compared: those are skipped unchecked.
  const read = { keepStored: true, upcastFailures: 'unreadable', history: 'kept' } as const;
  for await (const batch of scanLog(connection, registry, filter, read))
    for (const { stored: e } of batch.matches) stored.set(e.position!, e);
  for (const e of overlap) {
    const here = stored.get(e.position!);
    if (here !== undefined && here.id !== e.id)
      throw new ChronicleError(
        'VALIDATION',
        `The file's event at position ${e.position} (${e.id}) is not the one this store holds there (${here.id}): ` +
          'it is the export of another log, and nothing from it was imported.',
        { position: e.position, id: e.id, stored: here.id },
      );
    // The same id with other contents: an edited file (or a damaged one). Skipping it would import nothing of it
    // without a word; keeping it would rewrite a confirmed event (DESIGN, invariant 1).
    if (here !== undefined && !sameStoredEvent(here, e))
      throw new ChronicleError(
        'VALIDATION',
        `The file's event at position ${e.position} (${e.id}) differs from the one this store holds there: ` +
          'the file was changed after it was exported, and nothing from it was imported.',
        { position: e.position, id: e.id, stored: here.id },
      );
  }
}

/**
 * Each aggregate's stream head as this import goes: confirmed events are
 * stored with the seqs the file gives, and the log's seqs are gapless and
 * unique per aggregate (DESIGN, invariant 2), so the first new confirmed event
 * of an aggregate must be its stored head + 1 (a first event at seq 5, or at
 * 2^53, would leave a gap, or make the next append reuse a seq), and each
 * later one the one before it + 1. Events at positions the store holds
 * already are skipped, as ingestConfirmed skips them, so an import into a
 * store that holds part of the same log checks only what it adds. Heads are
 * read once per aggregate (none while the store was empty when the import
 * began); pending events are checked by the engine in their own transaction,
 * and their aggregates' heads are read again after them.
 */
function createHeadCheck(engine: EngineConnection['engine'], storeWasEmpty: boolean) {
  const heads = new Map<string, number>();
  const readAgain = new Set<string>();
  return {
    async checkConfirmed(events: readonly StoredEvent[], lines: readonly number[], storedHead: number): Promise<void> {
      const fresh = events.flatMap((event, i) => (event.position! > storedHead ? [{ event, line: lines[i]! }] : []));
      const unread = [...new Set(fresh.map(({ event }) => event.aggregateId))].filter(
        (id) => !heads.has(id) && (!storeWasEmpty || readAgain.has(id)),
      );
      const read = await Promise.all(unread.map((id) => engine.streamHead(id)));
      unread.forEach((id, i) => heads.set(id, read[i]!));
      for (const { event, line } of fresh) {
        const { aggregateId, seq } = event;
        const head = heads.get(aggregateId) ?? 0;
        if (seq !== head + 1) {
          throw new ChronicleError(
            'SEQ_GAP',
            `Line ${line} holds seq ${seq} of ${aggregateId}, whose stream in this store ` +
              `${head === 0 ? 'holds no events' : `ends at seq ${head}`}: its next event must be seq ${head + 1}`,
            { aggregateId, expected: head + 1, got: seq, line },
          );
        }
        heads.set(aggregateId, seq);
      }
    },
    pendingStored(events: readonly StoredEvent[]): void {
      for (const { aggregateId } of events) {
        heads.delete(aggregateId);
        readAgain.add(aggregateId);
      }
    },
  };
}

/** NDJSON export and import of the log, one stored event per line (devtools, bug reports, scratch stores). */
export function createTransfer(ctx: StoreContext): Pick<Store, 'exportLog' | 'importLog'> {
  const { connection, registry, travel } = ctx;
  const engine = connection.engine;
  return {
    async *exportLog(filter) {
      checkLogFilter(filter);
      // The stored form is written, never the decoded one: an event whose upcast fails is exported as it is.
      for await (const batch of scanLog(connection, registry, filter ?? undefined, { keepStored: true, upcastFailures: 'unreadable' })) {
        for (const { stored } of batch.matches) yield JSON.stringify(stored);
      }
    },
    async importLog(source) {
      checkLogSource(source);
      travel.assertWritable();
      const stats = await engine.stats();
      let head = stats.confirmedHead;
      const heads = createHeadCheck(engine, head === 0 && stats.pendingEvents === 0);
      const lines: AsyncIterable<unknown> | Iterable<unknown> = typeof source === 'string' ? source.split('\n') : source;
      const result: ImportResult = { confirmed: 0, pending: 0 };
      let confirmed: StoredEvent[] = [];
      let confirmedLines: number[] = [];
      let pending: StoredEvent[] = [];
      const flush = async () => {
        if (confirmed.length) {
          await refuseAnotherLog(ctx, confirmed, head);
          await heads.checkConfirmed(confirmed, confirmedLines, head);
          const ingested = await importConfirmedPart(ctx, confirmed);
          result.confirmed += ingested.stored;
          head = ingested.head;
        }
        if (pending.length) {
          result.pending += (await engine.importPending(pending)).stored;
          heads.pendingStored(pending);
        }
        confirmed = [];
        confirmedLines = [];
        pending = [];
      };
      const checkLine = createLineChecker();
      let lineNo = 0;
      for await (const line of lines) {
        lineNo++;
        // Its items are the app's: one that is not a string is refused by checkLine, naming the line.
        const text = typeof line === 'string' ? line.trim() : line;
        if (text === '') continue;
        const event = checkLine(text, lineNo);
        checkImportedEvent(registry, event, lineNo);
        // Confirmed events come first in log order; keep each kind in order and write in chunks.
        if (event.position !== undefined) {
          if (pending.length) await flush();
          confirmed.push(event);
          confirmedLines.push(lineNo);
        } else pending.push(event);
        if (confirmed.length + pending.length >= IMPORT_CHUNK) await flush();
      }
      await flush();
      return result;
    },
  };
}

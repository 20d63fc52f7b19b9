import { ValidationError } from '../core/errors.ts';
import type { StoredEvent } from '../core/event.ts';
import type { StoreContext } from './context.ts';
import { scanLog } from './log-scan.ts';
import type { Store } from './store-api.ts';
import type { ImportResult } from './types.ts';

/** Events written per engine call while importing. */
const IMPORT_CHUNK = 2000;

/** NDJSON export and import of the log, one stored event per line (devtools, bug reports, scratch stores). */
export function createTransfer(ctx: StoreContext): Pick<Store, 'exportLog' | 'importLog'> {
  const { connection, registry, travel } = ctx;
  const engine = connection.engine;
  return {
    async *exportLog(filter) {
      for await (const batch of scanLog(connection, registry, filter, { keepStored: true })) {
        for (const { stored } of batch.matches) yield JSON.stringify(stored);
      }
    },
    async importLog(source) {
      travel.assertWritable();
      const lines: AsyncIterable<string> | Iterable<string> = typeof source === 'string' ? source.split('\n') : source;
      const result: ImportResult = { confirmed: 0, pending: 0 };
      let confirmed: StoredEvent[] = [];
      let pending: StoredEvent[] = [];
      const flush = async () => {
        if (confirmed.length) result.confirmed += (await engine.ingestConfirmed(confirmed)).stored;
        if (pending.length) result.pending += (await engine.importPending(pending)).stored;
        confirmed = [];
        pending = [];
      };
      let lineNo = 0;
      for await (const line of lines) {
        lineNo++;
        const text = line.trim();
        if (!text) continue;
        let event: StoredEvent;
        try {
          event = JSON.parse(text) as StoredEvent;
        } catch (error) {
          throw new ValidationError('?', `line ${lineNo}`, `not JSON: ${String(error)}`);
        }
        // Confirmed events come first in log order; keep each kind in order and write in chunks.
        if (event.position !== undefined) {
          if (pending.length) await flush();
          confirmed.push(event);
        } else pending.push(event);
        if (confirmed.length + pending.length >= IMPORT_CHUNK) await flush();
      }
      await flush();
      return result;
    },
  };
}

import { ChronicleError } from './errors.ts';
import { isEncryptedEnvelope } from './encryption.ts';
import type { StoredEvent } from './event.ts';
import { firstSchemaIssue, type Registry } from './registry.ts';

/**
 * Whether an event's data is what the app's event definitions say it must be,
 * judged the way a reader of this build reads it: the current version's data
 * by the type's schema, an older version's through its upcasters and then the
 * schema (Registry.decode). The sync server runs it on pushed events when it
 * is given the app's definitions (createSyncServer's `checkEvents`), so that
 * one client's `qty: "lots"` never reaches every other client's reducers.
 *
 * It only refuses what it can judge: an event of a type the definitions do not
 * know, of a version newer than they define (a newer app build wrote it), or
 * whose data is encrypted (the server cannot read it) passes. Pure: the
 * definitions' schemas and upcasters are the only code it runs.
 */

/** What is wrong with an event's data: the field (`data.qty`, `data` for the whole) and why. */
export interface DataProblem {
  path: string;
  reason: string;
}

/** The fields of an event the check reads. */
export type CheckedEvent = Pick<StoredEvent, 'id' | 'type' | 'version' | 'data'>;

export function findDataProblem(registry: Registry, event: CheckedEvent): DataProblem | undefined {
  const definition = registry.definition(event.type);
  if (!definition || event.version > definition.version) return undefined;
  if (isEncryptedEnvelope(event.data)) return undefined;
  if (event.version === definition.version) {
    // What an append stores is the schema's output; a schema whose output parses again (no transform that
    // changes a value's type) takes it back unchanged. The README says so for schemas given to the server.
    const parsed = definition.schema.safeParse(event.data);
    if (parsed.success) return undefined;
    return firstSchemaIssue(parsed.error);
  }
  try {
    registry.decode(event as StoredEvent);
    return undefined;
  } catch (error) {
    if (!(error instanceof ChronicleError) || error.code !== 'UPCAST') throw error;
    const path = typeof error.details.path === 'string' ? error.details.path : 'data';
    return { path, reason: error.message };
  }
}

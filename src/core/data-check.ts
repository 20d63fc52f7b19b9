import { ChronicleError } from './errors.ts';
import { isEncryptedEnvelope } from './encryption.ts';
import type { AnyEventDefinition, StoredEvent } from './event.ts';
import { firstJsonDifference } from './json-diff.ts';
import { firstSchemaIssue, type Registry } from './registry.ts';
import { describeThrown } from './thrown.ts';

/**
 * Whether an event's data is what the app's event definitions say it must be,
 * judged the way a reader of this build reads it: the current version's data
 * by the type's schema, an older version's through its upcasters and then the
 * schema (Registry.decode). The sync server runs it on pushed events when it
 * is given the app's definitions (createSyncServer's `checkEvents`), so that
 * one client's `qty: "lots"` never reaches every other client's reducers.
 *
 * It only refuses what it can judge: an event of a type the definitions do not
 * know, or of a version newer than they define (a newer app build wrote it),
 * passes, and so does encrypted data where the app says it encrypts. Anything
 * the definitions throw is a problem of the event, never an exception. Pure:
 * the definitions' schemas and upcasters are the only code it runs.
 */

/** What is wrong with an event's data: the field (`data.qty`, `data` for the whole) and why. */
export interface DataProblem {
  path: string;
  reason: string;
}

/** The fields of an event the check reads. */
export type CheckedEvent = Pick<StoredEvent, 'id' | 'type' | 'version' | 'data'>;

/** How the check treats what it cannot read. */
export interface DataCheckOptions {
  /** Data that is an encryption envelope passes (the app encrypts: the server cannot read it). Default false: it is refused. */
  allowEncrypted?: boolean | undefined;
}

export function findDataProblem(registry: Registry, event: CheckedEvent, options: DataCheckOptions = {}): DataProblem | undefined {
  const definition = registry.definition(event.type);
  if (!definition || event.version > definition.version) return undefined;
  if (isEncryptedEnvelope(event.data)) {
    // An app that does not encrypt never writes one: on its devices such an event stops every pull (no key).
    if (options.allowEncrypted) return undefined;
    return { path: 'data', reason: 'is an encrypted envelope, and this server was not told that events may be encrypted (allowEncrypted)' };
  }
  try {
    if (event.version === definition.version) return currentVersionProblem(definition, event.data);
    registry.decode(event as StoredEvent);
    return undefined;
  } catch (error) {
    if (error instanceof ChronicleError && error.code === 'UPCAST') {
      const path = typeof error.details.path === 'string' ? error.details.path : 'data';
      return { path, reason: error.message };
    }
    // The app's schema or upcaster threw (a transform that fails, an async refinement): the event is not readable data.
    return { path: 'data', reason: `the app's definition of ${event.type} threw on it: ${describeThrown(error)}` };
  }
}

/**
 * Readers get current-version data as it is stored, without parsing it again
 * (Registry.decodeInPlace): so the schema must take it unchanged, not only
 * accept it. What an append stores is the schema's output, which a schema
 * without value-changing transforms takes back as it is.
 */
function currentVersionProblem(definition: AnyEventDefinition, data: unknown): DataProblem | undefined {
  const parsed = definition.schema.safeParse(data);
  if (!parsed.success) return firstSchemaIssue(parsed.error);
  const difference = firstJsonDifference(data, parsed.data);
  if (difference === undefined) return undefined;
  const { path, left, right } = difference;
  if (right === undefined) return { path, reason: 'is not a field of the schema (an append would have dropped it)' };
  if (left === undefined) {
    return { path, reason: 'is missing (the schema fills a default; a field added to an event needs a new version and an upcaster)' };
  }
  return { path, reason: 'is not stored as the schema writes it (the schema changes this value)' };
}

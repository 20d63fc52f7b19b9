import * as Comlink from 'comlink';
import { ChronicleError, errorFromJSON, isSerializedError, type SerializedError } from '../src/core/errors.ts';

type Thrown = { value: unknown };
type Wire = { chronicle: SerializedError } | { comlink: unknown };

let installed = false;

/**
 * comlink sends a thrown error as a bare Error (message and stack only). This
 * wraps its "throw" handler on both sides so a ChronicleError arrives as the
 * same class with its code and fields; other errors go through comlink's own
 * handler. Call it in the worker and on the main thread.
 */
export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const original = Comlink.transferHandlers.get('throw') as Comlink.TransferHandler<Thrown, unknown>;
  const handler: Comlink.TransferHandler<Thrown, Wire> = {
    canHandle: (value): value is Thrown => original.canHandle(value),
    serialize(thrown) {
      if (thrown.value instanceof ChronicleError) return [{ chronicle: thrown.value.toJSON() }, []];
      const [wire, transfer] = original.serialize(thrown);
      return [{ comlink: wire }, transfer];
    },
    deserialize(wire) {
      if ('chronicle' in wire && isSerializedError(wire.chronicle)) throw errorFromJSON(wire.chronicle);
      return original.deserialize((wire as { comlink: unknown }).comlink);
    },
  };
  Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
}

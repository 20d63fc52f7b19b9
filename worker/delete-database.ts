/**
 * IndexedDB's deleteDatabase as a promise. A delete waits for every
 * connection to the database to close: stores close theirs when told, a raw
 * connection (or an old build's tab) may not. Either way the delete happens
 * once they have closed; these only say how the caller hears of the wait.
 */

/** Deletes the database; `onBlocked` is told (once) when open connections hold the delete back. */
export function deleteDatabase(factory: IDBFactory, name: string, onBlocked?: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = factory.deleteDatabase(name);
    let told = false;
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error ?? new Error(`could not delete database "${name}"`));
    request.onblocked = () => {
      if (told) return;
      told = true;
      onBlocked?.();
    };
  });
}

/**
 * deleteDatabase, failing with `blocked()` once connections have held it
 * back for `ms` (the delete itself still happens when they close).
 */
export function deleteDatabaseWithin(factory: IDBFactory, name: string, ms: number, blocked: () => Error): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let giveUp: (error: Error) => void = () => undefined;
  const heldBack = new Promise<never>((_, reject) => (giveUp = reject));
  const deleting = deleteDatabase(factory, name, () => {
    timer = setTimeout(() => giveUp(blocked()), ms);
  });
  return Promise.race([deleting, heldBack]).finally(() => clearTimeout(timer));
}

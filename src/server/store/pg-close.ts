import type pg from 'pg';

/**
 * Closing PostgreSQL connections within a bound. pg ends a connection
 * politely (Terminate, then it waits for the database to close its side), so
 * on a network that silently drops packets an end never finishes, and a
 * server asked to stop (SIGTERM) would wait for the operating system to give
 * up on the connection, many minutes later. After `graceMs` the connections
 * still open are destroyed instead.
 */

/** How long a polite end may take before the connections are destroyed. */
export const CLOSE_GRACE_MS = 2_000;

/** The socket under a pg client: pg has no public way to destroy a connection at once. */
function destroySocket(client: pg.Client | pg.PoolClient): void {
  (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
}

/** Waits for `ending` (a pool's or client's end) at most `graceMs`, then destroys `clients()` and waits a grace more. */
export async function endWithin(
  ending: Promise<void>,
  clients: () => Iterable<pg.Client | pg.PoolClient>,
  graceMs = CLOSE_GRACE_MS,
): Promise<void> {
  const settled = ending.then(
    () => true,
    () => true,
  );
  const within = (ms: number) => Promise.race([settled, new Promise<false>((resolve) => setTimeout(resolve, ms, false).unref())]);
  if (await within(graceMs)) return;
  for (const client of clients()) destroySocket(client);
  await within(graceMs);
}

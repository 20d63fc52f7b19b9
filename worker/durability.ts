import type { ChronicleDB, SyncFlushRecord } from './db.ts';

/**
 * Where Chronicle asks IndexedDB to flush to disk before it goes on.
 *
 * Browsers commit a readwrite transaction with relaxed durability unless told
 * otherwise (Chromium since version 121, Firefox, Safari): `complete` fires
 * once the data is handed to the operating system, not once it is on the
 * disk. That survives a crash of the tab or the browser, but a power cut or an
 * operating-system crash can take the last moments' commits with it. For most
 * writes that is the right trade (a lost local edit is like one not yet made),
 * but not once something has left the device on the strength of it: a card
 * charged by a reaction for an order the device then forgets is an order the
 * user enters again and a card charged twice; events the server holds but the
 * device forgot come back under clientSeqs it hands out again.
 *
 * So every commit that precedes an effect outside the device is strict: the
 * reaction's in-flight marker before its handler runs, a replay job's record,
 * and a flush before each push. A strict commit flushes the database's whole
 * journal, so it makes every earlier commit durable too (the events a handler
 * or a push carries included), however they were written.
 */
export const FLUSH_TO_DISK: IDBTransactionOptions = { durability: 'strict' };

/** How a store's appends commit: the browser's default, or flushed to disk before the promise resolves. */
export type AppendDurability = 'relaxed' | 'strict';

/** The transaction options of a commit that holds appends (see AppendDurability). */
export const appendCommitOptions = (durability: AppendDurability | undefined): IDBTransactionOptions | undefined =>
  durability === 'strict' ? FLUSH_TO_DISK : undefined;

/**
 * Flushes every commit made so far in this database to disk: a strict
 * transaction with one small write (a transaction that writes nothing may
 * commit without touching the disk at all). Before a push.
 */
export async function flushToDisk(db: ChronicleDB): Promise<void> {
  const tx = db.transaction('sync', 'readwrite', FLUSH_TO_DISK);
  const record: SyncFlushRecord = { at: Date.now() };
  await Promise.all([tx.store.put(record, 'flushed'), tx.done]);
}

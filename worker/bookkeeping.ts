import { sameCursor } from '../src/core/cursor.ts';
import { FLUSH_TO_DISK } from './durability.ts';
import type { ChronicleDB, JobRecord, ProjectionRecord, ProjectionStamp, SnapshotRecord } from './db.ts';

type Run = <T>(operation: string, fn: (db: ChronicleDB) => Promise<T>) => Promise<T>;

/** The records readers keep beside the log: snapshots, projection states and replay-job checkpoints. */
export interface Bookkeeping {
  getSnapshot(aggregateId: string): Promise<SnapshotRecord | undefined>;
  /**
   * Stores an aggregate's snapshot, unless a newer reducer version's is stored
   * (a tab of a newer build is open beside this one): false then, and it stays.
   * `ifRewrites`: the log's pendingRewrites the state was folded at; false, and
   * nothing stored, when pending events were rewritten since (see below).
   */
  putSnapshot(snapshot: SnapshotRecord, ifRewrites?: number): Promise<boolean>;
  deleteSnapshot(aggregateId: string): Promise<void>;
  /** A projection's record, and the log's pendingRewrites (MetaRecord) read with it. */
  getProjection(name: string): Promise<{ record: ProjectionRecord | undefined; pendingRewrites: number }>;
  /**
   * Writes a projection's state and cursors if the stored ones are still
   * `expected` (compare-and-set), and never over a newer version's record: a
   * tab of an older build must not make a newer one fold the log again.
   */
  commitProjection(expected: ProjectionStamp, record: ProjectionRecord): Promise<boolean>;
  deleteProjection(name: string): Promise<void>;
  getJob(name: string): Promise<JobRecord | undefined>;
  putJob(job: JobRecord): Promise<void>;
  deleteJob(name: string): Promise<void>;
}

export function createBookkeeping(run: Run, projectionCommitted: (name: string) => void): Bookkeeping {
  return {
    getSnapshot: (aggregateId) => run('getSnapshot', (db) => db.get('snapshots', aggregateId)),
    putSnapshot: (snapshot, ifRewrites) =>
      run('putSnapshot', async (db) => {
        const tx = db.transaction(['snapshots', 'meta'], 'readwrite');
        const snapshots = tx.objectStore('snapshots');
        const [stored, meta] = await Promise.all([snapshots.get(snapshot.aggregateId), tx.objectStore('meta').get('client')]);
        // Replacing it would make the newer build fold the stream again on its next load, and so on, in turn.
        const newer = stored?.aggregateType === snapshot.aggregateType && stored.reducerVersion > snapshot.reducerVersion;
        // A rebase or a rejection committed after the load read its events: the state may hold events that
        // are at other seqs now, or gone, and the snapshot those drop (rebase.ts) is already dropped.
        const rewritten = ifRewrites !== undefined && (meta?.pendingRewrites ?? 0) !== ifRewrites;
        const put = !newer && !rewritten;
        if (put) await snapshots.put(snapshot, snapshot.aggregateId);
        await tx.done;
        return put;
      }),
    deleteSnapshot: (aggregateId) => run('deleteSnapshot', (db) => db.delete('snapshots', aggregateId)),
    getProjection: (projection) =>
      run('getProjection', async (db) => {
        const tx = db.transaction(['projections', 'meta']);
        const [record, meta] = await Promise.all([tx.objectStore('projections').get(projection), tx.objectStore('meta').get('client')]);
        return { record, pendingRewrites: meta?.pendingRewrites ?? 0 };
      }),
    commitProjection: (expected, record) =>
      run('commitProjection', async (db) => {
        const tx = db.transaction('projections', 'readwrite');
        const found = await tx.store.get(record.name);
        const current = found && found.version === record.version ? found : undefined;
        const newer = found !== undefined && found.version > record.version;
        const matches =
          !newer &&
          sameCursor(current?.cursor ?? null, expected.cursor) &&
          sameCursor(current?.pending?.cursor ?? null, expected.pendingCursor);
        if (!matches) {
          await tx.done;
          return false;
        }
        await tx.store.put(record, record.name);
        await tx.done;
        projectionCommitted(record.name);
        return true;
      }),
    deleteProjection: (projection) => run('deleteProjection', (db) => db.delete('projections', projection)),
    getJob: (job) => run('getJob', (db) => db.get('jobs', job)),
    // Flushed: a replay job's record says which events a crash may have handled unrecorded (durability.ts).
    putJob: (job) =>
      run('putJob', async (db) => {
        const tx = db.transaction('jobs', 'readwrite', FLUSH_TO_DISK);
        await Promise.all([tx.store.put(job, job.name), tx.done]);
      }),
    deleteJob: (job) => run('deleteJob', (db) => db.delete('jobs', job)),
  };
}

import { ConfigError, InUseError, type ForgettableKind } from '../core/errors.ts';
import type { StoreContext } from './context.ts';
import { ifNotHeld, jobLockName } from './exclusive.ts';

/**
 * store.forget(): lets go of the stored checkpoint of a projection, a named
 * replay job or a reaction that the app no longer uses. Each such checkpoint
 * holds compaction back at the place it stopped (report.blockedBy); an app
 * that removed or renamed one would otherwise keep the history after it on
 * the device for good.
 */

/** What to forget: a blocker of kind projection, job or reaction from report.blockedBy will do. */
export interface ForgetTarget {
  kind: ForgettableKind;
  name: string;
}

export interface ForgetResult {
  /** False when nothing was stored under that name (or it was forgotten already). */
  forgotten: boolean;
}

const KINDS: readonly ForgettableKind[] = ['projection', 'job', 'reaction'];

/** What this store uses now, so that forget() refuses it. */
export interface InUse {
  /** The version of this store's projection of that name, if it has one (a record of another version is not this store's). */
  projectionVersion(name: string): number | undefined;
  job(name: string): boolean;
  reaction(name: string): boolean;
}

function checkTarget(target: unknown): ForgetTarget {
  const { kind, name } = (typeof target === 'object' && target !== null ? target : {}) as Partial<Record<keyof ForgetTarget, unknown>>;
  if (!KINDS.includes(kind as ForgettableKind)) {
    throw new ConfigError(`forget() takes a kind of ${KINDS.join(', ')}; got ${JSON.stringify(kind)}`);
  }
  if (typeof name !== 'string' || name.length === 0) throw new ConfigError('forget() takes a name, a non-empty string');
  return { kind: kind as ForgettableKind, name };
}

export function createForget(ctx: StoreContext, inUse: InUse): (target: ForgetTarget) => Promise<ForgetResult> {
  const { engine } = ctx.connection;
  return async (given) => {
    const { kind, name } = checkTarget(given);
    if (kind === 'projection') {
      // Another tab that still registers it folds it again from the start (and stores it again).
      const { record } = await engine.getProjection(name);
      // A record of another version than this store's is not in use here: after a rollback that kept the
      // version, a newer build's record would otherwise hold compaction back for good (projection-runner.ts).
      const registered = inUse.projectionVersion(name);
      if (registered !== undefined && (record === undefined || record.version === registered)) {
        throw new InUseError(kind, name, 'this-store');
      }
      if (record) await engine.deleteProjection(name);
      return { forgotten: record !== undefined };
    }
    if (inUse[kind](name)) throw new InUseError(kind, name, 'this-store');
    switch (kind) {
      case 'job': {
        // A later run of that name starts from the start. A run in another tab would store its checkpoint again.
        const forget = async () => {
          const job = await engine.getJob(name);
          if (job) await engine.deleteJob(name);
          return { forgotten: job !== undefined };
        };
        return ifNotHeld(jobLockName(ctx.name, name), forget, () => {
          throw new InUseError(kind, name, 'another-tab');
        });
      }
      case 'reaction': {
        const outcome = await engine.forgetReaction(name);
        if (outcome === 'running') throw new InUseError(kind, name, 'another-tab');
        return { forgotten: outcome === 'forgotten' };
      }
    }
  };
}

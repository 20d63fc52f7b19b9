import type { AnyProjectionDefinition } from '../core/projection.ts';
import { checkCallback } from './argument-checks.ts';
import type { StoreContext } from './context.ts';
import { projectionAt } from './inspect.ts';
import { createProjectionRunner, snapshotRevision, type ProjectionRunner } from './projection-runner.ts';
import type { Store } from './store-api.ts';
import type { ProjectionSnapshot } from './types.ts';

export interface Projections {
  handle: Store['projection'];
  /** Keeps a declared projection caught up with the log for as long as the store is open. */
  follow(definition: AnyProjectionDefinition): void;
  /** The version of this store's projection of that name (declared, or asked for with store.projection()), if it has one. */
  versionOf(name: string): number | undefined;
}

/** One runner per projection name in this store, shared by every handle on it. */
export function createProjections(ctx: StoreContext): Projections {
  const { hub, travel } = ctx;
  const runners = new Map<string, ProjectionRunner>();
  const versions = new Map<string, number>();
  const runnerFor = (definition: AnyProjectionDefinition): ProjectionRunner => {
    let runner = runners.get(definition.name);
    if (!runner) {
      runner = createProjectionRunner(ctx, definition);
      runners.set(definition.name, runner);
      versions.set(definition.name, definition.version);
    }
    return runner;
  };

  return {
    versionOf: (name) => versions.get(name),
    follow(definition) {
      const runner = runnerFor(definition);
      hub.watch((change) => {
        if (change.kind === 'appended' || change.kind === 'confirmed') void runner.catchUp().catch(() => undefined);
      });
      void runner.catchUp().catch(() => undefined);
    },
    handle(definition) {
      const runner = runnerFor(definition);
      type S = never;
      const current = async (): Promise<ProjectionSnapshot<S>> => {
        const horizon = travel.horizon();
        return (horizon ? await projectionAt(ctx, definition, horizon) : await runner.catchUp()) as ProjectionSnapshot<S>;
      };
      return {
        get: current,
        rebuild: (rebuildOptions) => runner.rebuild(rebuildOptions) as Promise<ProjectionSnapshot<S>>,
        subscribe(listener, onError) {
          checkCallback(listener, 'listener');
          checkCallback(onError, 'onError', true);
          let last: string | undefined;
          let stopped = false;
          // Deliveries run one after another, each reading the horizon when it starts,
          // so a slow live read can never land after a time-travel read.
          let chain = Promise.resolve();
          const deliver = () => {
            chain = chain
              .then(async () => {
                if (stopped) return;
                const snapshot = await current();
                const key = `${snapshotRevision(snapshot)}|${travel.horizon() ? 'past' : 'live'}`;
                if (key !== last && !stopped) {
                  last = key;
                  listener(snapshot);
                }
              })
              .catch((error: unknown) => {
                last = undefined; // the next success is news, even if it equals the state before the failure
                if (!stopped) onError?.(error);
              });
          };
          const stopWatch = hub.watch((change) => {
            if (travel.horizon()) return; // frozen in the past until resume
            if (change.kind !== 'projection' || change.name === definition.name) deliver();
          });
          const stopTravel = travel.onTravel(() => deliver());
          // Closed (or stopped on its own), the store sends no change again: the subscriber hears why, once.
          const stopClosed = ctx.onClosed((error) => {
            stop();
            onError?.(error);
          });
          const stop = () => {
            stopped = true;
            stopTravel();
            stopWatch();
            stopClosed();
          };
          deliver();
          return stop;
        },
      };
    },
  };
}

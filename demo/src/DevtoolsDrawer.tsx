import { useEffect, useRef } from 'react';
import { mountDevtools } from 'chronicle/devtools';
import { Order } from './model.ts';
import type { DemoStore } from './store.ts';

/**
 * The Chronicle devtools panel (chronicle/devtools) in a drawer at the bottom
 * of the page: the log, each event's state before and after, time travel
 * (the app shows the past, read-only, until "Resume"), what-if, export and
 * import, sync. Closing the drawer unmounts the panel, which resumes any time
 * travel it started.
 */
export function DevtoolsDrawer({ store, onClose }: { store: DemoStore; onClose(): void }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const panel = mountDevtools(store, element, { aggregates: [Order], theme: 'light' });
    return () => void panel.unmount();
  }, [store]);
  return (
    <aside className="devtools-drawer" aria-label="Chronicle devtools" data-testid="devtools-drawer">
      <div className="devtools-bar">
        <span>Chronicle devtools</span>
        <button type="button" className="ghost small" onClick={onClose} aria-label="Close devtools">
          Close
        </button>
      </div>
      <div className="devtools-host" ref={host} />
    </aside>
  );
}

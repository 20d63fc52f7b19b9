import { useEffect, useRef } from 'react';
import type { DemoStore } from './store.ts';

/**
 * The Chronicle devtools panel in a drawer at the bottom of the page.
 *
 * DEVTOOLS SLOT: `mountDevtools(store, element, { aggregates })` from
 * 'chronicle/devtools' (src/devtools/) mounts here once that entry point
 * lands:
 *
 *   import { mountDevtools } from 'chronicle/devtools';
 *   const panel = mountDevtools(store, host.current, { aggregates: [Order] });
 *   return () => panel.unmount();
 */
export function DevtoolsDrawer({ store, onClose }: { store: DemoStore; onClose(): void }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current;
    if (!element) return;
    // DEVTOOLS SLOT (see above). Until the panel exists, say so instead of failing.
    element.replaceChildren(
      Object.assign(document.createElement('p'), {
        className: 'devtools-placeholder',
        textContent: `The devtools panel (chronicle/devtools) is not part of this build yet. Store "${store.name}".`,
      }),
    );
    return () => element.replaceChildren();
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

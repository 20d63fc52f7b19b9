import { exposeToDevtools } from 'chronicle/devtools';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { Order, OrderList } from './model.ts';
import { deviceName, loadConfig, openDemoStore, type DemoStore } from './store.ts';

declare global {
  interface Window {
    /** For the browser console and the end-to-end tests: the open store and the model. */
    chronicleDemo?: { store: DemoStore; Order: typeof Order; OrderList: typeof OrderList };
  }
}

const root = document.getElementById('root')!;

/**
 * The app loads offline too (public/sw.js): the service worker keeps what the
 * page loads, and is told what this first visit loaded before it was in place.
 */
async function keepAppOffline(): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  await navigator.serviceWorker.register('/sw.js');
  const registration = await navigator.serviceWorker.ready;
  const loaded = performance.getEntriesByType('resource').map((entry) => entry.name);
  // Once it has them, the page says so (data-offline-ready on <html>): for the curious, and the end-to-end test.
  const kept = new Promise<void>((resolve) =>
    navigator.serviceWorker.addEventListener('message', (event: MessageEvent<{ kept?: number }>) => {
      if (typeof event.data?.kept === 'number') resolve();
    }),
  );
  registration.active?.postMessage({ keep: [location.href, ...loaded] });
  await kept;
  document.documentElement.dataset.offlineReady = 'true';
}

async function start() {
  const config = await loadConfig();
  const device = deviceName();
  const store = await openDemoStore(config, device);
  window.chronicleDemo = { store, Order, OrderList };
  // For the browser extension's Chronicle panel (README, "The browser extension"): the demo is a development build.
  exposeToDevtools(store, { aggregates: [Order] });
  void store.requestPersistence().catch(() => false);
  void keepAppOffline().catch(() => undefined);
  createRoot(root).render(
    <StrictMode>
      <App store={store} config={config} device={device} />
    </StrictMode>,
  );
}

start().catch((error: unknown) => {
  const box = document.createElement('div');
  box.className = 'boot boot-error';
  box.setAttribute('role', 'alert');
  const title = document.createElement('strong');
  title.textContent = 'The local store could not be opened.';
  const detail = document.createElement('p');
  detail.textContent = error instanceof Error ? error.message : String(error);
  box.append(title, detail);
  root.replaceChildren(box);
});

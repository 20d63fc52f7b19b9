/**
 * Chronicle devtools: a time-travel panel for a store, framework-free.
 *
 *   import { mountDevtools } from 'chronicle/devtools';
 *   const panel = mountDevtools(store, document.getElementById('devtools')!, { aggregates: [Order] });
 *   // later: await panel.unmount();
 *
 * In the browser extension, the page calls `exposeToDevtools(store, { aggregates })`
 * and the extension's panel shows the same UI over a message bridge.
 */
import { ConfigError } from '../core/index.ts';
import { createBridgeHost, windowTransport, type BridgeTransport } from './bridge.ts';
import { createStoreSource, type DevtoolsStore, type StoreSourceOptions } from './store-source.ts';
import { isDevtoolsSource, type DevtoolsSource } from './types.ts';
import { mountPanel, type PanelHandle, type PanelOptions } from './ui/panel.ts';

export interface DevtoolsOptions extends StoreSourceOptions, Omit<PanelOptions, 'ownsSource'> {}

export type DevtoolsHandle = PanelHandle;

/**
 * Mounts the panel into `element`. Pass the store (with the aggregate
 * definitions whose states it should compute) or any DevtoolsSource.
 */
export function mountDevtools(store: DevtoolsStore | DevtoolsSource, element: HTMLElement, options: DevtoolsOptions = {}): DevtoolsHandle {
  if (!element || typeof (element as { append?: unknown }).append !== 'function') {
    throw new ConfigError('mountDevtools needs an element to mount into');
  }
  if (isDevtoolsSource(store)) return mountPanel(store, element, { ...options, ownsSource: false });
  const source = createStoreSource(store, options);
  return mountPanel(source, element, { ...options, ownsSource: true });
}

export interface ExposeOptions extends StoreSourceOptions {
  /** Where the panel listens; default: window.postMessage, which the extension's content script relays. */
  transport?: BridgeTransport;
}

export interface ExposedStore {
  /** Stops answering the devtools (and closes scratch stores they opened). */
  close(): Promise<void>;
}

/** Lets the Chronicle browser extension's devtools panel inspect this store. */
export function exposeToDevtools(store: DevtoolsStore, options: ExposeOptions = {}): ExposedStore {
  // Outside a page (a worker, Node) there is no window to post to: say so before anything is made.
  if (options.transport === undefined && typeof window === 'undefined')
    throw new ConfigError('exposeToDevtools needs a browser page (window), or options.transport to talk over');
  const source = createStoreSource(store, options);
  const host = createBridgeHost(source, options.transport ?? windowTransport('page'), store.name);
  return {
    async close() {
      await host.close();
      await source.dispose();
    },
  };
}

export { createStoreSource, type DevtoolsStore, type StoreSourceOptions } from './store-source.ts';
export { mountPanel, type PanelHandle, type PanelOptions, type DownloadFile } from './ui/panel.ts';
export {
  BRIDGE_CHANNEL,
  MAIN_SOURCE,
  connectBridge,
  createBridgeClient,
  createBridgeHost,
  isBridgeMessage,
  portTransport,
  windowTransport,
  type BridgeCall,
  type BridgeClient,
  type BridgeHost,
  type BridgeMessage,
  type BridgeResults,
  type BridgeTransport,
  type PageMessage,
  type PanelMessage,
  type PortLike,
} from './bridge.ts';
export { createEncoder, previewText, type Encoded, type EncodedContainer, type EncodedItem, type ValueEncoder } from './encode.ts';
export { diffValues, type DiffChange, type DiffResult } from './diff.ts';
export { compareCursor } from './cursor.ts';
export { DevtoolsError, RemoteError } from './errors.ts';
export {
  isDevtoolsSource,
  type DevtoolsEntry,
  type DevtoolsSource,
  type InspectRequest,
  type InspectResult,
  type PageRequest,
  type PageResult,
  type ParkedView,
  type ReactionsView,
  type SourceEvent,
  type SourceInfo,
  type StateQuery,
  type StateView,
} from './types.ts';

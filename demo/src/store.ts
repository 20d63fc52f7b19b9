/**
 * Opens this device's store. Everything the app imports from Chronicle comes
 * from the package's public entry points ('chronicle', 'chronicle/react',
 * 'chronicle/devtools').
 */
import { openStore } from 'chronicle';
import { Order, OrderList } from './model.ts';

export interface DemoConfig {
  syncUrl: string;
  log: string;
  token: string;
  /** The server's history (demo/server.ts): the local store is named after it. */
  history: string;
}

/** Where the sync server is: /config.json, served by `npm run demo`. Null when there is none (local only). */
export async function loadConfig(): Promise<DemoConfig | null> {
  try {
    const response = await fetch('/config.json', { cache: 'no-store' });
    if (!response.ok) return null;
    const config = (await response.json()) as Partial<DemoConfig>;
    return typeof config.syncUrl === 'string'
      ? { syncUrl: config.syncUrl, log: config.log ?? 'demo', token: config.token ?? '', history: config.history ?? '' }
      : null;
  } catch {
    return null;
  }
}

/**
 * `?device=b` opens another local store in the same browser: a second
 * "device" with its own IndexedDB log, syncing with the same server log.
 */
export function deviceName(): string | null {
  const device = new URLSearchParams(location.search).get('device');
  return device && /^[\w-]{1,32}$/.test(device) ? device : null;
}

/**
 * The local store's name: per device, and per server history, so that the
 * demo restarted on a new data directory (`--temp`) starts a new local log
 * instead of meeting the new server with the old history.
 */
export function storeName(config: DemoConfig | null, device: string | null): string {
  const history = config?.history ? `-${config.history}` : '';
  return `chronicle-demo${history}${device ? `-${device}` : ''}`;
}

export function openDemoStore(config: DemoConfig | null, device: string | null) {
  return openStore({
    name: storeName(config, device),
    aggregates: [Order],
    projections: [OrderList],
    ...(config ? { sync: { url: config.syncUrl, log: config.log, token: config.token } } : {}),
  });
}

export type DemoStore = Awaited<ReturnType<typeof openDemoStore>>;

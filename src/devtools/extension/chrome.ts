/**
 * The few chrome.* extension APIs the devtools extension uses, typed here
 * (no @types/chrome dependency, nothing added to the global scope).
 */
import type { PortLike } from '../bridge.ts';

export interface ChromePort extends PortLike {
  readonly name: string;
  readonly sender?: { tab?: { id?: number }; frameId?: number };
  disconnect(): void;
}

export interface ChromeApi {
  runtime: {
    connect(info: { name: string }): ChromePort;
    onConnect: { addListener(listener: (port: ChromePort) => void): void };
  };
  devtools?: {
    inspectedWindow: { tabId: number };
    panels: {
      create(title: string, iconPath: string, pagePath: string, callback?: (panel: unknown) => void): void;
      themeName?: string;
    };
  };
}

export function chromeApi(): ChromeApi {
  const api = (globalThis as { chrome?: ChromeApi }).chrome;
  if (!api?.runtime) throw new Error('Chronicle devtools: not running inside a browser extension');
  return api;
}

/** Port names: the panel says which tab it inspects; the content script's tab comes from its sender. */
export const PANEL_PORT_PREFIX = 'chronicle-devtools-panel:';
export const PAGE_PORT = 'chronicle-devtools-page';

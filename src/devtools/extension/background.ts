/**
 * The extension's service worker: pairs each devtools panel with the content
 * script of the tab it inspects and relays bridge messages between them. It
 * keeps no state beyond the two port maps.
 */
import { BRIDGE_CHANNEL, isBridgeMessage, type BridgeMessage } from '../bridge.ts';
import { chromeApi, PAGE_PORT, PANEL_PORT_PREFIX, type ChromePort } from './chrome.ts';

const chrome = chromeApi();
const panels = new Map<number, ChromePort>();
const pages = new Map<number, ChromePort>();

const hello: BridgeMessage = { channel: BRIDGE_CHANNEL, from: 'panel', type: 'hello' };
const gone: BridgeMessage = { channel: BRIDGE_CHANNEL, from: 'page', type: 'gone' };

chrome.runtime.onConnect.addListener((port) => {
  if (port.name.startsWith(PANEL_PORT_PREFIX)) {
    const tabId = Number(port.name.slice(PANEL_PORT_PREFIX.length));
    if (!Number.isInteger(tabId)) return port.disconnect();
    panels.set(tabId, port);
    port.onMessage.addListener((message) => {
      if (isBridgeMessage(message) && message.from === 'panel') pages.get(tabId)?.postMessage(message);
    });
    port.onDisconnect.addListener(() => {
      if (panels.get(tabId) === port) panels.delete(tabId);
    });
    return;
  }
  if (port.name === PAGE_PORT) {
    const tabId = port.sender?.tab?.id;
    // Only the top frame of a tab speaks for it.
    if (tabId === undefined || (port.sender?.frameId ?? 0) !== 0) return port.disconnect();
    pages.get(tabId)?.disconnect();
    pages.set(tabId, port);
    port.onMessage.addListener((message) => {
      if (isBridgeMessage(message) && message.from === 'page') panels.get(tabId)?.postMessage(message);
    });
    port.onDisconnect.addListener(() => {
      if (pages.get(tabId) !== port) return;
      pages.delete(tabId);
      panels.get(tabId)?.postMessage(gone);
    });
    // A panel already open (the page reloaded, or this worker restarted): ask the page to announce itself.
    if (panels.has(tabId)) port.postMessage(hello);
  }
});

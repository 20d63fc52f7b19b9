/**
 * Runs in every page (isolated world): relays bridge messages between the
 * page (window.postMessage, where exposeToDevtools listens) and the
 * extension (a runtime port to the service worker). It connects only once
 * the page speaks the bridge protocol, so pages without Chronicle cost nothing.
 */
import { BRIDGE_CHANNEL, isBridgeMessage, type BridgeMessage } from '../bridge.ts';
import { chromeApi, PAGE_PORT, type ChromePort } from './chrome.ts';

const chrome = chromeApi();
let port: ChromePort | null = null;

function connect(): ChromePort {
  const next = chrome.runtime.connect({ name: PAGE_PORT });
  next.onMessage.addListener((message) => {
    // Panel → page.
    if (isBridgeMessage(message) && message.from === 'panel')
      window.postMessage(message, window.location.origin === 'null' ? '*' : window.location.origin);
  });
  next.onDisconnect.addListener(() => {
    if (port !== next) return;
    port = null;
    // The service worker went to sleep or restarted: come back and let the page announce again.
    window.setTimeout(() => {
      if (!port) {
        port = connect();
        const hello: BridgeMessage = { channel: BRIDGE_CHANNEL, from: 'panel', type: 'hello' };
        window.postMessage(hello, window.location.origin === 'null' ? '*' : window.location.origin);
      }
    }, 250);
  });
  return next;
}

window.addEventListener('message', (event: MessageEvent) => {
  if (event.source !== window) return;
  const message = event.data as unknown;
  // Page → panel.
  if (!isBridgeMessage(message) || message.from !== 'page') return;
  port ??= connect();
  port.postMessage(message);
});

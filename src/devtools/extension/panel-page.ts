/**
 * The extension's panel page: the same UI as mountDevtools, talking to the
 * inspected page's store through the bridge (panel port → service worker →
 * content script → window.postMessage → exposeToDevtools).
 */
import { createBridgeClient, portTransport, type BridgeClient } from '../bridge.ts';
import { mountPanel, type PanelHandle } from '../ui/panel.ts';
import { chromeApi, PANEL_PORT_PREFIX } from './chrome.ts';

const chrome = chromeApi();
// In devtools, the inspected tab; opened as a plain extension page (panel.html?tab=<id>), the tab given.
const tabId = chrome.devtools?.inspectedWindow.tabId ?? Number(new URLSearchParams(location.search).get('tab') ?? -1);
const theme = chrome.devtools?.panels.themeName === 'dark' ? 'dark' : 'light';
const host = document.getElementById('root')!;
document.documentElement.dataset.theme = theme;

let client: BridgeClient | null = null;
let panel: PanelHandle | null = null;

function waiting(text: string): void {
  void panel?.unmount();
  panel = null;
  const box = document.createElement('div');
  box.className = 'waiting';
  const title = document.createElement('h1');
  title.textContent = 'Chronicle';
  const body = document.createElement('p');
  body.textContent = text;
  const code = document.createElement('pre');
  code.textContent = "import { exposeToDevtools } from 'chronicle/devtools';\nexposeToDevtools(store, { aggregates: [Order] });";
  box.append(title, body, code);
  host.replaceChildren(box);
}

function connect(): void {
  const port = chrome.runtime.connect({ name: `${PANEL_PORT_PREFIX}${tabId}` });
  const next = createBridgeClient(portTransport(port));
  client?.close();
  client = next;
  next.onAnnounce(() => {
    // A page (re)loaded with a store: show it afresh.
    void panel?.unmount();
    host.replaceChildren();
    panel = mountPanel(next.source(), host, { theme });
  });
  next.onGone(() => waiting('The page closed its store or is reloading. Waiting for it to expose a store again…'));
  port.onDisconnect.addListener(() => {
    // The service worker restarted: connect again.
    if (client === next) window.setTimeout(connect, 250);
  });
  next.hello();
}

waiting('Waiting for this page to expose a Chronicle store. In the app (a development build):');
connect();

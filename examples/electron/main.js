// Electron's main process. The renderer is locked down (contextIsolation,
// sandbox, no Node integration) and loaded from a custom `app://` scheme rather
// than file://: module scripts, module workers and IndexedDB need a real,
// secure origin, which file:// is not.
import { app, BrowserWindow, net, protocol } from 'electron';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join, normalize } from 'node:path';

const root = fileURLToPath(new URL('./dist/', import.meta.url));

// Must run before the app is ready: app:// behaves like https:// for the renderer.
protocol.registerSchemesAsPrivileged([
  { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

/** The sync server the renderer talks to; CHRONICLE_SYNC_URL overrides it. */
const syncUrl = process.env.CHRONICLE_SYNC_URL ?? 'http://127.0.0.1:8787';

function createWindow() {
  const window = new BrowserWindow({
    width: 1000,
    height: 720,
    webPreferences: {
      preload: fileURLToPath(new URL('./preload.cjs', import.meta.url)),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      additionalArguments: [`--chronicle-sync-url=${syncUrl}`],
    },
  });
  void window.loadURL('app://bundle/index.html');
}

app.whenReady().then(() => {
  // Serves dist/ (index.html, app.js, engine.worker.js) under app://bundle/.
  protocol.handle('app', (request) => {
    const path = normalize(decodeURIComponent(new URL(request.url).pathname));
    const file = join(root, path);
    if (!file.startsWith(root)) return new Response('forbidden', { status: 403 });
    return net.fetch(pathToFileURL(file).href);
  });
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

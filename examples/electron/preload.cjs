// The preload script (sandboxed, CommonJS): hands the renderer its configuration
// through contextBridge, and nothing else. The renderer never gets Node APIs.
const { contextBridge } = require('electron');

const arg = process.argv.find((value) => value.startsWith('--chronicle-sync-url='));
contextBridge.exposeInMainWorld('chronicleConfig', {
  syncUrl: arg ? arg.slice('--chronicle-sync-url='.length) : null,
  log: 'electron-demo',
});

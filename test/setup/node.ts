// Setup for the `node` Vitest project.
//
// Installs fake-indexeddb's globals (indexedDB, IDBKeyRange, IDBDatabase, ...)
// so the IndexedDB-backed code runs unchanged in Node. BroadcastChannel is
// already a global in Node >= 18.
import 'fake-indexeddb/auto';

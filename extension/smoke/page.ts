// A page with a store exposed to the extension (used by extension/smoke.mjs).
import { openStore } from '../../src/client/index.ts';
import { exposeToDevtools } from '../../src/devtools/index.ts';
import { model, Order } from '../../test/fixtures/model.ts';

const store = await openStore({ name: `devtools-smoke-${Date.now()}`, ...model });
await store.append('o1', [
  { type: 'OrderPlaced', data: { customerId: 'ada' } },
  { type: 'ItemAdded', data: { sku: 'a', qty: 2, price: 5 } },
]);
exposeToDevtools(store, { aggregates: [Order] });
(window as unknown as { smokeStore: typeof store }).smokeStore = store;
document.getElementById('out')!.textContent = 'exposed';

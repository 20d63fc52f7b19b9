// The renderer: plain DOM, the store's engine in a Web Worker, sync through the
// renderer's own fetch and WebSocket to the server the preload names.
import { z } from 'zod';
import { defineAggregate, defineEvent, openStore } from 'chronicle';

const SaleRecorded = defineEvent({ type: 'SaleRecorded', schema: z.object({ cents: z.number().int().positive() }) });
const Till = defineAggregate({
  type: 'Till',
  events: [SaleRecorded],
  initialState: () => ({ sales: 0, cents: 0 }),
  reducers: { SaleRecorded: (state, event) => ({ sales: state.sales + 1, cents: state.cents + event.data.cents }) },
});

const config = window.chronicleConfig ?? { syncUrl: null, log: 'electron-demo' };
const store = await openStore({
  name: 'electron-till',
  aggregates: [Till],
  ...(config.syncUrl ? { sync: { url: config.syncUrl, log: config.log } } : {}),
});

const count = document.getElementById('count');
const sync = document.getElementById('sync');
const sell = document.getElementById('sell');
store.subscribe(Till, 'till-1', ({ state }) => (count.textContent = String(state.sales)));
store.sync.subscribe((status) => {
  sync.textContent = `${status.state}, ${status.pending} pending`;
  sync.dataset.state = status.state;
  sync.dataset.pending = String(status.pending);
});
sell.addEventListener('click', () => void store.append('till-1', [{ type: 'SaleRecorded', data: { cents: 250 } }]));
sell.disabled = false;
window.chronicleTill = { store, inWorker: store.inWorker };

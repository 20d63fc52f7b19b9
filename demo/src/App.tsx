import { useState } from 'react';
import { useProjection, useSyncStatus, useTimeTravel } from 'chronicle/react';
import { DevtoolsDrawer } from './DevtoolsDrawer.tsx';
import { useEditNotices, useNetworkSwitch, usePendingByOrder, useSelectedOrder } from './hooks.ts';
import { formatMoney, OrderList, totals } from './model.ts';
import { OrderDetail } from './OrderDetail.tsx';
import { OrderListPanel } from './OrderListPanel.tsx';
import { SyncBadge } from './SyncBadge.tsx';
import type { DemoConfig, DemoStore } from './store.ts';

export function App({ store, config, device }: { store: DemoStore; config: DemoConfig | null; device: string | null }) {
  const [selected, select] = useSelectedOrder();
  const [devtoolsOpen, setDevtoolsOpen] = useState(() => new URLSearchParams(location.search).has('devtools'));
  const list = useProjection(store, OrderList);
  const sync = useSyncStatus(store);
  const travel = useTimeTravel(store);
  const network = useNetworkSwitch(store, sync);
  const notices = useEditNotices(store);
  const pending = usePendingByOrder(store);

  const orders = Object.values(list.state.orders).sort((a, b) => b.openedAt - a.openedAt);
  const sums = totals(orders);
  const otherDevice = new URL(location.href);
  otherDevice.hash = '';
  otherDevice.searchParams.set('device', device === 'b' ? 'c' : 'b');

  return (
    <div className="app" data-devtools={devtoolsOpen ? 'open' : 'closed'}>
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true" />
          <div>
            <h1>Orders</h1>
            <p className="subtitle">{device ? `Device ${device}` : 'This device'} · works offline</p>
          </div>
        </div>
        <div className="topbar-controls">
          <SyncBadge status={sync} configured={config !== null} pending={Object.values(pending).reduce((n, c) => n + c, 0)} />
          {config && (
            <button
              type="button"
              role="switch"
              aria-checked={network.online}
              className="switch"
              data-testid="network-switch"
              title={network.browserOnline ? 'Cut this app off from the sync server' : 'The browser is offline'}
              onClick={() => network.setOnline(!network.online)}
            >
              <span className="switch-track" aria-hidden="true">
                <span className="switch-thumb" />
              </span>
              <span className="switch-label">{network.online ? 'Online' : 'Offline'}</span>
            </button>
          )}
          <button
            type="button"
            className={`ghost ${devtoolsOpen ? 'active' : ''}`}
            data-testid="devtools-toggle"
            aria-expanded={devtoolsOpen}
            onClick={() => setDevtoolsOpen(!devtoolsOpen)}
          >
            Devtools
          </button>
        </div>
      </header>

      {!network.browserOnline && (
        <div className="banner offline" role="status">
          The browser is offline. Keep working: every change is stored on this device and synced when the network is back.
        </div>
      )}
      {travel.traveling && (
        <div className="banner travel" role="status" data-testid="travel-banner">
          <span>
            <strong>Viewing the past.</strong> The app shows the orders as of the event picked in the devtools; editing is off.
          </span>
          <button type="button" className="small" data-testid="travel-resume" onClick={() => travel.resume()}>
            Back to now
          </button>
        </div>
      )}

      <main className="layout" data-view={selected ? 'detail' : 'list'}>
        <OrderListPanel
          store={store}
          orders={orders}
          loading={list.loading}
          selected={selected}
          onSelect={select}
          pending={pending}
          notices={notices.byOrder}
          readOnly={travel.traveling}
        />
        {selected ? (
          <OrderDetail
            key={selected}
            store={store}
            id={selected}
            pending={pending[selected] ?? 0}
            notices={notices.byOrder.get(selected) ?? []}
            onDismiss={notices.dismiss}
            onClose={() => select(null)}
            readOnly={travel.traveling}
          />
        ) : (
          <section className="panel detail empty-detail">
            <div className="empty">
              <h2>Pick an order, or open a new one</h2>
              <p>
                Orders are stored on this device first and synced when there is a connection. Try it with two devices:{' '}
                <a href={otherDevice.href} target="_blank" rel="noreferrer">
                  open a second device
                </a>
                , switch one offline, edit the same order on both, and switch back.
              </p>
            </div>
          </section>
        )}
      </main>

      <footer className="stats" data-testid="stats">
        <div>
          <span className="stat-label">Orders</span>
          <span className="stat-value" data-testid="stat-orders">
            {sums.orders}
          </span>
        </div>
        <div>
          <span className="stat-label">Open</span>
          <span className="stat-value">{sums.open}</span>
        </div>
        <div>
          <span className="stat-label">To ship</span>
          <span className="stat-value">{sums.awaitingShipment}</span>
        </div>
        <div>
          <span className="stat-label">Revenue</span>
          <span className="stat-value" data-testid="stat-revenue">
            {formatMoney(sums.revenue)}
          </span>
        </div>
      </footer>

      {devtoolsOpen && <DevtoolsDrawer store={store} onClose={() => setDevtoolsOpen(false)} />}
    </div>
  );
}

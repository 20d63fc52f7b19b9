import { useState, type FormEvent } from 'react';
import type { EditNotice } from './hooks.ts';
import { customerProblem } from './input-rules.ts';
import { formatMoney, type OrderStatus, type OrderSummary } from './model.ts';
import { StatusBadge } from './StatusBadge.tsx';
import type { DemoStore } from './store.ts';

const FILTERS: { key: string; label: string; statuses: readonly OrderStatus[] | null }[] = [
  { key: 'all', label: 'All', statuses: null },
  { key: 'open', label: 'Open', statuses: ['draft', 'placed'] },
  { key: 'paid', label: 'To ship', statuses: ['paid'] },
  { key: 'done', label: 'Shipped', statuses: ['shipped'] },
  { key: 'cancelled', label: 'Cancelled', statuses: ['cancelled'] },
];

/** A short order number people can read out: five characters, no 0/O or 1/I. */
function orderNumber(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

export function OrderListPanel(props: {
  store: DemoStore;
  orders: OrderSummary[];
  loading: boolean;
  selected: string | null;
  onSelect(id: string): void;
  pending: Record<string, number>;
  notices: Map<string, EditNotice[]>;
  readOnly: boolean;
}) {
  const { store, orders, selected, onSelect, pending, notices, readOnly } = props;
  const [customer, setCustomer] = useState('');
  const [query, setQuery] = useState('');
  const [filter, setFilter] = useState('all');
  const [error, setError] = useState<string | null>(null);
  const customers = [...new Set(orders.map((o) => o.customer))].sort();

  const open = async (event: FormEvent) => {
    event.preventDefault();
    const name = customer.trim();
    const problem = customerProblem(customer);
    if (problem) return setError(problem);
    const id = `order-${crypto.randomUUID()}`;
    try {
      await store.append(id, [{ type: 'OrderOpened', data: { customer: name, number: orderNumber() } }], { expectedVersion: 'no-stream' });
      setCustomer('');
      setError(null);
      onSelect(id);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  const statuses = FILTERS.find((f) => f.key === filter)?.statuses ?? null;
  const q = query.trim().toLowerCase();
  const shown = orders.filter(
    (o) => (!statuses || statuses.includes(o.status)) && (!q || o.customer.toLowerCase().includes(q) || o.number.toLowerCase().includes(q)),
  );

  return (
    <section className="panel list" aria-label="Orders">
      <form className="new-order" onSubmit={open} noValidate>
        <label htmlFor="new-order-customer">New order for</label>
        <div className="row">
          <input
            id="new-order-customer"
            data-testid="new-order-customer"
            placeholder="Customer name"
            list="known-customers"
            autoComplete="off"
            value={customer}
            disabled={readOnly}
            aria-invalid={error !== null}
            aria-describedby={error ? 'new-order-error' : undefined}
            onChange={(e) => {
              setCustomer(e.target.value);
              // Say at once when the name is too long, and stop saying it once it fits.
              const problem = e.target.value.trim() ? customerProblem(e.target.value) : null;
              setError(problem);
            }}
          />
          <button type="submit" className="primary" data-testid="new-order-submit" disabled={readOnly || !customer.trim()}>
            Open order
          </button>
        </div>
        <datalist id="known-customers">
          {customers.map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
        {error && (
          <p className="form-error" id="new-order-error" role="alert" data-testid="new-order-error">
            {error}
          </p>
        )}
      </form>

      <div className="list-tools">
        <input
          type="search"
          placeholder="Search customer or number"
          aria-label="Search orders"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <div className="chips" role="tablist" aria-label="Filter by status">
          {FILTERS.map((f) => (
            <button key={f.key} type="button" role="tab" aria-selected={filter === f.key} className="chip" onClick={() => setFilter(f.key)}>
              {f.label}
            </button>
          ))}
        </div>
      </div>

      <ul className="orders" data-testid="order-list">
        {shown.map((o) => {
          const waiting = pending[o.id] ?? 0;
          const alerts = readOnly ? 0 : (notices.get(o.id)?.filter((n) => n.kind === 'rejected').length ?? 0);
          return (
            <li key={o.id}>
              <button
                type="button"
                className={`order-row ${selected === o.id ? 'selected' : ''}`}
                data-testid="order-row"
                data-id={o.id}
                aria-current={selected === o.id ? 'true' : undefined}
                onClick={() => onSelect(o.id)}
              >
                <span className="order-main">
                  <span className="order-customer">{o.customer || 'Unknown customer'}</span>
                  <span className="order-meta">
                    #{o.number} · {o.items} {o.items === 1 ? 'item' : 'items'}
                    {waiting > 0 && (
                      <span className="pending-dot" title={`${waiting} change(s) not synced yet`}>
                        {' '}
                        · {waiting} unsynced
                      </span>
                    )}
                  </span>
                </span>
                <span className="order-side">
                  <span className="order-total">{formatMoney(o.total)}</span>
                  <span className="order-badges">
                    {alerts > 0 && (
                      <span className="alert-dot" title={`${alerts} change(s) rejected`}>
                        {alerts}
                      </span>
                    )}
                    <StatusBadge status={o.status} />
                  </span>
                </span>
              </button>
            </li>
          );
        })}
      </ul>
      {!props.loading && shown.length === 0 && (
        <p className="muted list-empty">{orders.length === 0 ? 'No orders yet. Open the first one above.' : 'No orders match.'}</p>
      )}
    </section>
  );
}

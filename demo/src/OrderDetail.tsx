import { useEffect, useState, type FormEvent } from 'react';
import { ConcurrencyError, TimeTravelError, type LogEvent } from 'chronicle';
import { useAggregate } from 'chronicle/react';
import type { EditNotice } from './hooks.ts';
import { cancelReasonProblem, parseQuantity } from './input-rules.ts';
import {
  CARRIERS,
  CATALOG,
  canCancel,
  canEditLines,
  canPay,
  canPlace,
  canShip,
  describeEdit,
  formatMoney,
  Order,
  PAYMENT_METHODS,
} from './model.ts';
import { StatusBadge } from './StatusBadge.tsx';
import type { DemoStore } from './store.ts';

type OrderEventInput = Parameters<DemoStore['append']>[1][number];

const timeFormat = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function OrderDetail(props: {
  store: DemoStore;
  id: string;
  pending: number;
  notices: EditNotice[];
  onDismiss(id: string): void;
  onClose(): void;
  readOnly: boolean;
}) {
  const { store, id, notices, readOnly } = props;
  const { state, version, loading } = useAggregate(store, Order, id);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [sku, setSku] = useState(CATALOG[0]!.sku);
  const [qtyText, setQtyText] = useState('1');
  const [method, setMethod] = useState<(typeof PAYMENT_METHODS)[number]>('card');
  const [carrier, setCarrier] = useState<string>(CARRIERS[0]);
  const [cancelling, setCancelling] = useState(false);
  const [cancelReason, setCancelReason] = useState('');
  const history = useHistory(store, id, version);

  const act = async (events: OrderEventInput[]) => {
    setBusy(true);
    try {
      await store.append(id, events, { expectedVersion: version });
      setError(null);
      return true;
    } catch (e) {
      if (e instanceof ConcurrencyError) setError('This order changed a moment ago. Check it and try again.');
      else if (e instanceof TimeTravelError) setError('The app is showing the past: go back to now to edit.');
      else setError(e instanceof Error ? e.message : String(e));
      return false;
    } finally {
      setBusy(false);
    }
  };

  if (!loading && state.status === 'new') {
    return (
      <section className="panel detail" data-testid="order-detail" data-id={id} data-status="missing">
        <button type="button" className="back ghost" onClick={props.onClose}>
          ← All orders
        </button>
        <div className="empty">
          <h2>{readOnly ? 'This order did not exist yet' : 'Order not found'}</h2>
          <p>
            {readOnly ? 'At the point in the log you are viewing, nobody had opened it.' : 'It may not have synced to this device yet.'}
          </p>
        </div>
      </section>
    );
  }

  const editable = !readOnly && canEditLines(state.status);
  const addItem = async (event: FormEvent) => {
    event.preventDefault();
    const product = CATALOG.find((p) => p.sku === sku);
    if (!product) return;
    const existing = state.lines.find((l) => l.sku === product.sku);
    const parsed = parseQuantity(qtyText, existing?.qty ?? 0);
    if ('problem' in parsed) return setError(parsed.problem);
    const { qty } = parsed;
    const ok = await act([
      existing
        ? { type: 'QuantityChanged', data: { lineId: existing.lineId, name: existing.name, qty: existing.qty + qty } }
        : { type: 'ItemAdded', data: { lineId: crypto.randomUUID(), sku: product.sku, name: product.name, qty, unitPrice: product.price } },
    ]);
    if (ok) setQtyText('1');
  };
  const balance = state.total - state.paid;

  return (
    <section
      className="panel detail"
      aria-label={`Order ${state.number}`}
      data-testid="order-detail"
      data-id={id}
      data-status={state.status}
      data-version={version}
    >
      <button type="button" className="back ghost" onClick={props.onClose}>
        ← All orders
      </button>
      <header className="detail-head">
        <div>
          <p className="eyebrow">
            Order <span data-testid="order-number">#{state.number}</span>
          </p>
          <h2 data-testid="order-customer">{state.customer}</h2>
        </div>
        <div className="detail-badges">
          {props.pending > 0 && (
            <span className="unsynced" data-testid="order-pending" title="Stored on this device, not yet confirmed by the server">
              {props.pending} unsynced
            </span>
          )}
          <StatusBadge status={state.status} />
        </div>
      </header>

      {notices.length > 0 && !readOnly && (
        <ul className="notices" aria-label="What happened to your changes">
          {notices.map((n) => (
            <li key={n.id} className={`notice notice-${n.kind}`} data-testid="notice" data-kind={n.kind} data-event-id={n.id}>
              <span className="notice-icon" aria-hidden="true">
                {n.kind === 'rejected' ? '!' : '↻'}
              </span>
              <span className="notice-text">
                {n.kind === 'rejected' ? (
                  <>
                    Your change <q>{n.edit}</q> was rejected: {n.reason}.
                  </>
                ) : (
                  <>
                    Your change <q>{n.edit}</q> was applied after changes made elsewhere
                    {n.previousSeq !== undefined && n.seq !== undefined ? ` (moved from step ${n.previousSeq} to ${n.seq})` : ''}.
                  </>
                )}
              </span>
              <button
                type="button"
                className="notice-dismiss"
                aria-label="Dismiss"
                data-testid="notice-dismiss"
                onClick={() => props.onDismiss(n.id)}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}

      <table className="lines" data-testid="order-lines">
        <thead>
          <tr>
            <th scope="col">Item</th>
            <th scope="col" className="num">
              Qty
            </th>
            <th scope="col" className="num">
              Amount
            </th>
            {editable && (
              <th scope="col">
                <span className="visually-hidden">Remove</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {state.lines.map((line) => (
            <tr key={line.lineId} data-testid="line" data-sku={line.sku} data-qty={line.qty}>
              <td>
                <span className="line-name">{line.name}</span>
                <span className="line-price">{formatMoney(line.unitPrice)} each</span>
              </td>
              <td className="num">
                {editable ? (
                  <span className="stepper">
                    <button
                      type="button"
                      aria-label={`One fewer ${line.name}`}
                      disabled={busy || line.qty <= 1}
                      onClick={() =>
                        void act([{ type: 'QuantityChanged', data: { lineId: line.lineId, name: line.name, qty: line.qty - 1 } }])
                      }
                    >
                      −
                    </button>
                    <span data-testid="line-qty">{line.qty}</span>
                    <button
                      type="button"
                      aria-label={`One more ${line.name}`}
                      data-testid="line-inc"
                      disabled={busy || line.qty >= 999}
                      onClick={() =>
                        void act([{ type: 'QuantityChanged', data: { lineId: line.lineId, name: line.name, qty: line.qty + 1 } }])
                      }
                    >
                      +
                    </button>
                  </span>
                ) : (
                  <span data-testid="line-qty">{line.qty}</span>
                )}
              </td>
              <td className="num">{formatMoney(line.qty * line.unitPrice)}</td>
              {editable && (
                <td className="num">
                  <button
                    type="button"
                    className="icon"
                    aria-label={`Remove ${line.name}`}
                    data-testid="line-remove"
                    disabled={busy}
                    onClick={() => void act([{ type: 'ItemRemoved', data: { lineId: line.lineId, name: line.name } }])}
                  >
                    ×
                  </button>
                </td>
              )}
            </tr>
          ))}
          {state.lines.length === 0 && (
            <tr>
              <td colSpan={editable ? 4 : 3} className="muted">
                No items yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>

      {editable && (
        <form className="add-item" onSubmit={addItem} noValidate>
          <select aria-label="Product" data-testid="add-item-product" value={sku} onChange={(e) => setSku(e.target.value)}>
            {CATALOG.map((p) => (
              <option key={p.sku} value={p.sku}>
                {p.name} — {formatMoney(p.price)}
              </option>
            ))}
          </select>
          <input
            type="text"
            inputMode="numeric"
            aria-label="Quantity"
            data-testid="add-item-qty"
            value={qtyText}
            onChange={(e) => {
              setQtyText(e.target.value);
              setError(null);
            }}
          />
          <button type="submit" data-testid="add-item-submit" disabled={busy}>
            Add
          </button>
        </form>
      )}

      <dl className="sums">
        <div>
          <dt>Total</dt>
          <dd data-testid="order-total" data-cents={state.total}>
            {formatMoney(state.total)}
          </dd>
        </div>
        {state.paid > 0 && (
          <div>
            <dt>Paid</dt>
            <dd>{formatMoney(state.paid)}</dd>
          </div>
        )}
        {state.paid > 0 && balance !== 0 && (
          <div className="balance">
            <dt>{balance > 0 ? 'Balance due' : 'To refund'}</dt>
            <dd>{formatMoney(Math.abs(balance))}</dd>
          </div>
        )}
        {state.carrier && (
          <div>
            <dt>Shipped with</dt>
            <dd>{state.carrier}</dd>
          </div>
        )}
        {state.cancelReason !== null && (
          <div>
            <dt>Cancelled</dt>
            <dd>{state.cancelReason || 'no reason given'}</dd>
          </div>
        )}
      </dl>

      {!readOnly && (
        <div className="actions">
          {state.status === 'draft' && (
            <button
              type="button"
              className="primary"
              data-testid="action-place"
              disabled={busy || !canPlace(state)}
              onClick={() => void act([{ type: 'OrderPlaced', data: {} }])}
            >
              Place order
            </button>
          )}
          {canPay(state) && (
            <span className="action-group">
              <select
                aria-label="Payment method"
                data-testid="pay-method"
                value={method}
                onChange={(e) => setMethod(e.target.value as typeof method)}
              >
                {PAYMENT_METHODS.map((m) => (
                  <option key={m} value={m}>
                    {m[0]!.toUpperCase() + m.slice(1)}
                  </option>
                ))}
              </select>
              <button
                type="button"
                className="primary"
                data-testid="action-pay"
                disabled={busy}
                onClick={() => void act([{ type: 'PaymentRecorded', data: { amount: state.total, method } }])}
              >
                Take {formatMoney(state.total)}
              </button>
            </span>
          )}
          {canShip(state) && (
            <span className="action-group">
              <select aria-label="Carrier" data-testid="ship-carrier" value={carrier} onChange={(e) => setCarrier(e.target.value)}>
                {CARRIERS.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
              <button
                type="button"
                className="primary"
                data-testid="action-ship"
                disabled={busy}
                onClick={() => void act([{ type: 'OrderShipped', data: { carrier } }])}
              >
                Ship
              </button>
            </span>
          )}
          {canCancel(state.status) && !cancelling && (
            <button type="button" className="danger-ghost" data-testid="action-cancel" disabled={busy} onClick={() => setCancelling(true)}>
              Cancel order…
            </button>
          )}
          {cancelling && canCancel(state.status) && (
            <form
              className="cancel-form"
              noValidate
              onSubmit={(e) => {
                e.preventDefault();
                const problem = cancelReasonProblem(cancelReason);
                if (problem) return setError(problem);
                void act([{ type: 'OrderCancelled', data: { reason: cancelReason.trim() } }]).then((ok) => ok && setCancelling(false));
              }}
            >
              <input
                aria-label="Reason for cancelling"
                data-testid="cancel-reason"
                placeholder="Reason (optional)"
                value={cancelReason}
                onChange={(e) => {
                  setCancelReason(e.target.value);
                  setError(cancelReasonProblem(e.target.value));
                }}
              />
              <button type="submit" className="danger" data-testid="cancel-confirm" disabled={busy}>
                Cancel order
              </button>
              <button type="button" className="ghost" onClick={() => setCancelling(false)}>
                Keep it
              </button>
            </form>
          )}
        </div>
      )}
      {error && (
        <p className="form-error" role="alert" data-testid="order-error">
          {error}
        </p>
      )}

      <details className="history" data-testid="order-history">
        <summary>
          History · {history.length} {history.length === 1 ? 'change' : 'changes'}
        </summary>
        <ol>
          {history.map((e) => (
            <li key={e.id} data-testid="history-item" data-status={e.position === undefined ? 'pending' : 'confirmed'}>
              <span className="history-seq">{e.seq}</span>
              <span className="history-text">{describeEdit(e.type, e.data)}</span>
              <span className="history-meta">
                {timeFormat.format(e.meta.occurredAt)} · {e.position === undefined ? 'on this device' : `synced #${e.position}`}
              </span>
            </li>
          ))}
        </ol>
      </details>
    </section>
  );
}

/** The order's events up to the version shown (the past, while time traveling). */
function useHistory(store: DemoStore, id: string, version: number): LogEvent[] {
  const [events, setEvents] = useState<LogEvent[]>([]);
  // Sync confirmations change positions without changing the version: follow sync status too.
  const [tick, setTick] = useState(0);
  useEffect(() => store.sync.subscribe(() => setTick((t) => t + 1)), [store]);
  useEffect(() => {
    let alive = true;
    void (async () => {
      const out: LogEvent[] = [];
      if (version > 0) for await (const e of store.readStream(id, { toSeq: version })) out.push(e);
      if (alive) setEvents(out);
    })().catch(() => undefined);
    return () => {
      alive = false;
    };
  }, [store, id, version, tick]);
  return events;
}

/**
 * The order-entry domain: events, the Order aggregate (with its rebase rule
 * for edits made offline), and the read model behind the order list.
 *
 * Money is in cents, so totals are exact on every client.
 */
import { z } from 'zod';
import { defineAggregate, defineEvent, defineProjection } from 'chronicle';

export interface Product {
  sku: string;
  name: string;
  /** Unit price in cents. */
  price: number;
}

export const CATALOG: readonly Product[] = [
  { sku: 'TEA-EG', name: 'Earl Grey tea, 250 g', price: 650 },
  { sku: 'TEA-SE', name: 'Sencha green tea, 100 g', price: 890 },
  { sku: 'TEA-RO', name: 'Rooibos, 200 g', price: 540 },
  { sku: 'CUP-ST', name: 'Stoneware cup', price: 1200 },
  { sku: 'POT-GL', name: 'Glass teapot, 1 l', price: 2900 },
  { sku: 'INF-SS', name: 'Steel infuser', price: 475 },
  { sku: 'HON-WF', name: 'Wildflower honey, 500 g', price: 950 },
];

export const CARRIERS = ['DHL', 'UPS', 'Royal Mail', 'Courier'] as const;
export const PAYMENT_METHODS = ['card', 'cash', 'invoice'] as const;

/** Input limits: the schemas below and the forms' own messages (input-rules.ts) share them. */
export const LIMITS = { customer: 80, cancelReason: 200, qty: 999 } as const;

const lineId = z.string().min(1).max(64);
const lineName = z.string().min(1).max(120);

export const OrderOpened = defineEvent({
  type: 'OrderOpened',
  schema: z.object({ customer: z.string().trim().min(1).max(LIMITS.customer), number: z.string().min(1).max(16) }),
});

export const ItemAdded = defineEvent({
  type: 'ItemAdded',
  schema: z.object({
    lineId,
    sku: z.string().min(1).max(32),
    name: lineName,
    qty: z.number().int().positive().max(LIMITS.qty),
    unitPrice: z.number().int().nonnegative(),
  }),
});

export const QuantityChanged = defineEvent({
  type: 'QuantityChanged',
  schema: z.object({ lineId, name: lineName, qty: z.number().int().positive().max(LIMITS.qty) }),
});

export const ItemRemoved = defineEvent({
  type: 'ItemRemoved',
  schema: z.object({ lineId, name: lineName }),
});

export const OrderPlaced = defineEvent({ type: 'OrderPlaced', schema: z.object({}) });

export const PaymentRecorded = defineEvent({
  type: 'PaymentRecorded',
  schema: z.object({ amount: z.number().int().positive(), method: z.enum(PAYMENT_METHODS) }),
});

export const OrderShipped = defineEvent({
  type: 'OrderShipped',
  schema: z.object({ carrier: z.string().min(1).max(40) }),
});

export const OrderCancelled = defineEvent({
  type: 'OrderCancelled',
  schema: z.object({ reason: z.string().max(LIMITS.cancelReason) }),
});

export type OrderStatus = 'new' | 'draft' | 'placed' | 'paid' | 'shipped' | 'cancelled';

export interface OrderLine {
  lineId: string;
  sku: string;
  name: string;
  qty: number;
  unitPrice: number;
}

export interface OrderState {
  number: string;
  customer: string;
  status: OrderStatus;
  lines: OrderLine[];
  /** Sum of the lines, in cents. */
  total: number;
  /** Payments received, in cents. */
  paid: number;
  carrier: string | null;
  cancelReason: string | null;
}

/** Lines can change while the order is a draft or placed and unpaid. */
export const canEditLines = (status: OrderStatus) => status === 'draft' || status === 'placed';
export const canPlace = (state: OrderState) => state.status === 'draft' && state.lines.length > 0;
export const canPay = (state: OrderState) => state.status === 'placed' && state.total > 0;
export const canShip = (state: OrderState) => state.status === 'paid';
export const canCancel = (status: OrderStatus) => status === 'draft' || status === 'placed' || status === 'paid';

const sum = (lines: readonly OrderLine[]) => lines.reduce((total, l) => total + l.qty * l.unitPrice, 0);
const withLines = (state: OrderState, lines: OrderLine[]): OrderState => ({ ...state, lines, total: sum(lines) });

const STATUS_WORDS: Record<OrderStatus, string> = {
  new: 'not opened',
  draft: 'a draft',
  placed: 'placed',
  paid: 'paid',
  shipped: 'shipped',
  cancelled: 'cancelled',
};

/**
 * Reducers apply what the log says. They never throw: an event the rebase
 * rule would have refused (written by an older client, say) is ignored where
 * it makes no sense, so every client folds the same log to the same state.
 */
export const Order = defineAggregate({
  type: 'Order',
  events: [OrderOpened, ItemAdded, QuantityChanged, ItemRemoved, OrderPlaced, PaymentRecorded, OrderShipped, OrderCancelled],
  snapshotEvery: 50,
  initialState: (): OrderState => ({
    number: '',
    customer: '',
    status: 'new',
    lines: [],
    total: 0,
    paid: 0,
    carrier: null,
    cancelReason: null,
  }),
  reducers: {
    OrderOpened: (state, e) =>
      state.status === 'new' ? { ...state, status: 'draft' as const, customer: e.data.customer, number: e.data.number } : state,
    ItemAdded: (state, e) =>
      canEditLines(state.status) && !state.lines.some((l) => l.lineId === e.data.lineId)
        ? withLines(state, [...state.lines, { ...e.data }])
        : state,
    QuantityChanged: (state, e) =>
      canEditLines(state.status)
        ? withLines(
            state,
            state.lines.map((l) => (l.lineId === e.data.lineId ? { ...l, qty: e.data.qty } : l)),
          )
        : state,
    ItemRemoved: (state, e) =>
      canEditLines(state.status)
        ? withLines(
            state,
            state.lines.filter((l) => l.lineId !== e.data.lineId),
          )
        : state,
    OrderPlaced: (state) => (state.status === 'draft' ? { ...state, status: 'placed' as const } : state),
    PaymentRecorded: (state, e) =>
      state.status === 'placed' ? { ...state, status: 'paid' as const, paid: state.paid + e.data.amount } : state,
    OrderShipped: (state, e) => (state.status === 'paid' ? { ...state, status: 'shipped' as const, carrier: e.data.carrier } : state),
    OrderCancelled: (state, e) =>
      canCancel(state.status) ? { ...state, status: 'cancelled' as const, cancelReason: e.data.reason } : state,
  },
  /**
   * An edit made offline meets what others did meanwhile: `state` is the
   * order as of the server's events (plus this client's edits kept so far).
   * Keep what still makes sense; refuse the rest with a reason the user reads.
   */
  rebase: (event, { state }) => {
    const hasLine = (id: string) => state.lines.some((l) => l.lineId === id);
    switch (event.type) {
      case 'ItemAdded':
      case 'QuantityChanged':
      case 'ItemRemoved':
        if (!canEditLines(state.status)) return { drop: `the order was ${STATUS_WORDS[state.status]} meanwhile` };
        if (event.type !== 'ItemAdded' && !hasLine(event.data.lineId)) return { drop: `${event.data.name} was removed meanwhile` };
        return 'keep';
      case 'OrderPlaced':
        if (state.status === 'draft' && state.lines.length === 0) return { drop: 'every line was removed meanwhile' };
        return state.status === 'draft' ? 'keep' : { drop: `the order was already ${STATUS_WORDS[state.status]}` };
      case 'PaymentRecorded':
        if (state.status === 'placed') return 'keep';
        return { drop: `the order was ${STATUS_WORDS[state.status]} meanwhile` };
      case 'OrderShipped':
        return state.status === 'paid' ? 'keep' : { drop: `the order was ${STATUS_WORDS[state.status]} meanwhile` };
      case 'OrderCancelled':
        return canCancel(state.status) ? 'keep' : { drop: `the order was already ${STATUS_WORDS[state.status]}` };
      default:
        return 'keep';
    }
  },
});

export interface OrderSummary extends OrderState {
  id: string;
  /** Item count over all lines. */
  items: number;
  openedAt: number;
  updatedAt: number;
}

export interface OrderListState {
  orders: Record<string, OrderSummary>;
}

type LooseEvent = { type: string; aggregateId: string; meta: { occurredAt: number } };
const reducerFor = (type: string) =>
  (Order.reducers as unknown as Record<string, (state: OrderState, event: LooseEvent) => OrderState>)[type];

function summarize(list: OrderListState, event: LooseEvent): OrderListState {
  const previous = list.orders[event.aggregateId];
  const reducer = reducerFor(event.type);
  if (!reducer) return list;
  const state = reducer(previous ?? Order.initialState(), event);
  const summary: OrderSummary = {
    ...state,
    id: event.aggregateId,
    items: state.lines.reduce((n, l) => n + l.qty, 0),
    openedAt: previous?.openedAt ?? event.meta.occurredAt,
    updatedAt: event.meta.occurredAt,
  };
  return { orders: { ...list.orders, [event.aggregateId]: summary } };
}

/**
 * The order list: one summary per order, fed by every order event in log
 * order. It folds the aggregate's own reducers, so the list and the order
 * detail never disagree.
 */
export const OrderList = defineProjection({
  name: 'order-list',
  version: 1,
  events: Order.events,
  initialState: (): OrderListState => ({ orders: {} }),
  handlers: Object.fromEntries(Order.events.map((def) => [def.type, summarize])),
});

/** Totals over the list: what the footer shows. */
export function totals(orders: readonly OrderSummary[]) {
  let revenue = 0;
  let open = 0;
  let awaitingShipment = 0;
  for (const o of orders) {
    if (o.status === 'paid' || o.status === 'shipped') revenue += o.paid;
    if (o.status === 'draft' || o.status === 'placed') open++;
    if (o.status === 'paid') awaitingShipment++;
  }
  return { orders: orders.length, revenue, open, awaitingShipment };
}

export const formatMoney = (cents: number) => new Intl.NumberFormat('en-GB', { style: 'currency', currency: 'EUR' }).format(cents / 100);

/** A short, human-readable description of an edit, for "your change … was rejected". */
export function describeEdit(type: string, data: unknown): string {
  const d = (data ?? {}) as Record<string, unknown>;
  switch (type) {
    case 'OrderOpened':
      return `open an order for ${String(d.customer)}`;
    case 'ItemAdded':
      return `add ${String(d.qty)} × ${String(d.name)}`;
    case 'QuantityChanged':
      return `set ${String(d.name)} to ${String(d.qty)}`;
    case 'ItemRemoved':
      return `remove ${String(d.name)}`;
    case 'OrderPlaced':
      return 'place the order';
    case 'PaymentRecorded':
      return `record a ${String(d.method)} payment of ${formatMoney(Number(d.amount))}`;
    case 'OrderShipped':
      return `ship with ${String(d.carrier)}`;
    case 'OrderCancelled':
      return d.reason ? `cancel (${String(d.reason)})` : 'cancel the order';
    default:
      return type;
  }
}

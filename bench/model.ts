/**
 * The benchmark's domain model: the Order aggregate of test/fixtures/model.ts,
 * copied here so the bench does not move when the tests' fixtures change.
 */
import { z } from 'zod';
import { defineAggregate, defineEvent } from '../src/client/index.ts';

export const OrderPlaced = defineEvent({
  type: 'OrderPlaced',
  schema: z.object({ customerId: z.string().min(1) }),
});

/** Version 2 renamed `quantity` to `qty`; version-1 events are upcast on read. */
export const ItemAdded = defineEvent({
  type: 'ItemAdded',
  version: 2,
  schema: z.object({ sku: z.string().min(1), qty: z.number().int().positive(), price: z.number().nonnegative() }),
  upcasters: {
    1: (data: { sku: string; quantity: number; price: number }) => ({ sku: data.sku, qty: data.quantity, price: data.price }),
  },
});

export const ItemRemoved = defineEvent({
  type: 'ItemRemoved',
  schema: z.object({ sku: z.string().min(1) }),
});

export const OrderShipped = defineEvent({
  type: 'OrderShipped',
  schema: z.object({ carrier: z.string() }),
});

export interface OrderState {
  customerId: string | null;
  lines: Record<string, { qty: number; price: number }>;
  total: number;
  status: 'new' | 'placed' | 'shipped';
}

const orderEvents = [OrderPlaced, ItemAdded, ItemRemoved, OrderShipped] as const;

const orderOptions = {
  type: 'Order',
  events: orderEvents,
  initialState: (): OrderState => ({ customerId: null, lines: {}, total: 0, status: 'new' }),
  reducers: {
    OrderPlaced: (state: OrderState, event: { data: { customerId: string } }): OrderState => ({
      ...state,
      customerId: event.data.customerId,
      status: 'placed',
    }),
    ItemAdded: (state: OrderState, event: { data: { sku: string; qty: number; price: number } }): OrderState => {
      const line = state.lines[event.data.sku] ?? { qty: 0, price: event.data.price };
      const lines = { ...state.lines, [event.data.sku]: { qty: line.qty + event.data.qty, price: event.data.price } };
      return { ...state, lines, total: state.total + event.data.qty * event.data.price };
    },
    ItemRemoved: (state: OrderState, event: { data: { sku: string } }): OrderState => {
      const line = state.lines[event.data.sku];
      if (!line) return state;
      const lines = { ...state.lines };
      delete lines[event.data.sku];
      return { ...state, lines, total: state.total - line.qty * line.price };
    },
    OrderShipped: (state: OrderState): OrderState => ({ ...state, status: 'shipped' }),
  },
} as const;

export const Order = defineAggregate({ ...orderOptions, snapshotEvery: 50 });

/**
 * The aggregate-load baseline: the same type and reducers under another reducer
 * version, with automatic snapshots off. The loader ignores a snapshot written
 * by another reducer version, so every load folds the whole stream.
 */
export const OrderWithoutSnapshot = defineAggregate({ ...orderOptions, version: 2, snapshotEvery: 0 });

export const model = { events: orderEvents, aggregates: [Order] } as const;

/** What full-replay folds the whole log into: one summary over every order. */
export interface LogSummary {
  events: number;
  orders: number;
  shipped: number;
  items: number;
  removed: number;
  revenue: number;
}

export const initialSummary = (): LogSummary => ({ events: 0, orders: 0, shipped: 0, items: 0, removed: 0, revenue: 0 });

/** The reducer of full-replay; Chronicle and the Dexie baseline run exactly this one. */
export function foldSummary(state: LogSummary, event: { type: string; data: unknown }): LogSummary {
  switch (event.type) {
    case 'OrderPlaced':
      return { ...state, events: state.events + 1, orders: state.orders + 1 };
    case 'ItemAdded': {
      const data = event.data as { qty: number; price: number };
      return { ...state, events: state.events + 1, items: state.items + data.qty, revenue: state.revenue + data.qty * data.price };
    }
    case 'ItemRemoved':
      return { ...state, events: state.events + 1, removed: state.removed + 1 };
    case 'OrderShipped':
      return { ...state, events: state.events + 1, shipped: state.shipped + 1 };
    default:
      return { ...state, events: state.events + 1 };
  }
}

/**
 * Deterministic benchmark data: a server log of confirmed Order events,
 * aggregates interleaved the way many clients' edits land in one log.
 */
import { uuidv7, type StoredEvent } from '../src/client/index.ts';

/** mulberry32: a small seeded PRNG, so every run ingests the same log. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SKUS = 200;
const CARRIERS = ['DHL', 'UPS', 'FedEx', 'GLS'];

export interface OrderEventBody {
  type: 'OrderPlaced' | 'ItemAdded' | 'ItemRemoved' | 'OrderShipped';
  data: Record<string, string | number>;
}

/** The seq-th event (1-based) of an order of `length` events. */
export function orderEvent(random: () => number, aggregateIndex: number, seq: number, length: number, skus = SKUS): OrderEventBody {
  if (seq === 1) return { type: 'OrderPlaced', data: { customerId: `cust-${(aggregateIndex % 500).toString().padStart(4, '0')}` } };
  if (seq === length) return { type: 'OrderShipped', data: { carrier: CARRIERS[aggregateIndex % CARRIERS.length]! } };
  const sku = `sku-${Math.floor(random() * skus)
    .toString()
    .padStart(4, '0')}`;
  if (random() < 0.1) return { type: 'ItemRemoved', data: { sku } };
  return { type: 'ItemAdded', data: { sku, qty: 1 + Math.floor(random() * 5), price: Math.round(random() * 10000) / 100 } };
}

export const aggregateIdOf = (index: number): string => `order-${index.toString().padStart(6, '0')}`;

/**
 * `aggregates × perAggregate` confirmed events at positions 1..N. The order of
 * aggregates is a seeded shuffle; within an aggregate, seq rises with position.
 */
export function serverLog(aggregates: number, perAggregate: number, seed = 42): StoredEvent[] {
  const random = prng(seed);
  const total = aggregates * perAggregate;
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i % aggregates;
  for (let i = total - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  const clients = Array.from({ length: 20 }, (_, i) => uuidv7(1_700_000_000_000 + i));
  const clientSeqs = new Array<number>(clients.length).fill(0);
  const seqs = new Uint32Array(aggregates);
  const start = 1_732_000_000_000;
  const events: StoredEvent[] = new Array(total);
  for (let p = 0; p < total; p++) {
    const a = order[p]!;
    const seq = ++seqs[a]!;
    const body = orderEvent(random, a, seq, perAggregate);
    const occurredAt = start + p * 7;
    const client = a % clients.length;
    events[p] = {
      id: uuidv7(occurredAt),
      aggregateId: aggregateIdOf(a),
      aggregateType: 'Order',
      seq,
      type: body.type,
      version: body.type === 'ItemAdded' ? 2 : 1,
      data: body.data,
      meta: { occurredAt, clientId: clients[client]!, clientSeq: ++clientSeqs[client]! },
      position: p + 1,
    };
  }
  return events;
}

/** Cuts a list into consecutive chunks of `size`. */
export function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * The same kind of log as serverLog, `aggregates × perAggregate` events, as
 * JSON pages of `pageSize` events made one at a time: a million events never
 * sit in the page's memory at once. Aggregates are interleaved by a seeded
 * shuffle; within an aggregate, seq rises with position.
 */
export function* serverLogPages(aggregates: number, perAggregate: number, pageSize: number, seed = 42): Generator<string> {
  const random = prng(seed);
  const total = aggregates * perAggregate;
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i % aggregates;
  for (let i = total - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  const clients = Array.from({ length: 20 }, (_, i) => uuidv7(1_700_000_000_000 + i));
  const clientSeqs = new Array<number>(clients.length).fill(0);
  const seqs = new Uint32Array(aggregates);
  const start = 1_732_000_000_000;
  for (let from = 0; from < total; from += pageSize) {
    const page: StoredEvent[] = [];
    for (let p = from; p < Math.min(total, from + pageSize); p++) {
      const a = order[p]!;
      const seq = ++seqs[a]!;
      const body = orderEvent(random, a, seq, perAggregate);
      const occurredAt = start + p * 7;
      const client = a % clients.length;
      page.push({
        id: uuidv7(occurredAt),
        aggregateId: aggregateIdOf(a),
        aggregateType: 'Order',
        seq,
        type: body.type,
        version: body.type === 'ItemAdded' ? 2 : 1,
        data: body.data,
        meta: { occurredAt, clientId: clients[client]!, clientSeq: ++clientSeqs[client]! },
        position: p + 1,
      });
    }
    yield JSON.stringify(page);
  }
}

// What the sync crash audits check after a device's engine was killed mid-round and sync finished
// (test/sync/crash-audit.test.ts in Node, test/browser/sync-crash-audit.test.ts in Chromium). Platform-free:
// stores are opened by the caller's means (in-process or in a worker), the server's log is given.
import { openStore, type WorkerOption } from '../../src/client/index.ts';
import { defineReaction, type ReactionContext } from '../../src/core/reaction.ts';
import { foldEvents } from '../../src/testing/index.ts';
import { ItemAdded, model, Order, Revenue } from '../fixtures/model.ts';

/** One call of a reaction's handler. */
export interface Delivery {
  reaction: string;
  id: string;
  redelivery: boolean;
  isReplay: boolean;
  tab: string;
}

/** A device (one database): what was appended there, and what its reactions were handed, over every tab and session. */
export interface DeviceRecord {
  name: string;
  clientId?: string;
  deliveries: Delivery[];
  /** Events appended here (ids), and those the server is expected to refuse. */
  appended: string[];
  rejected: string[];
  /** Rejected events a local reaction may have handled before the refusal, or not (it had not reached them). */
  mayBeUnhandled: string[];
  /** Handlers take a few milliseconds (a payment provider): the round goes on meanwhile. */
  slowHandlers?: boolean;
  /** How often one of its engines was killed. */
  crashes: number;
}

export function newDeviceRecord(name: string): DeviceRecord {
  return { name, deliveries: [], appended: [], rejected: [], mayBeUnhandled: [], crashes: 0 };
}

export const item = (sku: string, qty = 1, price = 10) => ({ type: 'ItemAdded' as const, data: { sku, qty, price } });
/** An event over the audit server's 600-byte limit: refused for good (PAYLOAD_TOO_LARGE), so rejected. */
export const big = (sku: string) => item(sku.padEnd(1000, '!'));

/**
 * The three reactions of every tab, started from now: a charge once the server confirmed one of this device's
 * orders (origin 'own', on 'confirmed'), a receipt as soon as it is appended here ('own', 'local'), and a notice
 * of every client's event ('any', 'local'). `dead`: the tab is gone, so a call its leftover code makes (only an
 * in-process simulation has any) is not a call that happened.
 */
export function auditReactions(device: DeviceRecord, tab: string, dead: () => boolean = () => false) {
  const make = (name: string, origin: 'own' | 'any', on: 'local' | 'confirmed') =>
    defineReaction({
      name,
      events: [ItemAdded],
      origin,
      on,
      backoff: { initialMs: 2, maxMs: 20 },
      handlers: {
        ItemAdded: async (event, ctx: ReactionContext) => {
          if (dead()) throw new Error('this tab was killed');
          device.deliveries.push({ reaction: name, id: event.id, redelivery: ctx.redelivery, isReplay: ctx.isReplay, tab });
          if (device.slowHandlers) await new Promise((r) => setTimeout(r, 3));
        },
      },
    });
  return [make('charge', 'own', 'confirmed'), make('receipt', 'own', 'local'), make('notify', 'any', 'local')] as const;
}

export interface AuditStoreOptions {
  device: DeviceRecord;
  tab: string;
  url: string;
  log: string;
  token: string;
  worker: WorkerOption;
  fetch?: typeof fetch;
  /** A tab of a build that does not know the reactions runs none. */
  withReactions?: boolean;
  dead?: () => boolean;
}

/** A store of the audit's device: the model, the Revenue projection, the reactions, sync in small pages and pushes. */
export function openAuditStore(options: AuditStoreOptions) {
  const { device, tab, withReactions = true } = options;
  return openStore({
    ...model,
    name: device.name,
    worker: options.worker,
    projections: [Revenue],
    reactions: withReactions ? auditReactions(device, tab, options.dead) : [],
    sync: {
      url: options.url,
      log: options.log,
      token: options.token,
      live: false,
      pollIntervalMs: 60_000,
      initialBackoffMs: 5,
      maxBackoffMs: 40,
      pullLimit: 2,
      pushLimit: 2,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    },
  });
}

export type AuditStore = Awaited<ReturnType<typeof openAuditStore>>;

/** Appends to `aggregateId` and notes the ids (and the device's client id). */
export async function appendTo(store: AuditStore, device: DeviceRecord, aggregateId: string, events: ReturnType<typeof item>[]) {
  const result = await store.append(aggregateId, events);
  device.clientId = result.events[0]!.meta.clientId;
  const ids = result.events.map((e) => e.id);
  device.appended.push(...ids);
  return ids;
}

export async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000, everyMs = 5): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves once `promise` settles or `ms` passed, whichever is first ('timeout' then). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([promise, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
}

export async function reactionsCaughtUp(store: AuditStore): Promise<boolean> {
  return (await store.reactions.status()).every((s) => s.caughtUp);
}

/** Whether the tabs of a device that lead its three reactions say they are caught up. */
export async function leadersCaughtUp(stores: readonly AuditStore[]): Promise<boolean> {
  const leaders = (await Promise.all(stores.map(async (s) => (await s.reactions.status()).filter((r) => r.leader)))).flat();
  return leaders.length === 3 && leaders.every((r) => r.caughtUp);
}

/** Snapshots every order `store` holds, pending events included: a rebase must not leave one standing. */
export async function snapshotAll(store: AuditStore): Promise<void> {
  const aggregates = new Set<string>();
  for await (const e of store.readLog()) aggregates.add(e.aggregateId);
  for (const id of aggregates) await store.snapshot(Order, id);
}

/** An event as the server stores it. */
export interface ServerEvent {
  id: string;
  aggregateId: string;
  seq: number;
  position: number;
  data: { sku: string; qty: number; price: number };
  meta: { clientId: string };
}

export const countBy = <T>(items: readonly T[], key: (t: T) => string) => {
  const out = new Map<string, T[]>();
  for (const t of items) out.set(key(t), [...(out.get(key(t)) ?? []), t]);
  return out;
};

/**
 * Problems with one reaction's deliveries on one device, given the ids it must handle. README, Delivery
 * guarantees: "exactly once, in one tab"; after a crash "at most once more after a crash: only the event in
 * flight, flagged ctx.redelivery" (and "an event marked in flight just before the crash is flagged even if its
 * handler had not started"). So per event: handled, at most once unflagged; per crash, at most one event comes
 * again or comes only flagged. These reactions start from now: none is ever handed history (isReplay).
 */
export function deliveryProblems(device: DeviceRecord, reaction: string, expected: readonly string[]): string[] {
  const problems: string[] = [];
  const byId = countBy(
    device.deliveries.filter((d) => d.reaction === reaction),
    (d) => d.id,
  );
  for (const id of expected) if (!byId.has(id) && !device.mayBeUnhandled.includes(id)) problems.push(`${reaction}: ${id} never handled`);
  for (const [id, list] of byId) {
    if (!expected.includes(id)) problems.push(`${reaction}: ${id} handled but not for it`);
    const unflagged = list.filter((d) => !d.redelivery).length;
    if (unflagged > 1) problems.push(`${reaction}: ${id} handled ${unflagged} times unflagged`);
    if (list.some((d) => d.isReplay)) problems.push(`${reaction}: ${id} handed over as history (isReplay)`);
  }
  const again = [...byId.values()].filter((list) => list.length > 1 || list[0]!.redelivery).length;
  if (again > device.crashes) problems.push(`${reaction}: ${again} events redelivered after ${device.crashes} crash(es)`);
  return problems;
}

/** The server's log: each appended event once (the refused ones never), positions gapless, seqs gapless per order. */
export function serverLogProblems(server: readonly ServerEvent[], devices: readonly DeviceRecord[]): string[] {
  const problems: string[] = [];
  const ids = server.map((e) => e.id);
  if (new Set(ids).size !== ids.length) problems.push(`server: an id stored twice (${ids.length} events)`);
  if (!server.every((e, i) => e.position === i + 1)) problems.push('server: positions not gapless');
  for (const [aggregateId, events] of countBy(server, (e) => e.aggregateId)) {
    if (!events.every((e, i) => e.seq === i + 1)) problems.push(`server: ${aggregateId} seqs ${events.map((e) => e.seq).join(',')}`);
  }
  const expected = devices.flatMap((d) => d.appended.filter((id) => !d.rejected.includes(id)));
  const missing = expected.filter((id) => !ids.includes(id));
  const extra = ids.filter((id) => !expected.includes(id));
  if (missing.length > 0 || extra.length > 0) problems.push(`server: missing ${missing.length}, unexpected ${extra.length}`);
  return problems;
}

/** A device's reactions and rejected list, once everything converged. */
export async function deviceProblems(store: AuditStore, device: DeviceRecord, server: readonly ServerEvent[]): Promise<string[]> {
  const problems: string[] = [];
  const rejected = (await store.sync.rejected()).map((r) => r.id).sort();
  if (JSON.stringify(rejected) !== JSON.stringify([...device.rejected].sort()))
    problems.push(`${device.name}: rejected ${rejected.join(',')}`);
  const own = server.filter((e) => e.meta.clientId === device.clientId).map((e) => e.id);
  problems.push(...deliveryProblems(device, 'charge', own));
  problems.push(...deliveryProblems(device, 'receipt', device.appended));
  problems.push(...deliveryProblems(device, 'notify', [...server.map((e) => e.id), ...device.rejected]));
  return problems;
}

/**
 * One tab once everything converged: its log is the server's (nothing is pending any more), status().pending
 * is 0, its projection is a fresh fold of the log, and loads (from the snapshots taken before the round, where
 * they still hold) are folds of each order's events.
 */
export async function tabProblems(store: AuditStore, label: string, server: readonly ServerEvent[]): Promise<string[]> {
  const problems: string[] = [];
  const want = server.map((e) => `${e.id}@${e.aggregateId}/${e.seq}#${e.position}`);
  const local: string[] = [];
  for await (const e of store.readLog()) local.push(`${e.id}@${e.aggregateId}/${e.seq}#${e.position ?? 'pending'}`);
  if (JSON.stringify(local) !== JSON.stringify(want))
    problems.push(`${label}: log differs from the server's\n  ${local.join(' ')}\n  ${want.join(' ')}`);
  const pending = (await store.sync.status()).pending;
  if (pending !== 0) problems.push(`${label}: status().pending ${pending}`);
  const { state } = await store.projection(Revenue).get();
  const fold = server.reduce((s, e) => ({ items: s.items + e.data.qty, revenue: s.revenue + e.data.qty * e.data.price }), {
    items: 0,
    revenue: 0,
  });
  if (state.items !== fold.items || state.revenue !== fold.revenue)
    problems.push(`${label}: projection ${JSON.stringify(state)}, fold ${JSON.stringify(fold)}`);
  for (const [aggregateId, events] of countBy(server, (e) => e.aggregateId)) {
    const loaded = await store.load(Order, aggregateId);
    const inputs = events.map((e) => ({ type: 'ItemAdded' as const, data: e.data }));
    const folded = foldEvents(Order, inputs, aggregateId);
    if (loaded.version !== events.length || JSON.stringify(loaded.state) !== JSON.stringify(folded))
      problems.push(
        `${label}: load(${aggregateId}) at ${loaded.version} is ${JSON.stringify(loaded.state)}, fold ${JSON.stringify(folded)}`,
      );
  }
  return problems;
}

/**
 * Right after the reopen, before it syncs: the confirmed part of the log is the server's log up to some
 * position (the same ids at the same positions), no id is stored twice, and the projection is a fold of the
 * log as it is (confirmed events, then pending ones on top).
 */
export async function reopenedProblems(store: AuditStore, server: readonly ServerEvent[]): Promise<string[]> {
  const problems: string[] = [];
  const local: { id: string; position: number | undefined; qty: number; price: number }[] = [];
  for await (const e of store.readLog()) {
    const data = e.data as { qty: number; price: number };
    local.push({ id: e.id, position: e.position, qty: data.qty, price: data.price });
  }
  const confirmed = local.filter((e) => e.position !== undefined);
  if (!confirmed.every((e, i) => e.position === i + 1 && server[i]?.id === e.id))
    problems.push('reopened: confirmed part is not the server log');
  if (new Set(local.map((e) => e.id)).size !== local.length) problems.push('reopened: an id stored twice');
  const { state } = await store.projection(Revenue).get();
  const items = local.reduce((n, e) => n + e.qty, 0);
  const revenue = local.reduce((n, e) => n + e.qty * e.price, 0);
  if (state.items !== items || state.revenue !== revenue)
    problems.push(`reopened: projection ${JSON.stringify(state)}, fold ${JSON.stringify({ items, revenue })}`);
  return problems;
}

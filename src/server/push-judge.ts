import { SyncError } from './errors.ts';
import type { LogMove } from './store/move-state.ts';
import type { PushedEventKeys, PushInput, PushResult } from './store/types.ts';

/**
 * The push rules of docs/protocol.md ("What the server does"), as a pure
 * function: given what the log holds (as far as the pushes touch it) and a
 * batch of pushes in arrival order, decide each one — accepted (with the
 * positions its new events take), acknowledged as a duplicate, or refused with
 * the protocol's error — and what must be written. No I/O: the log store reads
 * the state, calls this, and writes the result in one transaction (or one
 * checked statement).
 */

/** What the rules read of a push: its fields and its events' keys (a PushInput or a DecodedPush). */
export type JudgePush = Pick<PushInput, 'clientId' | 'epoch' | 'from' | 'to'> & { events: readonly PushedEventKeys[] };

/** A push waiting to be judged, with the JSON of its events (as pushed, no position). */
export interface JudgeInput {
  push: JudgePush;
  json: readonly string[];
}

/** What a batch is judged against: the log as of `head`, as far as the batch touches it. */
export interface LogState {
  /** False when the log has no row yet (never pushed to). */
  exists: boolean;
  head: number;
  /** The log's last write id as of `head` (null: none recorded). The write checks it is still the same. */
  writeId: string | null;
  /** High-water marks of the batch's clients (absent: 0). */
  marks: Map<string, number>;
  /** Rebase epochs of the batch's clients (absent: 0). */
  epochs: Map<string, number>;
  /** Heads of the batch's aggregates (absent: 0). */
  heads: Map<string, number>;
  /** Stored events of the pushed clientSeq ranges, by seqKey. */
  bySeq: Map<string, { id: string; position: number }>;
  /** Stored events with the pushed ids; only complete when `idsRead`. */
  byId: Map<string, { clientId: string; clientSeq: number; position: number }>;
  idsRead: boolean;
  /** Set while the log is in a move between databases: then its store refuses writes (move-state.ts), nothing is judged. */
  move?: LogMove;
}

/** A new event as judged: its place, and what its row holds. */
export interface NewRow {
  position: number;
  id: string;
  aggregateId: string;
  seq: number;
  clientId: string;
  clientSeq: number;
  json: string;
}

export interface Judged {
  /** Per push of the batch, in order: its result, or the SyncError it is refused with. */
  results: (PushResult | SyncError)[];
  /** The events to insert, in position order. */
  rows: NewRow[];
  /** The log head after the accepted pushes. */
  head: number;
  marks: Map<string, number>;
  epochs: Map<string, number>;
  heads: Map<string, number>;
  /** Clients whose stored row the write must set: their new mark and epoch. */
  changedClients: Map<string, { mark: number; epoch: number }>;
  /**
   * A push was refused for a reason that ranks after the stored-id check
   * (SEQ_CONFLICT, or DUPLICATE_EVENT_ID within the batch) while stored ids were
   * not read: the refusal could be the wrong one, judge again with ids.
   */
  needsIds: boolean;
}

/** The key of a stored (clientId, clientSeq) in LogState.bySeq. */
export const seqKey = (clientId: string, clientSeq: number): string => `${clientSeq}\u0000${clientId}`;

/** The epoch a push carries: version 1 has none, which is epoch 0. */
export const pushEpoch = (push: JudgePush): number => push.epoch ?? 0;

/**
 * Judges the pushes of a batch one by one, in arrival order, each against the
 * state the ones before it left (a refused push contributes nothing): the
 * protocol's steps 2 to 5. Does not touch `state`.
 */
export function judgePushes(state: LogState, batch: readonly JudgeInput[]): Judged {
  const marks = new Map(state.marks);
  const epochs = new Map(state.epochs);
  const heads = new Map(state.heads);
  const bySeq = new Map(state.bySeq);
  const byId = new Map(state.byId);
  let head = state.head;
  const rows: NewRow[] = [];
  const changedClients = new Map<string, { mark: number; epoch: number }>();
  let needsIds = false;

  const applyOne = ({ push, json }: JudgeInput): PushResult => {
    const { clientId, from, to, events } = push;
    const applied = marks.get(clientId) ?? 0;
    const current = epochs.get(clientId) ?? 0;
    const epoch = pushEpoch(push);

    // 2. Epoch: a push made before the client's last fence (its rebase) is never stored.
    if (epoch < current) {
      throw new SyncError(
        'STALE_EPOCH',
        `Client "${clientId}" pushed with epoch ${epoch}, but it fenced epoch ${current}: this push was made before its last rebase`,
        { clientId, epoch, current, from, to },
      );
    }

    // 3. Gap: the range must start at or below the next clientSeq expected.
    if (from > applied + 1) {
      throw new SyncError(
        'CLIENT_SEQ_GAP',
        `Client "${clientId}" pushed clientSeq ${from}..${to}, but the server expects ${applied + 1} next`,
        { clientId, expected: applied + 1, from, to, applied },
      );
    }

    // 4. The already-applied part: acknowledged with stored positions, if it is the same events.
    const positions: PushResult['positions'] = [];
    const duplicates = Math.max(0, Math.min(to, applied) - from + 1);
    for (let i = 0; i < duplicates; i++) {
      const event = events[i]!;
      const clientSeq = from + i;
      const stored = bySeq.get(seqKey(clientId, clientSeq));
      if (!stored) {
        // Cannot happen while clientSeqs are stored gaplessly; refuse rather than guess.
        throw new Error(`clientSeq ${clientSeq} of client ${clientId} is below its high-water mark but not stored`);
      }
      if (stored.id !== event.id) {
        throw new SyncError(
          'CLIENT_SEQ_MISMATCH',
          `clientSeq ${clientSeq} of client "${clientId}" was already applied with event ${stored.id}, not ${event.id}`,
          { clientId, clientSeq, id: event.id, storedId: stored.id, position: stored.position },
        );
      }
      positions.push({ id: event.id, clientSeq, position: stored.position });
    }

    // 5. The new part: unique ids, and seqs that continue their aggregates.
    const fresh = events.length - duplicates;
    const seenInPush = new Map<string, number>();
    for (let i = duplicates; i < events.length; i++) {
      const event = events[i]!;
      const clientSeq = from + i;
      const stored = byId.get(event.id);
      if (stored) {
        throw new SyncError(
          'DUPLICATE_EVENT_ID',
          `Event id ${event.id} (clientSeq ${clientSeq}) is already stored at position ${stored.position} for client "${stored.clientId}" clientSeq ${stored.clientSeq}`,
          { id: event.id, clientSeq, storedClientId: stored.clientId, storedClientSeq: stored.clientSeq, position: stored.position },
        );
      }
      const earlier = seenInPush.get(event.id);
      if (earlier !== undefined) {
        throw new SyncError(
          'DUPLICATE_EVENT_ID',
          `Event id ${event.id} appears twice in this push (clientSeq ${earlier} and ${clientSeq})`,
          {
            id: event.id,
            clientSeq,
            storedClientId: clientId,
            storedClientSeq: earlier,
          },
        );
      }
      seenInPush.set(event.id, clientSeq);
    }
    const pushHeads = new Map<string, number>();
    for (let i = duplicates; i < events.length; i++) {
      const event = events[i]!;
      const current = pushHeads.get(event.aggregateId) ?? heads.get(event.aggregateId) ?? 0;
      if (event.seq !== current + 1) {
        const serverHead = heads.get(event.aggregateId) ?? 0;
        throw new SyncError(
          'SEQ_CONFLICT',
          `Event ${event.id} has seq ${event.seq} in aggregate "${event.aggregateId}", but the server's head there is ${serverHead} (expected seq ${current + 1})`,
          { aggregateId: event.aggregateId, seq: event.seq, head: serverHead, expected: current + 1, id: event.id, clientSeq: from + i },
        );
      }
      pushHeads.set(event.aggregateId, event.seq);
    }

    // Accepted: the new events take the next positions.
    for (let i = duplicates; i < events.length; i++) {
      const event = events[i]!;
      const position = head + 1 + (i - duplicates);
      const clientSeq = from + i;
      positions.push({ id: event.id, clientSeq, position });
      rows.push({ position, id: event.id, aggregateId: event.aggregateId, seq: event.seq, clientId, clientSeq, json: json[i]! });
      bySeq.set(seqKey(clientId, clientSeq), { id: event.id, position });
      byId.set(event.id, { clientId, clientSeq, position });
    }
    for (const [aggregateId, seq] of pushHeads) heads.set(aggregateId, seq);
    head += fresh;
    const mark = Math.max(applied, to);
    marks.set(clientId, mark);
    // The epoch is stored with the mark: only a push that stores events writes the client's row.
    if (fresh > 0) {
      epochs.set(clientId, Math.max(current, epoch));
      changedClients.set(clientId, { mark, epoch: Math.max(current, epoch) });
    }
    return { positions, duplicates, clientSeq: mark, head, appended: fresh };
  };

  const results = batch.map((input) => {
    try {
      return applyOne(input);
    } catch (error) {
      if (!(error instanceof SyncError)) throw error;
      if (!state.idsRead && (error.code === 'SEQ_CONFLICT' || error.code === 'DUPLICATE_EVENT_ID')) needsIds = true;
      return error;
    }
  });
  return { results, rows, head, marks, epochs, heads, changedClients, needsIds };
}

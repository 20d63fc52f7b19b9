/**
 * What the forms accept, with the app's own messages. Inputs carry no
 * maxLength/min/max of their own: the browser would cut a paste short without a
 * word, or show its own bubble; these rules say what is wrong instead.
 */
import { LIMITS } from './model.ts';

const chars = (n: number) => `${n} character${n === 1 ? '' : 's'}`;

/** A problem with a customer name, or null when it can open an order. */
export function customerProblem(text: string): string | null {
  const name = text.trim();
  if (!name) return 'Enter the customer’s name.';
  if (name.length > LIMITS.customer) return `A customer name is at most ${chars(LIMITS.customer)}; this one has ${name.length}.`;
  return null;
}

/** A problem with a cancel reason, or null. */
export function cancelReasonProblem(text: string): string | null {
  const reason = text.trim();
  if (reason.length > LIMITS.cancelReason) return `A reason is at most ${chars(LIMITS.cancelReason)}; this one has ${reason.length}.`;
  return null;
}

/** The quantity typed, or why it cannot be used. `already` is what the order holds of that product. */
export function parseQuantity(text: string, already = 0): { qty: number } | { problem: string } {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return { problem: `Quantity must be a whole number from 1 to ${LIMITS.qty}.` };
  const qty = Number(trimmed);
  if (qty < 1 || qty > LIMITS.qty) return { problem: `Quantity must be a whole number from 1 to ${LIMITS.qty}.` };
  if (already + qty > LIMITS.qty) {
    return { problem: `An order line holds at most ${LIMITS.qty}; this one has ${already}, so add at most ${LIMITS.qty - already}.` };
  }
  return { qty };
}

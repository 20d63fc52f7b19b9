import { describe, expect, it } from 'vitest';
import { cancelReasonProblem, customerProblem, parseQuantity } from '../../demo/src/input-rules.ts';
import { LIMITS, OrderCancelled, OrderOpened } from '../../demo/src/model.ts';

describe('demo form rules', () => {
  it('given a customer name within the limit, then it is accepted; beyond it, the message says both numbers', () => {
    expect(customerProblem(' Ada ')).toBeNull();
    expect(customerProblem('x'.repeat(LIMITS.customer))).toBeNull();
    expect(customerProblem('x'.repeat(LIMITS.customer + 5))).toBe('A customer name is at most 80 characters; this one has 85.');
    expect(customerProblem('   ')).toBe('Enter the customer’s name.');
  });

  it('given what the form accepts, then the event schema accepts it too (one limit for both)', () => {
    expect(OrderOpened.schema.safeParse({ customer: 'x'.repeat(LIMITS.customer), number: 'AB123' }).success).toBe(true);
    expect(OrderOpened.schema.safeParse({ customer: 'x'.repeat(LIMITS.customer + 1), number: 'AB123' }).success).toBe(false);
    expect(OrderCancelled.schema.safeParse({ reason: 'r'.repeat(LIMITS.cancelReason) }).success).toBe(true);
    expect(cancelReasonProblem('r'.repeat(LIMITS.cancelReason + 1))).toBe('A reason is at most 200 characters; this one has 201.');
  });

  it('given a quantity, then only a whole number from 1 to 999 that keeps the line within 999 passes', () => {
    expect(parseQuantity('3')).toEqual({ qty: 3 });
    expect(parseQuantity(' 999 ')).toEqual({ qty: 999 });
    for (const text of ['0', '1000', '2.5', '-1', '1e2', '', 'two']) {
      expect(parseQuantity(text), text).toEqual({ problem: 'Quantity must be a whole number from 1 to 999.' });
    }
    expect(parseQuantity('10', 990)).toEqual({ problem: 'An order line holds at most 999; this one has 990, so add at most 9.' });
    expect(parseQuantity('9', 990)).toEqual({ qty: 9 });
  });
});

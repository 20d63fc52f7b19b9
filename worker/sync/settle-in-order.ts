/**
 * Promise.all for work whose failures name an item (decrypting or sealing a
 * page of events): when several fail, it rejects with the failure of the
 * earliest item in the list, not with whichever settled first. WebCrypto runs
 * off the thread, so "first to settle" varies from run to run; the error a
 * user reads (and a test asserts) names the first event in log order.
 */
export async function allInOrder<T>(work: readonly (T | PromiseLike<T>)[]): Promise<T[]> {
  const settled = await Promise.allSettled(work);
  const values = new Array<T>(settled.length);
  for (let i = 0; i < settled.length; i++) {
    const outcome = settled[i]!;
    if (outcome.status === 'rejected') throw outcome.reason;
    values[i] = outcome.value;
  }
  return values;
}

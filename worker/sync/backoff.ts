/**
 * Exponential backoff with "equal jitter": the attempt-th retry waits between
 * half and all of min(max, initial * 2^(attempt - 1)), so clients that failed
 * together do not come back together.
 */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 20));
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * Lets the thread paint and handle input between slices of long work on it:
 * scheduler.yield where the platform has it, else a message to itself (a
 * macrotask, without the 4 ms clamp nested timers get in browsers). Node has
 * MessageChannel too; the port is closed at once, so it keeps nothing alive.
 * (The devtools keep their own copy, yieldToBrowser: they import only the
 * public entries.)
 */
export function yieldTask(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (scheduler?.yield) return scheduler.yield();
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** How long a slice of work on the app's thread may run before it yields (ms): well under a frame. */
export const SLICE_MS = 8;

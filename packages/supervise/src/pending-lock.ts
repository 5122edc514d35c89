/**
 * One queue per request folder: the pending-count check and the file it allows are one
 * step, so concurrent calls (many clients, or the items of one JSON-RPC batch) cannot all
 * pass the check before any of them has written its file.
 */
const queues = new Map<string, Promise<unknown>>();

export async function serialized<T>(key: string, step: () => Promise<T>): Promise<T> {
  const before = queues.get(key) ?? Promise.resolve();
  const run = before.then(step, step);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, settled);
  try {
    return await run;
  } finally {
    if (queues.get(key) === settled) queues.delete(key);
  }
}

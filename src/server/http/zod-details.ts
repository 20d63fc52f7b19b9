/**
 * A schema failure as the protocol reports it: `details.issues` (up to 20
 * `{ path, message }`, path like `events.1.meta.clientSeq`), `details.field`
 * (the first issue's path) and a message naming the first issue.
 */
export function zodDetails(issues: readonly { path: readonly PropertyKey[]; message: string }[]): {
  message: string;
  details: Record<string, unknown>;
} {
  const list = issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const first = list[0];
  return {
    message: first ? `${first.path || '(root)'}: ${first.message}` : 'invalid request',
    details: { issues: list, ...(first ? { field: first.path } : {}) },
  };
}

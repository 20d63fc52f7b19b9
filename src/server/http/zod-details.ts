import { cutText } from './client-value.ts';

/** How many characters of an issue's path or message a reply repeats. */
const SHOWN_ISSUE_CHARS = 200;

/**
 * A schema failure as the protocol reports it: `details.issues` (up to 20
 * `{ path, message }`, path like `events.1.meta.clientSeq`), `details.field`
 * (the first issue's path) and a message naming the first issue.
 *
 * Paths and messages are cut to SHOWN_ISSUE_CHARS: both can hold the client's own keys (a path through
 * `data`, zod's "Unrecognized key: …"), and uncut, a key of megabytes came back in the message, in
 * `field` and in every issue under it. The start of a path, `events.N`, which names the event, is kept.
 */
export function zodDetails(issues: readonly { path: readonly PropertyKey[]; message: string }[]): {
  message: string;
  details: Record<string, unknown>;
} {
  const list = issues.slice(0, 20).map((i) => ({
    path: cutText(i.path.map(String).join('.'), SHOWN_ISSUE_CHARS),
    message: cutText(i.message, SHOWN_ISSUE_CHARS),
  }));
  const first = list[0];
  return {
    message: first ? `${first.path || '(root)'}: ${first.message}` : 'invalid request',
    details: { issues: list, ...(first ? { field: first.path } : {}) },
  };
}

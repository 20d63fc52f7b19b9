import type { SyncStatus } from 'chronicle';

const LABELS: Record<SyncStatus['state'], string> = {
  disabled: 'Local only',
  standby: 'Synced by another tab',
  offline: 'Server unreachable',
  online: 'Synced',
  syncing: 'Syncing…',
  paused: 'Offline',
  error: 'Sync error',
};

const TONES: Record<SyncStatus['state'], 'ok' | 'busy' | 'warn' | 'bad' | 'muted'> = {
  disabled: 'muted',
  standby: 'ok',
  offline: 'warn',
  online: 'ok',
  syncing: 'busy',
  paused: 'warn',
  error: 'bad',
};

/**
 * Where sync stands, and how many of this device's events wait for the server
 * (counted from the log's pending events: the status's own `pending` is only
 * refreshed by sync rounds, so it stands still while paused).
 */
export function SyncBadge({ status, configured, pending }: { status: SyncStatus | null; configured: boolean; pending: number }) {
  if (!status) return <span className="badge muted">…</span>;
  const state = configured ? status.state : 'disabled';
  const title = status.lastError && state !== 'online' ? `${status.lastError.code}: ${status.lastError.message}` : undefined;
  return (
    <span className={`sync-badge tone-${TONES[state]}`} data-testid="sync-state" data-state={state} title={title}>
      <span className="dot" aria-hidden="true" />
      <span>{LABELS[state]}</span>
      <span className="pending" data-testid="pending-count" data-count={pending}>
        {pending === 0 ? 'all saved' : `${pending} not synced`}
      </span>
    </span>
  );
}

/**
 * The log center's state for admins (GET /api/v1/app-logs/stats, host-wide): entries and size per environment
 * with the retention that applies, and where indexing stands (entries not yet in the file's index, the pending
 * index, the indexing worker's failures in a row). Polled every 5 s while the page is visible.
 */
import type { AppLogRetention } from '../../../shared/api-logs';
import { appLogStats } from '../../../shared/client/app-logs-client';
import { useLoad } from '../data';
import { session } from '../session';

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function retentionOf(r: AppLogRetention, env: string): string {
  const l = r.perEnvironment[env] ?? r.default;
  const parts = [l?.maxAgeDays !== undefined ? `${l.maxAgeDays} days` : '', l?.maxBytes !== undefined ? mib(l.maxBytes) : ''].filter(Boolean);
  return parts.length ? parts.join(', ') : 'kept';
}

export function LogCenterStats() {
  const s = session()!;
  const stats = useLoad(() => appLogStats(s.client), [], 5000);
  if (stats.error) return <p class="error">Log center stats: {stats.error}</p>;
  const d = stats.data;
  if (!d) return null;
  const i = d.indexing;
  return (
    <details class="card" data-testid="log-center-stats">
      <summary>
        Log center: {d.entries} entries, {mib(d.bytes)}; indexing {i.lagRows === 0 ? 'up to date' : `${i.lagRows} behind`}
        {i.workerFailuresInRow > 0 && <span class="error"> (worker failed {i.workerFailuresInRow} times in a row)</span>}
      </summary>
      <table class="table">
        <thead>
          <tr>
            <th>Environment</th>
            <th>Entries</th>
            <th>Size</th>
            <th>Partitions</th>
            <th>Retention</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(d.environments)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([env, e]) => (
              <tr key={env}>
                <td>{env}</td>
                <td>{e.entries}</td>
                <td>{mib(e.bytes)}</td>
                <td>{e.partitions}</td>
                <td>{retentionOf(d.retention, env)}</td>
              </tr>
            ))}
        </tbody>
      </table>
      <p class="muted small">
        Stored seq {i.storedSeq}, indexed seq {i.indexedSeq}; pending index in {i.pendingIn} ({i.pendingMemoryRows} in memory, {i.pendingSpillRows} in the spill file); worker{' '}
        {i.workerRunning ? 'running' : 'not running'}, {i.workerRestarts} restart(s){i.workerError ? `; last error: ${i.workerError}` : ''}; files {mib(d.fileBytes)}.
      </p>
    </details>
  );
}

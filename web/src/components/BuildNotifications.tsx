/**
 * The build's notifications (GET /builds/:id/notifications): per channel the event, the target (never a
 * credential), delivered / pending (retried with backoff) / failed, attempts and the last error. Shown when the
 * build has any; read again when the build's status changes.
 */
import type { BuildDetail } from '../../../shared/api';
import { useLoad } from '../data';
import { ago } from '../format';
import { session } from '../session';
import { Status } from './Status';

export function BuildNotifications({ build }: { build: BuildDetail }) {
  const s = session()!;
  const list = useLoad(() => s.client.buildNotifications(build.id), [build.id, build.status]);
  if (!list.data?.length) return null;
  return (
    <section>
      <h2>Notifications</h2>
      <ul class="plain" data-testid="notifications">
        {list.data.map((n) => (
          <li>
            <Status status={n.status === 'delivered' ? 'success' : n.status === 'failed' ? 'failed' : 'queued'} /> {n.event} to {n.kind}{' '}
            <span class="mono small">{n.target}</span>{' '}
            <span class="muted small">
              {n.status}
              {n.attempts > 1 ? ` after ${n.attempts} attempts` : ''} · {ago(n.deliveredAt ?? n.createdAt)}
              {n.status === 'pending' && n.nextAt ? ` · next try at ${new Date(n.nextAt).toLocaleTimeString()}` : ''}
            </span>
            {n.lastError && <div class="error small">{n.lastError}</div>}
          </li>
        ))}
      </ul>
    </section>
  );
}

/**
 * More of a job's history on its page: webhook deliveries and polls (GET /jobs/:job/triggers: which started
 * which build, or why not) and the tests per build (GET /jobs/:job/test-trend). Both shown only when there are
 * any.
 */
import type { TestTrendPoint } from '../../../shared/api';
import { useLoad } from '../data';
import { ago } from '../format';
import { paths } from '../router';
import { session } from '../session';
import { Status } from './Status';

export function TriggerHistory({ job }: { job: string }) {
  const s = session()!;
  const events = useLoad(() => s.client.listTriggers(job, { limit: 20 }), [job]);
  if (!events.data?.length) return null;
  return (
    <details class="card" data-testid="trigger-history">
      <summary>Webhooks and polls ({events.data.length})</summary>
      <ul class="plain small">
        {events.data.map((e) => (
          <li>
            <span class="mono">{e.provider}</span> {e.event} {e.ref && <span class="mono">{e.ref}</span>} <Status status={e.outcome === 'queued' ? 'success' : e.outcome} />{' '}
            {e.buildId ? <a href={paths.build(e.buildId)}>build {e.buildId}</a> : <span class="muted">{e.reason}</span>} <span class="muted">{ago(e.createdAt)}</span>
          </li>
        ))}
      </ul>
    </details>
  );
}

/** Failed and total tests per build, oldest first, as bars (no chart library). */
function TrendBars({ points }: { points: TestTrendPoint[] }) {
  const ps = [...points].reverse();
  const max = Math.max(1, ...ps.map((p) => p.tests));
  const w = 8;
  const h = 40;
  return (
    <svg width={ps.length * (w + 2)} height={h} role="img" aria-label={`tests of the last ${ps.length} builds`} class="trend">
      {ps.map((p, i) => {
        const total = (p.tests / max) * h;
        const bad = ((p.failures + p.errors) / max) * h;
        return (
          <g>
            <title>{`#${p.number}: ${p.tests} tests, ${p.failures} failed, ${p.errors} errors`}</title>
            <rect x={i * (w + 2)} y={h - total} width={w} height={total - bad} fill="#98c379" />
            <rect x={i * (w + 2)} y={h - bad} width={w} height={bad} fill="#e06c75" />
          </g>
        );
      })}
    </svg>
  );
}

export function TestTrend({ job }: { job: string }) {
  const s = session()!;
  const trend = useLoad(() => s.client.testTrend(job, 30), [job]);
  if (!trend.data?.length) return null;
  const last = trend.data[0];
  return (
    <section class="card" data-testid="test-trend">
      <h2>Tests</h2>
      <TrendBars points={trend.data} />
      <p class="small">
        last: <a href={paths.build(last.buildId)}>#{last.number}</a> {last.tests} tests, {last.failures} failed, {last.errors} errors, {last.skipped} skipped
      </p>
    </section>
  );
}

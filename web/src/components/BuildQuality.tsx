/**
 * A build's quality reports: SARIF findings (GET /builds/:id/findings: totals per severity, new ones versus the
 * baseline build, high first, filterable) and the test report against history (GET /builds/:id/test-report:
 * totals, newly failing, fixed, flaky on the same commit, slowest). Shown only when the build has such reports.
 */
import { useState } from 'preact/hooks';
import type { BuildDetail, Severity, TestRef } from '../../../shared/api';
import { useLoad } from '../data';
import { duration } from '../format';
import { paths } from '../router';
import { session } from '../session';
import { Status } from './Status';

const testName = (t: TestRef) => `${t.classname ? `${t.classname} › ` : ''}${t.name}`;

export function Findings({ build }: { build: BuildDetail }) {
  const s = session()!;
  const has = build.reports.some((r) => r.format === 'sarif');
  const [severity, setSeverity] = useState<Severity | ''>('');
  const [onlyNew, setOnlyNew] = useState(false);
  const page = useLoad(
    () => (has ? s.client.buildFindings(build.id, { severity: severity || undefined, onlyNew, limit: 500 }) : Promise.resolve(null)),
    [build.id, has, severity, onlyNew],
  );
  if (!has) return null;
  const p = page.data;
  return (
    <section data-testid="findings">
      <h2>Scan findings</h2>
      {page.error && <p class="error">{page.error}</p>}
      {p && (
        <>
          <p class="small">
            {(['high', 'medium', 'low'] as const).map((sev) => (
              <span class={`tag sev-${sev}`}>
                {p.total[sev]} {sev}
                {p.new[sev] ? ` (${p.new[sev]} new)` : ''}
              </span>
            ))}{' '}
            {build.reports
              .filter((r) => r.format === 'sarif' && r.status !== 'parsed')
              .map((r) => (
                <span class="error small">
                  {r.path}: {r.status}
                  {r.error ? ` (${r.error})` : ''}{' '}
                </span>
              ))}
            <span class="muted">
              {p.previousBuildId ? (
                <>
                  new versus <a href={paths.build(p.previousBuildId)}>build {p.previousBuildId}</a>
                </>
              ) : (
                'no baseline build: all are new'
              )}
            </span>
          </p>
          <div class="inline-form">
            <label class="inline">
              Severity
              <select value={severity} onChange={(e) => setSeverity((e.target as HTMLSelectElement).value as Severity | '')}>
                <option value="">all</option>
                <option value="high">high</option>
                <option value="medium">medium</option>
                <option value="low">low</option>
              </select>
            </label>
            <label class="check">
              <input type="checkbox" checked={onlyNew} onChange={(e) => setOnlyNew((e.target as HTMLInputElement).checked)} /> only new
            </label>
          </div>
          {p.findings.length ? (
            <div class="scroll-x">
              <table class="table">
                <thead>
                  <tr>
                    <th>Severity</th>
                    <th>Tool / rule</th>
                    <th>Location</th>
                    <th>Message</th>
                  </tr>
                </thead>
                <tbody>
                  {p.findings.map((f) => (
                    <tr>
                      <td>
                        <span class={`tag sev-${f.severity}`}>{f.severity}</span>
                        {f.isNew && <span class="tag">new</span>}
                      </td>
                      <td class="small">
                        {f.tool} <span class="mono">{f.ruleId}</span>
                      </td>
                      <td class="mono small break">{f.file ? `${f.file}${f.line ? `:${f.line}` : ''}` : '-'}</td>
                      <td class="small break">{f.message}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p class="muted">No findings{severity || onlyNew ? ' match' : ''}.</p>
          )}
        </>
      )}
    </section>
  );
}

function TestList({ title, tests, testid, extra }: { title: string; tests: TestRef[]; testid: string; extra?: (t: TestRef) => string }) {
  if (!tests.length) return null;
  return (
    <div data-testid={testid}>
      <h3>
        {title} ({tests.length})
      </h3>
      <ul class="plain small">
        {tests.map((t) => (
          <li>
            <Status status={t.status} /> {testName(t)} <span class="muted">{duration(t.durationMs)}</span>
            {extra && <span class="muted"> {extra(t)}</span>}
            {t.message && <div class="error">{t.message.split('\n')[0]}</div>}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function TestHistory({ build }: { build: BuildDetail }) {
  const s = session()!;
  const has = build.reports.some((r) => r.format === 'junit' && r.status === 'parsed');
  const report = useLoad(() => (has ? s.client.buildTestReport(build.id, { slowest: 5 }) : Promise.resolve(null)), [build.id, has]);
  if (!has || !report.data) return report.error ? <p class="error">{report.error}</p> : null;
  const r = report.data;
  const t = r.totals;
  return (
    <section data-testid="test-report">
      <h3>Against history</h3>
      <p class="small">
        {t.tests} tests: {t.passed} passed, {t.failed} failed, {t.errors} errors, {t.skipped} skipped in {duration(t.durationMs)}{' '}
        <span class="muted">
          {r.previousBuildId ? (
            <>
              compared with <a href={paths.build(r.previousBuildId)}>build {r.previousBuildId}</a>
            </>
          ) : (
            'no earlier build of the branch to compare with'
          )}
        </span>
      </p>
      <TestList title="Newly failing" testid="newly-failing" tests={r.newlyFailing} extra={(x) => `(was ${(x as (typeof r.newlyFailing)[number]).before})`} />
      <TestList title="Fixed" testid="fixed" tests={r.fixed} />
      <TestList
        title="Flaky on this commit"
        testid="flaky"
        tests={r.flaky}
        extra={(x) => {
          const f = x as (typeof r.flaky)[number];
          return `(passed in ${f.passedIn.join(', ')}; failed in ${f.failedIn.join(', ')})`;
        }}
      />
      <TestList title="Slowest" testid="slowest" tests={r.slowest} />
    </section>
  );
}

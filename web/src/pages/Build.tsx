/**
 * One build: what started it, its stages and steps (status, duration, why a stage waits), cancel and re-run,
 * the steps' outputs (image digest, deployed instances, compose file), test results (failures first) and
 * the live log. The log comes from the client stream; the build's detail is fetched again when the stream
 * reports a status change (debounced) and once more at stream:end.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { BuildDetail, StageRunInfo, StepOutputInfo } from '../../../shared/api';
import { ApprovalGate } from '../components/ApprovalGate';
import { BuildNotifications } from '../components/BuildNotifications';
import { Findings, TestHistory } from '../components/BuildQuality';
import { LogView } from '../components/LogView';
import { Status } from '../components/Status';
import { useLoad } from '../data';
import { ACTIVE_STATUSES, ago, duration, span } from '../format';
import { LogLines } from '../log-lines';
import { jobRef, navigate, paths } from '../router';
import { session } from '../session';
import { followBuild } from '../stream';

/** Why a build or stage ended, in words, when it says more than its status (lost agent, approval gate). */
function endNote(status: string, reason: string | null | undefined): string {
  if (!reason || reason === status || reason === 'succeeded') return '';
  return { lost: 'agent lost', gate_rejected: 'approval rejected', gate_expired: 'approval expired' }[reason] ?? reason;
}

/** Approve / reject for the caller's open gates of the build; others are told they are not an approver. */
function Gate({ build, stage, onDecided }: { build: BuildDetail; stage: StageRunInfo; onDecided: (stage: string, decision: string) => void }) {
  const s = session()!;
  const open = useLoad(() => s.client.listApprovals(), [build.id, stage.id]);
  const mine = open.data?.find((a) => a.buildId === build.id && a.stageRunId === stage.id);
  if (!open.data) return null;
  if (!mine?.mayDecide) return <div class="muted small">You are not one of its approvers.</div>;
  return <ApprovalGate buildId={build.id} stage={stage.name} onDone={(d) => onDecided(stage.name, d)} />;
}

function Stages({ build, stages, onDecided }: { build: BuildDetail; stages: StageRunInfo[]; onDecided: (stage: string, decision: string) => void }) {
  return (
    <ol class="stages" aria-label="Stages">
      {stages.map((st) => (
        <li class={`stage stage-${st.status}`}>
          <div class="stage-head">
            <strong>{st.name}</strong> <Status status={st.status} />
            {endNote(st.status, st.endReason) && <span class="muted small"> {endNote(st.status, st.endReason)}</span>}
          </div>
          <div class="muted small">
            {st.environment}
            {st.agent ? ` · ${st.agent}` : ''}
            {st.attempt > 1 ? ` · attempt ${st.attempt}` : ''} · {span(st.startedAt, st.finishedAt)}
          </div>
          {st.waiting && <div class="warning small">{st.waiting}</div>}
          {st.status === 'waiting' && build.approvals.some((a) => a.stageRunId === st.id && a.status === 'waiting') && (
            <Gate build={build} stage={st} onDecided={onDecided} />
          )}
          {st.error && <div class="error small">{st.error}</div>}
          <ul class="steps">
            {st.steps.map((step) => (
              <li>
                <Status status={step.status} /> <span>{step.name}</span> <span class="muted small">{step.kind}</span>
                <span class="muted small step-dur">
                  {step.durationMs !== null ? duration(step.durationMs) : span(step.startedAt, step.finishedAt)}
                  {step.exitCode !== null && step.exitCode !== 0 ? ` · exit ${step.exitCode}` : ''}
                </span>
                {step.error && <div class="error small">{step.error}</div>}
                {typeof step.outputs.app === 'string' && typeof step.outputs.environment === 'string' && (
                  <div class="small">
                    <a href={`${paths.deployments()}?${new URLSearchParams({ app: step.outputs.app, environment: step.outputs.environment })}`}>
                      {step.outputs.app} in {step.outputs.environment}: deployments
                    </a>
                  </div>
                )}
              </li>
            ))}
          </ul>
        </li>
      ))}
    </ol>
  );
}

function OutputValue({ value }: { value: StepOutputInfo['value'] }) {
  if (Array.isArray(value))
    return (
      <ul class="plain">
        {value.map((v) => (
          <li class="mono">{v}</li>
        ))}
      </ul>
    );
  const text = String(value);
  return text.includes('\n') ? <pre class="output">{text}</pre> : <span class="mono break">{text}</span>;
}

function Outputs({ build, outputs }: { build: BuildDetail; outputs: StepOutputInfo[] }) {
  if (!outputs.length) return null;
  const stepName = (o: StepOutputInfo) => {
    const st = build.stages.find((s) => s.id === o.stageRunId);
    return `${st?.name ?? o.stageIndex} / ${st?.steps.find((x) => x.index === o.stepIndex)?.name ?? o.stepId ?? o.stepIndex}`;
  };
  return (
    <section>
      <h2>Outputs</h2>
      <table class="table" data-testid="outputs">
        <thead>
          <tr>
            <th>Step</th>
            <th>Output</th>
            <th>Value</th>
          </tr>
        </thead>
        <tbody>
          {outputs.map((o) => (
            <tr>
              <td>{stepName(o)}</td>
              <td class="mono">{o.key}</td>
              <td>
                <OutputValue value={o.value} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Tests({ build }: { build: BuildDetail }) {
  const s = session()!;
  // SARIF reports are scan results (Findings); the others hold test cases.
  const reports = build.reports.filter((r) => r.format !== 'sarif');
  const tests = useLoad(() => (reports.length ? s.client.buildTests(build.id, { limit: 100 }) : Promise.resolve([])), [build.id, reports.length]);
  if (!reports.length) return null;
  return (
    <section>
      <h2>Test results</h2>
      <ul class="plain">
        {reports.map((r) => (
          <li>
            <span class="mono">{r.path}</span> ({r.format}): {r.status === 'parsed' ? `${r.tests} tests, ${r.failures} failed, ${r.errors} errors, ${r.skipped} skipped` : r.status}
            {r.error && <span class="error small"> {r.error}</span>}
          </li>
        ))}
      </ul>
      {tests.data && tests.data.length > 0 && (
        <table class="table" data-testid="tests">
          <thead>
            <tr>
              <th>Status</th>
              <th>Test</th>
              <th>Time</th>
            </tr>
          </thead>
          <tbody>
            {tests.data.map((t) => (
              <tr>
                <td>
                  <Status status={t.status} />
                </td>
                <td>
                  <span class="muted small">{t.classname ?? t.suite}</span> {t.name}
                  {t.message && <pre class="output small">{t.message}</pre>}
                </td>
                <td>{duration(t.durationMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <TestHistory build={build} />
    </section>
  );
}

export function Build({ id }: { id: number }) {
  const s = session()!;
  const detail = useLoad(() => s.client.getBuild(id), [id]);
  const outputs = useLoad(() => s.client.buildOutputs(id), [id]);
  const lines = useMemo(() => new LogLines(), [id]);
  const [version, setVersion] = useState(0);
  const [streamError, setStreamError] = useState<string | null>(null);
  const [connected, setConnected] = useState(true);
  const [ended, setEnded] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [decided, setDecided] = useState<string | null>(null);
  const refresh = useRef<ReturnType<typeof setTimeout>>();

  useEffect(() => {
    let frame = 0;
    // Chunks arrive faster than frames: redraw at most once per animation frame.
    const redraw = () => {
      if (!frame) frame = requestAnimationFrame(() => ((frame = 0), setVersion(lines.version)));
    };
    const reloadSoon = () => {
      clearTimeout(refresh.current);
      refresh.current = setTimeout(() => {
        detail.reload();
        outputs.reload();
      }, 300);
    };
    const stop = followBuild(s.token, id, {
      onLog: (m) => lines.append(m.stageRunId, m.stage, m.seq, m.data) && redraw(),
      onStatus: reloadSoon,
      onEnd: () => {
        setEnded(true);
        reloadSoon();
      },
      onError: (message, fatal) => (fatal ? setStreamError(message) : console.warn(message)),
      onConnection: (up) => {
        setConnected(up);
        // A browser does not tell why an upgrade failed: ask the API, whose 401 ends an expired session.
        if (!up) s.client.me().catch(() => undefined);
      },
    });
    return () => {
      stop();
      cancelAnimationFrame(frame);
      clearTimeout(refresh.current);
    };
  }, [id]);

  // An approver outside the job's team sees the build only while its gate is open.
  if (detail.error && decided) return <p class="notice">{decided} The build belongs to a team you are not in, so it is no longer shown to you.</p>;
  if (detail.error) return <p class="error">{detail.error}</p>;
  const b = detail.data;
  if (!b) return <p class="muted">Loading…</p>;
  const active = ACTIVE_STATUSES.has(b.status);

  const act = async (what: 'cancel' | 'rerun') => {
    setActionError(null);
    try {
      if (what === 'cancel') {
        await s.client.cancelBuild(id);
        detail.reload();
      } else {
        const nb = await s.client.rerunBuild(id);
        navigate(paths.build(nb.id));
      }
    } catch (err) {
      setActionError((err as Error).message);
    }
  };

  return (
    <>
      <div class="page-head">
        <h1>
          <a href={paths.job(jobRef({ name: b.job, team: b.team }))}>{b.job}</a> #{b.number}
        </h1>
        <Status status={b.status} />
        <span class="spacer" />
        {active && (
          <button type="button" class="danger" onClick={() => act('cancel')}>
            Cancel
          </button>
        )}
        {!active && (
          <button type="button" onClick={() => act('rerun')}>
            Re-run
          </button>
        )}
      </div>
      {actionError && (
        <p class="error" role="alert">
          {actionError}
        </p>
      )}
      <dl class="facts">
        <dt>Trigger</dt>
        <dd>
          {b.trigger.kind}
          {b.trigger.user ? ` by ${b.trigger.user}` : ''} · {ago(b.createdAt)}
        </dd>
        {b.branch && (
          <>
            <dt>Branch</dt>
            <dd class="mono">{b.ref ?? b.branch}</dd>
          </>
        )}
        {b.commit && (
          <>
            <dt>Commit</dt>
            <dd>
              <span class="mono">{b.commit.slice(0, 12)}</span> {b.commitInfo?.message?.split('\n')[0]} {b.commitInfo?.author && <span class="muted">({b.commitInfo.author})</span>}
            </dd>
          </>
        )}
        <dt>Duration</dt>
        <dd>{span(b.startedAt, b.finishedAt) || 'not started'}</dd>
        {Object.keys(b.params).length > 0 && (
          <>
            <dt>Parameters</dt>
            <dd>
              {Object.entries(b.params).map(([k, v]) => (
                <div class="mono break">
                  {k}={v.length > 200 ? `${v.slice(0, 200)}… (${v.length} chars)` : v}
                </div>
              ))}
            </dd>
          </>
        )}
        {endNote(b.status, b.endReason) && (
          <>
            <dt>Ended</dt>
            <dd>{endNote(b.status, b.endReason)}</dd>
          </>
        )}
        {b.error && (
          <>
            <dt>Error</dt>
            <dd class="error">{b.error}</dd>
          </>
        )}
      </dl>
      <Stages
        build={b}
        stages={b.stages}
        onDecided={(stage, decision) => {
          setDecided(`You ${decision} stage ${stage} of ${b.job} #${b.number}.`);
          detail.reload();
        }}
      />
      {b.approvals.some((a) => a.status !== 'waiting') && (
        <section>
          <h2>Approvals</h2>
          <ul class="plain" data-testid="approval-history">
            {b.approvals
              .filter((a) => a.status !== 'waiting')
              .map((a) => (
                <li>
                  stage <strong>{a.stage}</strong> ({a.environment}): <Status status={a.status} /> {a.decidedBy ? `by ${a.decidedBy}` : ''} {ago(a.decidedAt)}
                  {a.comment && <span class="muted">: {a.comment}</span>}
                </li>
              ))}
          </ul>
        </section>
      )}
      {outputs.data && <Outputs build={b} outputs={outputs.data} />}
      <Tests build={b} />
      <Findings build={b} />
      <BuildNotifications build={b} />
      <h2>Log</h2>
      {streamError && <p class="error">{streamError}</p>}
      {!connected && !ended && <p class="warning">Reconnecting to the log stream…</p>}
      <LogView lines={lines} version={version} live={!ended && !streamError} />
    </>
  );
}

/**
 * Create or edit a job in a form or as YAML, both views of the same YAML text, validated live in the browser
 * by the same shared parser and schema the master and the CLI use (shared/job: errors at file line and field,
 * shown at the form's field with that path too); a click on a problem puts the YAML cursor on its line. The
 * form's step fields come from the step kinds' JSON Schema (GET /plugins/schema). In the YAML view, beside the
 * text, the job as the schema understood it (stages, environments, steps, env, secrets by name).
 * Saving posts the YAML (POST /api/v1/jobs), where the master validates it again. Jobs defined in jobs/*.yml
 * are managed as code: the master refuses edits (409), so the editor only shows them.
 * Loaded on demand (its own chunk: the YAML parser stays out of the first page).
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { addAt, moveUpAt, rawOf, removeAt, setAt, type Path } from '../job-form/doc';
import { Form, type FormApi } from '../job-form/fields';
import { JobForm, type FormOptions } from '../job-form/JobForm';
import type { JsonSchema } from '../job-form/SchemaField';
import { ValidationError, type FieldIssue } from '../../../shared/errors';
import { parseJobYaml, type JobConfig, type StepKinds } from '../../../shared/job';
import { stepKindsFromManifests } from '../../../shared/plugins/step-kind';
import { jobPath, jobRef, navigate, paths } from '../router';
import { session } from '../session';

function template(team: string): string {
  return [
    'name: my-job',
    `team: ${team}`,
    'description: What this job does.',
    'params:',
    '  - name: GREETING',
    '    default: hello',
    'env:',
    '  APP: my-app',
    'secrets: []          # team secrets by name, e.g. [DEPLOY_KEY]',
    'stages:',
    '  - name: build',
    '    environment: ci',
    '    steps:',
    '      - name: hello',
    '        sh: echo "$GREETING from $APP"',
    '',
  ].join('\n');
}

type Check = { job: JobConfig; issues: null } | { job: null; issues: FieldIssue[] };

function check(text: string, kinds: StepKinds): Check {
  try {
    return { job: parseJobYaml(text, 'job.yml', kinds), issues: null };
  } catch (err) {
    if (err instanceof ValidationError) return { job: null, issues: err.issues };
    return { job: null, issues: [{ field: '(yaml)', message: (err as Error).message }] };
  }
}

function Preview({ job }: { job: JobConfig }) {
  return (
    <div class="card" data-testid="job-preview">
      <h2>
        {job.name} <span class="muted small">team {job.team}</span>
      </h2>
      {job.repo && <p class="mono small">{job.repo.url}</p>}
      {job.params.length > 0 && <p class="small">parameters: {job.params.map((p) => p.name).join(', ')}</p>}
      {Object.keys(job.env).length > 0 && <p class="small">env: {Object.keys(job.env).join(', ')}</p>}
      {job.secrets.length > 0 && <p class="small">secrets: {job.secrets.join(', ')}</p>}
      <ol class="stages vertical">
        {job.stages.map((st) => (
          <li class="stage">
            <strong>{st.name}</strong> <span class="muted small">on {st.environment}</span>
            <ul class="steps">
              {st.steps.map((step) => (
                <li>
                  {step.name} <span class="muted small">{step.kind}</span>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ol>
    </div>
  );
}

/**
 * The step kinds a job may use here: the built-ins plus those of the master's enabled plugins (their manifests:
 * kinds, scan tools, notifiers, report formats), as the CLI validates; null until the manifests are read. A
 * master that lists none leaves the built-ins.
 */
function useStepKinds(): StepKinds | null {
  const s = session()!;
  const [kinds, setKinds] = useState<StepKinds | null>(null);
  useEffect(() => {
    // Plugin step kinds, scanners, notifiers and report formats, as the CLI validates with them.
    const done = (manifests: Awaited<ReturnType<typeof s.client.pluginManifests>>) => setKinds(stepKindsFromManifests(manifests));
    s.client.pluginManifests().then(done, () => done([]));
  }, []);
  return kinds;
}

/** What the form offers: step kinds with their schema, the user's teams, environments and visible secrets. */
function useFormOptions(): FormOptions | null {
  const s = session()!;
  const [opts, setOpts] = useState<FormOptions | null>(null);
  useEffect(() => {
    const teams = s.me.teams.filter((t) => s.me.isAdmin || t.role !== 'viewer').map((t) => t.name);
    const secretsOf = (team: string) => s.client.listSecrets(team).then((l) => l.map((x) => x.name), () => [] as string[]);
    Promise.all([
      s.client.stepSchema(),
      s.client.listEnvironments().catch(() => []),
      Promise.all(s.me.teams.filter((t) => s.me.isAdmin || t.role === 'maintainer').map((t) => secretsOf(t.name))),
    ]).then(
      ([schema, envs, secrets]) =>
        setOpts({ stepKeys: schema.stepKeys as Record<string, JsonSchema>, teams, environments: envs.map((e) => e.name), secrets: [...new Set(secrets.flat())].sort() }),
      () => setOpts({ stepKeys: {}, teams, environments: [], secrets: [] }),
    );
  }, []);
  return opts;
}

export default function JobEditor({ name }: { name?: string }) {
  const s = session()!;
  const [mode, setMode] = useState<'form' | 'yaml'>('form');
  const opts = useFormOptions();
  const kinds = useStepKinds();
  const [text, setText] = useState<string | null>(name ? null : template(s.me.teams.find((t) => t.role !== 'viewer')?.name ?? s.me.teams[0]?.name ?? 'my-team'));
  const [managed, setManaged] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [checked, setChecked] = useState<Check | null>(null);
  const [serverIssues, setServerIssues] = useState<FieldIssue[] | null>(null);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (!name) return;
    s.client.getJob(name).then(
      (j) => {
        setText(j.yaml);
        if (j.source === 'file') setManaged(j.filePath ?? 'a file in the jobs directory');
      },
      (err: Error) => setLoadError(err.message),
    );
  }, [name]);

  // Validate as the user types, a little after the last key.
  useEffect(() => {
    if (text === null || !kinds) return;
    const t = setTimeout(() => setChecked(check(text, kinds)), 200);
    return () => clearTimeout(t);
  }, [text, kinds]);

  const goToLine = (line?: number) => {
    const el = area.current;
    if (!el || !line || text === null) return;
    const lines = text.split('\n');
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    el.focus();
    el.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
  };

  const save = async () => {
    if (text === null) return;
    setBusy(true);
    setSaveError(null);
    setServerIssues(null);
    try {
      const job = await s.client.applyJob(text);
      // By name, or by team/name when another of the caller's teams has a job of that name (else the page gets a 409).
      const all = await s.client.listJobs().catch(() => null);
      navigate(all ? jobPath(job, all) : paths.job(jobRef(job)));
    } catch (err) {
      if (err instanceof ValidationError) setServerIssues(err.issues);
      else setSaveError((err as Error).message);
      setBusy(false);
    }
  };

  const issues = serverIssues ?? checked?.issues ?? null;
  const lineCount = useMemo(() => (text ?? '').split('\n').length, [text]);
  const raw = useMemo(() => (text === null ? null : rawOf(text)), [text]);
  const edit = (fn: (t: string) => string) => {
    setText((t) => (t === null ? t : fn(t)));
    setServerIssues(null);
  };
  const formApi: FormApi = {
    issues,
    readOnly: !!managed,
    set: (path: Path, value: unknown, keep?: boolean) => edit((t) => setAt(t, path, value, keep)),
    add: (path: Path, value: unknown) => edit((t) => addAt(t, path, value)),
    remove: (path: Path) => edit((t) => removeAt(t, path)),
    moveUp: (path: Path) => edit((t) => moveUpAt(t, path)),
  };
  if (loadError) return <p class="error">{loadError}</p>;
  if (text === null) return <p class="muted">Loading…</p>;
  return (
    <>
      <div class="page-head">
        <h1>{name ? `Edit ${name}` : 'New job'}</h1>
        <span class="spacer" />
        {!managed && (
          <button type="button" onClick={save} disabled={busy || !checked?.job}>
            {busy ? 'Saving…' : 'Save job'}
          </button>
        )}
      </div>
      {managed && (
        <p class="notice">
          This job is managed as code ({managed}): change that file and restart or re-apply; the master refuses edits made here.
        </p>
      )}
      <div class="tabs" role="tablist" aria-label="Editor view">
        {(['form', 'yaml'] as const).map((m) => (
          <button type="button" role="tab" aria-selected={mode === m} class={mode === m ? 'tab active' : 'tab'} onClick={() => setMode(m)}>
            {m === 'form' ? 'Form' : 'YAML'}
          </button>
        ))}
      </div>
      <div class={mode === 'form' ? 'two-col form-mode' : 'two-col'}>
        {mode === 'form' && (
          <section>
            {raw === null ? (
              <p class="error">The YAML does not parse: fix it in the YAML view (the problem is listed beside it).</p>
            ) : !opts ? (
              <p class="muted">Loading the step kinds…</p>
            ) : (
              <Form.Provider value={formApi}>
                <JobForm raw={raw} opts={opts} />
              </Form.Provider>
            )}
          </section>
        )}
        <section>
          {mode === 'form' && <h2 class="small">YAML of this job (edit either side)</h2>}
          <textarea
            ref={area}
            class="yaml-editor"
            aria-label="Job YAML"
            spellcheck={false}
            readOnly={!!managed}
            rows={Math.max(20, Math.min(lineCount + 2, 50))}
            value={text}
            onInput={(e) => {
              setText((e.target as HTMLTextAreaElement).value);
              setServerIssues(null);
            }}
          />
          {saveError && (
            <p class="error" role="alert">
              {saveError}
            </p>
          )}
          {issues && (
            <ul class="plain issues" data-testid="job-issues" aria-live="polite">
              {issues.map((i) => (
                <li>
                  <button type="button" class="link" onClick={() => goToLine(i.line)}>
                    {i.line ? `line ${i.line}${i.column ? `:${i.column}` : ''}` : 'job'}
                  </button>{' '}
                  <span class="mono">{i.field}</span>: <span class="error">{i.message}</span>
                </li>
              ))}
            </ul>
          )}
          {checked?.job && !serverIssues && <p class="ok small">Valid job.</p>}
        </section>
        {mode === 'yaml' && <aside>{checked?.job ? <Preview job={checked.job} /> : <p class="muted">The job appears here once it is valid.</p>}</aside>}
      </div>
    </>
  );
}

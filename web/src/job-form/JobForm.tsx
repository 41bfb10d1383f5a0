/**
 * The job as a form: the job (name, team, description), repository, triggers, parameters, environment
 * variables, secrets by name, and its stages (environment, approval, env) with their steps. A step is its
 * common keys (name, id, timeout, continueOnError, env) plus one step-kind key whose value is a form generated
 * from that kind's JSON Schema (SchemaField). Every field writes into the YAML text (doc.ts) and shows the
 * shared schema's issues for its path.
 */
import { stepCommonKeys } from '../../../shared/job';
import { Check, Group, idOf, Issues, KeyValues, List, Text, useForm } from './fields';
import { SchemaField } from './SchemaField';
import { initialValue, type JsonSchema } from './schema';
import type { Path } from './doc';

type Raw = Record<string, unknown>;
const asMap = (v: unknown): Raw => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {});
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export interface FormOptions {
  /** Step keys and the JSON Schema of each (GET /plugins/schema). */
  stepKeys: Record<string, JsonSchema>;
  /** Teams the user may create jobs for. */
  teams: string[];
  environments: string[];
  /** Secret names the user may see (maintainer of the team); suggestions only. */
  secrets: string[];
}

const COMMON = new Set<string>(stepCommonKeys);
/** The kinds offered for a new step, most used first (aliases such as compile/test stay available in the list). */
const PREFERRED = ['sh', 'checkout', 'image', 'deploy', 'scan'];

function RemoveButton({ label, path }: { label: string; path: Path }) {
  const f = useForm();
  if (f.readOnly) return null;
  return (
    <button type="button" class="link small" aria-label={label} onClick={() => f.remove(path)}>
      Remove
    </button>
  );
}

/** Remove, and Move up for all but the first item of a list. */
function ItemActions({ what, path }: { what: string; path: Path }) {
  const f = useForm();
  if (f.readOnly) return null;
  return (
    <>
      {Number(path[path.length - 1]) > 0 && (
        <button type="button" class="link small" aria-label={`Move ${what} up`} onClick={() => f.moveUp(path)}>
          Move up
        </button>
      )}{' '}
      <RemoveButton label={`Remove ${what}`} path={path} />
    </>
  );
}

function Step({ step, path, label, opts }: { step: Raw; path: Path; label: string; opts: FormOptions }) {
  const f = useForm();
  const kindKey = Object.keys(step).find((k) => !COMMON.has(k));
  const keys = [...new Set([...PREFERRED.filter((k) => k in opts.stepKeys), ...Object.keys(opts.stepKeys).sort()])];
  const schema = kindKey ? opts.stepKeys[kindKey] : undefined;
  return (
    <Group title={label} actions={<ItemActions what={label.toLowerCase()} path={path} />}>
      <div class="form-row">
        <div class="field">
          <label for={idOf([...path, 'kind'])}>{label} kind</label>
          <select
            id={idOf([...path, 'kind'])}
            value={kindKey ?? ''}
            disabled={f.readOnly}
            onChange={(e) => {
              const key = (e.target as HTMLSelectElement).value;
              const next: Raw = {};
              for (const [k, v] of Object.entries(step)) if (COMMON.has(k)) next[k] = v;
              next[key] = key === 'sh' ? 'echo hello' : initialValue(opts.stepKeys[key] ?? {});
              f.set(path, next);
            }}
          >
            {!kindKey && <option value="">choose…</option>}
            {kindKey && !(kindKey in opts.stepKeys) && <option value={kindKey}>{kindKey} (unknown)</option>}
            {keys.map((k) => (
              <option value={k}>{k}</option>
            ))}
          </select>
          <Issues path={path} />
        </div>
        <Text label={`${label} name (optional)`} path={[...path, 'name']} value={step.name} />
        <Text label={`${label} id (optional)`} path={[...path, 'id']} value={step.id} placeholder="to reference its outputs" />
        <Text label={`${label} timeout (optional)`} path={[...path, 'timeout']} value={step.timeout} placeholder="e.g. 10m" />
      </div>
      {kindKey && schema && <SchemaField schema={schema} path={[...path, kindKey]} value={step[kindKey]} label={`${label} ${kindKey}`} />}
      {kindKey && !schema && <p class="muted small">No form for step kind '{kindKey}': edit it in the YAML view.</p>}
      <Check label={`${label} continues on error`} path={[...path, 'continueOnError']} value={step.continueOnError} />
      <KeyValues label={`${label} environment variables`} path={[...path, 'env']} value={step.env} />
    </Group>
  );
}

function Stage({ stage, path, n, opts }: { stage: Raw; path: Path; n: number; opts: FormOptions }) {
  const f = useForm();
  const approval = stage.approval === undefined ? undefined : asMap(stage.approval);
  const steps = asList(stage.steps);
  return (
    <Group title={`Stage ${n}${typeof stage.name === 'string' && stage.name ? `: ${stage.name}` : ''}`} actions={<ItemActions what={`stage ${n}`} path={path} />}>
      <div class="form-row">
        <Text label={`Stage ${n} name`} required path={[...path, 'name']} value={stage.name} />
        <Text label={`Stage ${n} environment`} required path={[...path, 'environment']} value={stage.environment} list="form-environments" />
        <Text label={`Stage ${n} timeout (optional)`} path={[...path, 'timeout']} value={stage.timeout} placeholder="e.g. 30m" />
      </div>
      <label class="check field">
        <input
          type="checkbox"
          checked={approval !== undefined}
          disabled={f.readOnly}
          onChange={(e) => f.set([...path, 'approval'], (e.target as HTMLInputElement).checked ? { teams: opts.teams.slice(0, 1) } : undefined)}
        />{' '}
        Stage {n} waits for an approval
      </label>
      <Issues path={[...path, 'approval']} />
      {approval && (
        <div class="form-row indent">
          <List label={`Stage ${n} approver teams`} path={[...path, 'approval', 'teams']} value={approval.teams} placeholder="e.g. shop-leads" />
          <List label={`Stage ${n} approver roles (optional)`} path={[...path, 'approval', 'roles']} value={approval.roles} placeholder="developer" />
          <Text label={`Stage ${n} approval timeout (optional)`} path={[...path, 'approval', 'timeout']} value={approval.timeout} placeholder="24h" />
        </div>
      )}
      <div class="form-row">
        <List label={`Stage ${n} agent labels (optional)`} path={[...path, 'labels']} value={stage.labels} placeholder="e.g. linux, large" />
        <List label={`Stage ${n} artifacts (optional)`} path={[...path, 'artifacts']} value={stage.artifacts} placeholder="e.g. dist/**" />
      </div>
      <KeyValues label={`Stage ${n} environment variables`} path={[...path, 'env']} value={stage.env} />
      <Issues path={[...path, 'steps']} />
      {steps.map((st, i) => (
        <Step key={i} step={asMap(st)} path={[...path, 'steps', i]} label={`Step ${n}.${i + 1}`} opts={opts} />
      ))}
      {!f.readOnly && (
        <button type="button" class="secondary" onClick={() => f.add([...path, 'steps'], { sh: 'echo hello' })}>
          Add a step to stage {n}
        </button>
      )}
    </Group>
  );
}

function Params({ raw }: { raw: Raw }) {
  const f = useForm();
  const params = asList(raw.params);
  return (
    <Group title="Parameters">
      {params.map((p, i) => {
        const m = asMap(p);
        const path: Path = ['params', i];
        return (
          <div class="form-row">
            <Text label={`Parameter ${i + 1} name`} required path={[...path, 'name']} value={m.name} />
            <Text label={`Parameter ${i + 1} default`} path={[...path, 'default']} value={m.default} />
            <List label={`Parameter ${i + 1} choices (optional)`} path={[...path, 'choices']} value={m.choices} />
            <RemoveButton label={`Remove parameter ${i + 1}`} path={path} />
          </div>
        );
      })}
      {!f.readOnly && (
        <button type="button" class="secondary" onClick={() => f.add(['params'], { name: `PARAM${params.length + 1}` })}>
          Add a parameter
        </button>
      )}
    </Group>
  );
}

function Triggers({ raw }: { raw: Raw }) {
  const t = asMap(raw.triggers);
  const push = t.push;
  const f = useForm();
  return (
    <Group title="Triggers">
      <div class="form-row">
        <label class="check field">
          <input type="checkbox" checked={push !== undefined && push !== false} disabled={f.readOnly} onChange={(e) => f.set(['triggers', 'push'], (e.target as HTMLInputElement).checked ? true : undefined)} /> on push
        </label>
        {push !== undefined && push !== false && (
          <List label="Push branches (optional)" path={['triggers', 'push', 'branches']} value={asMap(push).branches} placeholder="every branch" />
        )}
        <Check label="on merge/pull requests" path={['triggers', 'requests']} value={t.requests} />
      </div>
      <Issues path={['triggers', 'push']} />
      <div class="form-row">
        <List label="Cron schedules (optional)" path={['triggers', 'cron']} value={t.cron} placeholder="0 3 * * *" />
        <Text label="Poll schedule (optional)" path={['triggers', 'poll']} value={t.poll} placeholder="*/5 * * * *" />
      </div>
    </Group>
  );
}

export function JobForm({ raw, opts }: { raw: Raw; opts: FormOptions }) {
  const f = useForm();
  const repo = raw.repo === undefined ? undefined : asMap(raw.repo);
  const stages = asList(raw.stages);
  return (
    <div class="job-form" data-testid="job-form">
      <datalist id="form-environments">
        {opts.environments.map((e) => (
          <option value={e} />
        ))}
      </datalist>
      <datalist id="form-secrets">
        {opts.secrets.map((e) => (
          <option value={e} />
        ))}
      </datalist>
      <Group title="Job">
        <div class="form-row">
          <Text label="Job name" path={['name']} required value={raw.name} />
          <div class="field">
            <label for="f-team">Team</label>
            <select id="f-team" value={typeof raw.team === 'string' ? raw.team : ''} disabled={f.readOnly} onChange={(e) => f.set(['team'], (e.target as HTMLSelectElement).value)}>
              {typeof raw.team === 'string' && !opts.teams.includes(raw.team) && <option value={raw.team}>{raw.team}</option>}
              {opts.teams.map((t) => (
                <option value={t}>{t}</option>
              ))}
            </select>
            <Issues path={['team']} />
          </div>
        </div>
        <Text label="Description (optional)" path={['description']} value={raw.description} />
        <div class="form-row">
          <Text label="Build timeout (optional)" path={['timeout']} value={raw.timeout} placeholder="e.g. 1h" />
          <Check label="A new build cancels older queued builds of its branch" path={['cancelPrevious']} value={raw.cancelPrevious} />
        </div>
      </Group>
      <Group title="Repository">
        <label class="check field">
          <input type="checkbox" checked={repo !== undefined} disabled={f.readOnly} onChange={(e) => f.set(['repo'], (e.target as HTMLInputElement).checked ? { url: '', branch: 'main' } : undefined)} /> builds a Git
          repository
        </label>
        {repo && (
          <div class="form-row">
            <Text label="Repository URL" required path={['repo', 'url']} value={repo.url} placeholder="https://git.example/team/app.git" />
            <Text label="Branch" path={['repo', 'branch']} value={repo.branch} placeholder="main" />
            <Text label="Credentials secret (optional)" path={['repo', 'credentials']} value={repo.credentials} list="form-secrets" />
          </div>
        )}
      </Group>
      <Triggers raw={raw} />
      <Params raw={raw} />
      <Group title="Environment and secrets">
        <KeyValues label="Job environment variables" path={['env']} value={raw.env} />
        <List label="Secrets (team secrets by name)" path={['secrets']} value={raw.secrets} placeholder="e.g. DEPLOY_KEY" list="form-secrets" />
      </Group>
      <Issues path={['stages']} />
      {stages.map((st, i) => (
        <Stage key={i} stage={asMap(st)} path={['stages', i]} n={i + 1} opts={opts} />
      ))}
      {!f.readOnly && (
        <button type="button" class="secondary" onClick={() => f.add(['stages'], { name: `stage${stages.length + 1}`, environment: opts.environments[0] ?? 'ci', steps: [{ sh: 'echo hello' }] })}>
          Add a stage
        </button>
      )}
    </div>
  );
}

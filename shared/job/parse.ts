/**
 * YAML text -> validated JobConfig. Errors carry file, line, column and the field path, e.g.
 *   jobs/demo.yml:12:9: stages[0].steps[1].timeout: not a duration: "soon"
 */
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ValidationError, type FieldIssue } from '../errors';
import type { AssignedStep } from '../protocol/messages';
import { EXPRESSION_RE, findReferences } from './outputs';
import { checkNotifiers, type NotifyChannel } from './notify';
import { durationSchema, envMapSchema, jobSchema, STEP_ID_RE, stepCommonKeys, TEAM_ROLES } from './schema';
import { builtinStepKinds, type StepKinds } from './step-kinds';

export interface RepoConfig {
  url: string;
  branch: string;
  credentials?: string;
  webhookSecret: string;
  depth: number;
  submodules: boolean;
  /** known_hosts lines trusted for SSH (validated: every entry has hosts, key type and base64 key). */
  knownHosts?: string;
}

/** An approval gate before a stage (the job's `approval:`). */
export interface ApprovalConfig {
  teams: string[];
  /** The lowest role accepted in those teams. */
  minRole: 'viewer' | 'developer' | 'maintainer';
  timeoutMs: number;
}

/** How long an approval gate waits by default (also the gate a protected environment forces). */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 24 * 3600 * 1000;

export interface StageConfig {
  name: string;
  environment: string;
  labels: string[];
  timeoutMs?: number;
  env: Record<string, string>;
  artifacts: string[];
  retryLost: number;
  /** The approval gate the stage declares (a protected environment adds its own on the master). */
  approval?: ApprovalConfig;
  /** Step kinds the stage uses: an agent must have an executor for each. */
  kinds: string[];
  /** Host capabilities the stage needs: its own `capabilities` plus those of its steps' kinds. */
  capabilities: string[];
  /** Plugin scanners its scan steps run: an agent must run each (from the plugin version the master names). */
  scanners: string[];
  /**
   * Plugin report formats its steps' reports are written in (`junit: { path, format: tap }`): an agent must
   * run the plugin converting each, at the version the master names; absent in configs built elsewhere: none.
   */
  reportFormats?: string[];
  steps: AssignedStep[];
}

export interface JobConfig {
  name: string;
  team: string;
  description?: string;
  repo?: RepoConfig;
  params: { name: string; default?: string; description?: string; choices?: string[] }[];
  env: Record<string, string>;
  secrets: string[];
  triggers: {
    cron: string[];
    timezone?: string;
    /** null: push webhooks do not trigger this job. */
    push: { branches?: string[]; tags: boolean | string[]; paths?: string[] } | null;
    /** null: merge/pull requests do not trigger this job. */
    requests: { branches?: string[] } | null;
    poll?: string;
  };
  status?: { provider: 'gitlab' | 'github' | 'gitea'; apiUrl: string; token: string; context?: string };
  /** Notification channels (shared/job/notify.ts); absent in configs stored before notifications existed. */
  notify?: NotifyChannel[];
  timeoutMs?: number;
  cancelPrevious: boolean;
  stages: StageConfig[];
}

type Path = (string | number)[];

export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(top level)';
}

export class Locator {
  constructor(
    private doc: Document,
    private lines: LineCounter,
    private file: string,
    private text = '',
  ) {}
  /** Like issue(), pointing at `needle` inside the scalar at `path` when the source shows it verbatim. */
  issueAt(path: Path, needle: string, message: string): FieldIssue {
    const node = this.doc.getIn(path, true);
    if (isNode(node) && node.range) {
      const at = this.text.slice(node.range[0], node.range[1]).indexOf(needle);
      const pos = this.lines.linePos(node.range[0] + Math.max(0, at));
      return { file: this.file, line: pos.line, column: pos.col, field: formatPath(path), message };
    }
    return this.issue(path, message);
  }
  issue(path: Path, message: string): FieldIssue {
    // Walk up until a node with a position exists (a missing key points at its parent map).
    for (let p = path; ; p = p.slice(0, -1)) {
      const node = p.length ? this.doc.getIn(p, true) : this.doc.contents;
      if (isNode(node) && node.range) {
        const pos = this.lines.linePos(node.range[0]);
        return { file: this.file, line: pos.line, column: pos.col, field: formatPath(path), message };
      }
      if (!p.length) return { file: this.file, field: formatPath(path), message };
    }
  }
  fromZod(error: z.ZodError, prefix: Path = []): FieldIssue[] {
    return error.issues.flatMap((i) =>
      // Point an unknown key at the key itself, not at the map that holds it.
      i.code === 'unrecognized_keys'
        ? i.keys.map((k) => this.issue([...prefix, ...(i.path as Path), k], `unknown field '${k}'`))
        : [this.issue([...prefix, ...(i.path as Path)], i.message)],
    );
  }
}

/** The registry parseJobYaml uses unless given one; private to this module, so nothing else can add to it. */
const BUILTIN_KINDS = builtinStepKinds();

/**
 * Parse and validate a job file against the step kinds of `kinds` (default: the built-ins). Throws
 * ValidationError (code 'invalid_job') listing every problem found, output references included.
 */
export function parseJobYaml(text: string, file = 'job.yml', kinds: StepKinds = BUILTIN_KINDS): JobConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const loc = new Locator(doc, lines, file, text);
  if (doc.errors.length) {
    const issues = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return { file, line: pos?.line, column: pos?.col, field: '(yaml)', message: e.message.split('\n')[0] };
    });
    throw new ValidationError('invalid_job', issues);
  }
  const raw = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ValidationError('invalid_job', [loc.issue([], 'a job file is a YAML map with name, team and stages')]);
  }
  const parsed = jobSchema.safeParse(raw);
  if (!parsed.success) throw new ValidationError('invalid_job', loc.fromZod(parsed.error));
  const job = parsed.data;

  const issues: FieldIssue[] = [];
  const stages: StageConfig[] = job.stages.map((stage, si) => {
    const steps = withCheckout(
      !!job.repo && stage.checkout !== false,
      stage.steps.flatMap((step, i) => {
        const r = parseStep(step, ['stages', si, 'steps', i], loc, kinds);
        if ('issues' in r) {
          issues.push(...r.issues);
          return [];
        }
        return [r.step];
      }),
    );
    const stepKinds = [...new Set(steps.map((s) => s.kind))];
    const capabilities = new Set(stage.capabilities);
    for (const k of stepKinds) for (const c of kinds.get(k)?.capabilities ?? []) capabilities.add(c);
    const scanners = [...new Set(steps.flatMap((s) => kinds.get(s.kind)?.scanners?.(s.config) ?? []))].sort();
    const reportFormats = [...new Set(steps.flatMap((s) => (s.reports ?? []).flatMap((r) => (r.from ? [r.from] : []))))].sort();
    return {
      name: stage.name,
      environment: stage.environment,
      labels: stage.labels,
      timeoutMs: stage.timeout,
      env: stage.env,
      artifacts: stage.artifacts,
      retryLost: stage.retry?.lost ?? job.retry.lost,
      ...(stage.approval
        ? {
            approval: {
              teams: stage.approval.teams,
              minRole: TEAM_ROLES.find((r) => stage.approval!.roles?.includes(r)) ?? 'developer',
              timeoutMs: stage.approval.timeout ?? DEFAULT_APPROVAL_TIMEOUT_MS,
            },
          }
        : {}),
      kinds: stepKinds,
      capabilities: [...capabilities].sort(),
      scanners,
      reportFormats,
      steps,
    };
  });
  if (!issues.length) issues.push(...checkReferences(job.stages, stages, loc, kinds));
  for (const p of checkNotifiers(job.notify, kinds.notifiers)) issues.push(loc.issue(['notify', p.index, ...p.path], p.message));
  if (!job.repo) {
    for (const key of ['push', 'requests', 'poll'] as const) {
      if (job.triggers[key] !== undefined && job.triggers[key] !== false) {
        issues.push(loc.issue(['triggers', key], `the ${key} trigger needs a repo (repo.url)`));
      }
    }
    job.stages.forEach((stage, si) =>
      stage.steps.forEach((step, i) => {
        if ('checkout' in step) issues.push(loc.issue(['stages', si, 'steps', i, 'checkout'], 'a checkout step needs a repo (repo.url)'));
      }),
    );
  }
  const seen = new Set<string>();
  job.stages.forEach((s, si) => {
    if (seen.has(s.name)) issues.push(loc.issue(['stages', si, 'name'], `stage name '${s.name}' is used twice`));
    seen.add(s.name);
  });
  const cron = job.triggers.cron === undefined ? [] : ([] as string[]).concat(job.triggers.cron);
  if (issues.length) throw new ValidationError('invalid_job', issues);
  return {
    name: job.name,
    team: job.team,
    description: job.description,
    repo: job.repo,
    params: job.params,
    env: job.env,
    secrets: job.secrets,
    triggers: {
      cron,
      timezone: job.triggers.timezone,
      push: job.triggers.push === true ? { tags: false } : job.triggers.push ? job.triggers.push : null,
      requests: job.triggers.requests === true ? {} : job.triggers.requests ? job.triggers.requests : null,
      poll: job.triggers.poll,
    },
    status: job.status,
    notify: job.notify,
    timeoutMs: job.timeout,
    cancelPrevious: job.cancelPrevious,
    stages,
  };
}

function parseStep(step: Record<string, unknown>, path: Path, loc: Locator, kinds: StepKinds): { step: AssignedStep } | { issues: FieldIssue[] } {
  const common = new Set<string>(stepCommonKeys);
  const kindKeys = Object.keys(step).filter((k) => !common.has(k));
  if (kindKeys.length !== 1) {
    const msg = kindKeys.length
      ? `a step has exactly one step kind, found ${kindKeys.join(', ')}`
      : `a step needs a step kind (one of ${kinds.keys().join(', ')})`;
    return { issues: [loc.issue(path, msg)] };
  }
  const key = kindKeys[0];
  const def = kinds.get(key);
  if (!def) return { issues: [loc.issue([...path, key], kinds.refusal(key) ?? `unknown step kind '${key}' (known: ${kinds.keys().join(', ')})`)] };
  const issues: FieldIssue[] = [];
  const config = def.config.safeParse(step[key]);
  if (!config.success) issues.push(...loc.fromZod(config.error, [...path, key]));
  let timeoutMs: number | undefined;
  if (step.timeout !== undefined) {
    const t = durationSchema.safeParse(step.timeout);
    if (t.success) timeoutMs = t.data;
    else issues.push(...loc.fromZod(t.error, [...path, 'timeout']));
  }
  let env: Record<string, string> = {};
  if (step.env !== undefined) {
    const e = envMapSchema.safeParse(step.env);
    if (e.success) env = e.data;
    else issues.push(...loc.fromZod(e.error, [...path, 'env']));
  }
  if (step.name !== undefined && typeof step.name !== 'string') issues.push(loc.issue([...path, 'name'], 'step name must be a string'));
  if (step.id !== undefined && (typeof step.id !== 'string' || !STEP_ID_RE.test(step.id)))
    issues.push(loc.issue([...path, 'id'], 'step id must be 1-64 letters, digits, _ or -, starting with a letter or _'));
  if (step.continueOnError !== undefined && typeof step.continueOnError !== 'boolean')
    issues.push(loc.issue([...path, 'continueOnError'], 'continueOnError must be true or false'));
  if (issues.length || !config.success) return { issues };
  const cfg = config.data;
  const reports = def.reports(cfg);
  for (const r of reports) {
    const problem = r.from ? kinds.reportFormats.problem(r.from, r.format) : undefined;
    if (problem) issues.push(loc.issue([...path, key, ...(r.field ?? []), 'format'], problem));
  }
  if (issues.length) return { issues };
  // `compile: make` is named 'compile'; a plain `sh: make` is named after its command.
  const generic = key === def.kind || key === 'sh' || key === 'run';
  const autoName = generic && typeof cfg.run === 'string' ? firstLine(cfg.run, key) : key;
  return {
    step: {
      name: typeof step.name === 'string' ? step.name : autoName,
      ...(typeof step.id === 'string' ? { id: step.id } : {}),
      kind: def.kind,
      config: cfg,
      env,
      timeoutMs,
      continueOnError: step.continueOnError === true,
      reports,
    },
  };
}

/** Prepends the implicit checkout step unless the stage has its own. */
function withCheckout(implicit: boolean, steps: AssignedStep[]): AssignedStep[] {
  if (!implicit || steps.some((s) => s.kind === 'checkout')) return steps;
  return [{ name: 'checkout', kind: 'checkout', config: {}, env: {}, continueOnError: false, reports: [] }, ...steps];
}

function firstLine(cmd: string, fallback: string): string {
  const line = cmd.trim().split('\n')[0];
  return line.length > 60 ? `${line.slice(0, 57)}...` : line || fallback;
}

/** Every string inside a raw YAML value, with its path. */
function strings(value: unknown, path: Path, out: { path: Path; s: string }[] = []): { path: Path; s: string }[] {
  if (typeof value === 'string') out.push({ path, s: value });
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, [...path, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) strings(v, [...path, k], out);
  return out;
}

/**
 * Step ids are unique in the job; `${{ steps.ID.outputs.KEY }}` may appear in a step's value and env only,
 * and must name a step with that id that runs earlier (an earlier stage, or earlier in the same stage) and an
 * output that step's kind says it publishes (a shell step lists its `outputs`).
 */
function checkReferences(raw: { env: Record<string, string>; steps: Record<string, unknown>[] }[], stages: StageConfig[], loc: Locator, kinds: StepKinds): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const seen = new Map<string, { names: string[]; where: string }>();
  const common = new Set<string>(stepCommonKeys);
  raw.forEach((stage, si) => {
    for (const { path, s } of strings(stage.env, ['stages', si, 'env'])) {
      for (const m of s.matchAll(EXPRESSION_RE)) issues.push(loc.issueAt(path, m[0], `${m[0]}: output references are allowed in step values and step env only`));
    }
    // The implicit checkout step has no id: raw steps line up with the parsed ones after it.
    const parsed = stages[si].steps.slice(stages[si].steps.length - stage.steps.length);
    stage.steps.forEach((step, i) => {
      const at: Path = ['stages', si, 'steps', i];
      for (const key of Object.keys(step)) {
        if (key !== 'env' && common.has(key)) continue;
        for (const { path, s } of strings(step[key], [...at, key])) {
          const { refs, bad } = findReferences(s);
          for (const b of bad) issues.push(loc.issueAt(path, b.text, `${b.text}: not an output reference (write \${{ steps.ID.outputs.KEY }})`));
          for (const r of refs) {
            const target = seen.get(r.step);
            if (!target) issues.push(loc.issueAt(path, r.text, `${r.text}: no step with id '${r.step}' runs before this step`));
            else if (!target.names.includes(r.key))
              issues.push(loc.issueAt(path, r.text, `${r.text}: step '${r.step}' (${target.where}) publishes no output '${r.key}'${target.names.length ? ` (it has: ${target.names.join(', ')})` : ' (a shell step lists its outputs: outputs: [NAME])'}`));
          }
        }
      }
      const p = parsed[i];
      if (p?.id) {
        if (seen.has(p.id)) issues.push(loc.issue([...at, 'id'], `step id '${p.id}' is used twice (${seen.get(p.id)!.where})`));
        else seen.set(p.id, { names: kinds.get(p.kind)?.outputNames(p.config) ?? [], where: `stage ${stages[si].name}, step ${i + 1}` });
      }
    });
  });
  return issues;
}

/**
 * YAML text -> validated JobConfig. Errors carry file, line, column and the field path, e.g.
 *   jobs/demo.yml:12:9: stages[0].steps[1].timeout: not a duration: "soon"
 */
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ValidationError, type FieldIssue } from '../errors';
import type { AssignedStep } from '../protocol/messages';
import { durationSchema, envMapSchema, jobSchema, stepCommonKeys } from './schema';
import { stepKindFor, stepKindKeys } from './step-kinds';

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

export interface StageConfig {
  name: string;
  environment: string;
  labels: string[];
  timeoutMs?: number;
  env: Record<string, string>;
  artifacts: string[];
  retryLost: number;
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
  ) {}
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

/** Parse and validate a job file. Throws ValidationError (code 'invalid_job') listing every problem found. */
export function parseJobYaml(text: string, file = 'job.yml'): JobConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const loc = new Locator(doc, lines, file);
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
  const stages: StageConfig[] = job.stages.map((stage, si) => ({
    name: stage.name,
    environment: stage.environment,
    labels: stage.labels,
    timeoutMs: stage.timeout,
    env: stage.env,
    artifacts: stage.artifacts,
    retryLost: stage.retry?.lost ?? job.retry.lost,
    steps: withCheckout(
      !!job.repo && stage.checkout !== false,
      stage.steps.flatMap((step, i) => {
        const r = parseStep(step, ['stages', si, 'steps', i], loc);
        if ('issues' in r) {
          issues.push(...r.issues);
          return [];
        }
        return [r.step];
      }),
    ),
  }));
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
    timeoutMs: job.timeout,
    cancelPrevious: job.cancelPrevious,
    stages,
  };
}

function parseStep(step: Record<string, unknown>, path: Path, loc: Locator): { step: AssignedStep } | { issues: FieldIssue[] } {
  const common = new Set<string>(stepCommonKeys);
  const kindKeys = Object.keys(step).filter((k) => !common.has(k));
  if (kindKeys.length !== 1) {
    const msg = kindKeys.length
      ? `a step has exactly one step kind, found ${kindKeys.join(', ')}`
      : `a step needs a step kind (one of ${stepKindKeys().join(', ')})`;
    return { issues: [loc.issue(path, msg)] };
  }
  const key = kindKeys[0];
  const def = stepKindFor(key);
  if (!def) return { issues: [loc.issue([...path, key], `unknown step kind '${key}' (known: ${stepKindKeys().join(', ')})`)] };
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
  if (step.continueOnError !== undefined && typeof step.continueOnError !== 'boolean')
    issues.push(loc.issue([...path, 'continueOnError'], 'continueOnError must be true or false'));
  if (issues.length || !config.success) return { issues };
  const cfg = config.data;
  // `compile: make` is named 'compile'; a plain `sh: make` is named after its command.
  const generic = key === def.kind || key === 'sh' || key === 'run';
  const autoName = generic && typeof cfg.run === 'string' ? firstLine(cfg.run, key) : key;
  return {
    step: {
      name: typeof step.name === 'string' ? step.name : autoName,
      kind: def.kind,
      config: cfg,
      env,
      timeoutMs,
      continueOnError: step.continueOnError === true,
    },
  };
}

/** Prepends the implicit checkout step unless the stage has its own. */
function withCheckout(implicit: boolean, steps: AssignedStep[]): AssignedStep[] {
  if (!implicit || steps.some((s) => s.kind === 'checkout')) return steps;
  return [{ name: 'checkout', kind: 'checkout', config: {}, env: {}, continueOnError: false }, ...steps];
}

function firstLine(cmd: string, fallback: string): string {
  const line = cmd.trim().split('\n')[0];
  return line.length > 60 ? `${line.slice(0, 57)}...` : line || fallback;
}

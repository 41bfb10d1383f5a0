/**
 * The agent config file (`slipway agent start --config agent.yml`): host settings the executors, capability
 * probes and services of this agent use. Validated once at start; an error names the file, line, column and
 * field (`agent.yml:7:13: docker.socket: ...`), like job files.
 *
 *   docker:                       # the Docker capability (image and deploy steps, the docker probe)
 *     socket: /var/run/docker.sock
 *     minApiVersion: "1.41"
 *     registryCredentials: REGISTRY_AUTH   # name of the env var / secret holding them, never the value
 *   etcd:
 *     endpoints: [http://127.0.0.1:2379]
 *   nginx:
 *     binary: /usr/sbin/nginx
 *   capabilities:
 *     declare: [docker]           # present without probing (the operator vouches; tests use it)
 *   executors:                    # per step kind, handed to that executor as ctx.settings
 *     shell: { }
 *   services:                     # long-lived agent services to run, with their settings
 *     disk-space: { path: /var/lib/slipway, minFreeMb: 2048, intervalMs: 30000 }
 */
import { readFileSync } from 'node:fs';
import { isMap, isNode, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';

const CAPABILITY_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const agentFileSchema = z.strictObject({
  docker: z
    .strictObject({
      /** Unix socket of the Docker Engine API (default /var/run/docker.sock, or DOCKER_HOST=unix://...). */
      socket: z.string().startsWith('/', 'must be an absolute path').optional(),
      /** Oldest Engine API version the executors accept (default 1.41). */
      minApiVersion: z.string().regex(/^\d+\.\d+$/, 'must look like 1.41').default('1.41'),
      /** Name of the environment variable or secret holding registry credentials (a reference, never the value). */
      registryCredentials: z.string().regex(ENV_NAME_RE, 'must be a variable or secret name, not a value').optional(),
    })
    .optional(),
  etcd: z
    .strictObject({
      endpoints: z.array(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })).min(1, 'list at least one endpoint'),
    })
    .optional(),
  nginx: z.strictObject({ binary: z.string().min(1).default('nginx') }).optional(),
  capabilities: z
    .strictObject({
      /** Capabilities taken as present without probing. */
      declare: z.array(z.string().regex(CAPABILITY_RE, 'capability names are a-z, 0-9, _ . -')).default([]),
    })
    .default({ declare: [] }),
  executors: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  services: z.record(z.string(), z.union([z.record(z.string(), z.unknown()), z.null(), z.literal(true)]).transform((v) => (v === null || v === true ? {} : v))).default({}),
});

export type AgentFile = z.output<typeof agentFileSchema>;

export const EMPTY_AGENT_FILE: AgentFile = agentFileSchema.parse({});

/** A problem with the agent config file, naming file, position and field. */
export class AgentFileError extends Error {}

/** Reads and validates the file; throws AgentFileError listing every problem. */
export function loadAgentFile(file: string): AgentFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AgentFileError(`${file}: cannot read the agent config file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseAgentFile(text, file);
}

export function parseAgentFile(text: string, file: string): AgentFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    throw new AgentFileError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const raw = doc.toJS() ?? {};
  const parsed = agentFileSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.flatMap((i) => {
    const paths = i.code === 'unrecognized_keys' ? i.keys.map((k) => [...i.path, k]) : [i.path];
    return paths.map((path) => {
      const where = i.code === 'unrecognized_keys' ? keyPosition(doc, lines, path as (string | number)[]) : position(doc, lines, path as (string | number)[]);
      const field = path.map(String).join('.') || '(top level)';
      return `${file}${where}: ${field}: ${i.code === 'unrecognized_keys' ? `unknown field (allowed: ${allowed(path.slice(0, -1) as (string | number)[])})` : i.message}`;
    });
  });
  throw new AgentFileError(problems.join('\n'));
}

/** ':line:col' of `path` in the agent file (or of its nearest parent present), '' when it cannot be read. */
export function positionInAgentFile(file: string, path: (string | number)[]): string {
  try {
    const lines = new LineCounter();
    const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines });
    return position(doc, lines, path);
  } catch {
    return '';
  }
}

function position(doc: ReturnType<typeof parseDocument>, lines: LineCounter, path: (string | number)[]): string {
  for (let p = path; ; p = p.slice(0, -1)) {
    const node = p.length ? doc.getIn(p, true) : doc.contents;
    if (isNode(node) && node.range) {
      const pos = lines.linePos(node.range[0]);
      return `:${pos.line}:${pos.col}`;
    }
    if (!p.length) return '';
  }
}

/** Where the key itself (not its value) of an unknown field is. */
function keyPosition(doc: ReturnType<typeof parseDocument>, lines: LineCounter, path: (string | number)[]): string {
  const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]);
    if (pair && isNode(pair.key) && pair.key.range) {
      const pos = lines.linePos(pair.key.range[0]);
      return `:${pos.line}:${pos.col}`;
    }
  }
  return position(doc, lines, path);
}

/** The keys a section accepts, for the unknown-field message. */
function allowed(path: (string | number)[]): string {
  let schema: z.ZodType = agentFileSchema;
  for (const key of path) {
    while (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) schema = schema.unwrap() as z.ZodType;
    if (!(schema instanceof z.ZodObject)) return '?';
    schema = (schema.shape as Record<string, z.ZodType>)[String(key)];
  }
  while (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) schema = schema.unwrap() as z.ZodType;
  return schema instanceof z.ZodObject ? Object.keys(schema.shape).join(', ') : '?';
}

/**
 * Our own Dockerfile and compose linter. Rules:
 *   root-user        the final stage runs as root (no USER, or USER root / 0)           warning
 *   latest-tag       FROM / image: with the tag latest or no tag at all (not pinned)    warning
 *   no-healthcheck   the final stage (or a compose service) declares no HEALTHCHECK    note
 *   secret-in-env    ENV / ARG default / compose environment: a secret-looking name    error
 *                    with a literal value (baked into the image or the compose file)
 * Files: Dockerfile, Dockerfile.*, *.dockerfile, and compose files (docker-compose*.y(a)ml, compose*.y(a)ml).
 */
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Node as YamlNode } from 'yaml';
import { result, sarifRun, type RuleDef, type SarifResult, type Scanner } from './types';
import { readRegular, walkFiles } from './walk';

const MAX_FILE_BYTES = 1024 * 1024;

export const DOCKER_RULES: RuleDef[] = [
  { id: 'root-user', description: 'container runs as root', level: 'warning' },
  { id: 'latest-tag', description: 'image not pinned (latest or no tag)', level: 'warning' },
  { id: 'no-healthcheck', description: 'no health check', level: 'note' },
  { id: 'secret-in-env', description: 'secret value in the environment', level: 'error' },
];

const SECRET_NAME = /(passw(or)?d|secret|token|api_?key|access_?key|private_?key|credential)/i;
const isDockerfile = (name: string) => name === 'Dockerfile' || name.startsWith('Dockerfile.') || name.endsWith('.dockerfile');
const isCompose = (name: string) => /^(docker-)?compose([.-][\w.-]+)?\.ya?ml$/.test(name);
/** A value that only references a build arg or variable is not a secret written into the file. */
const isReference = (v: string) => v === '' || /^\$\{?[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}?$/.test(v);

/** `image[:tag][@digest]` -> what is wrong with its pinning, or null. */
function pinProblem(image: string): string | null {
  if (image.includes('@')) return null;
  const last = image.slice(image.lastIndexOf('/') + 1);
  if (!last.includes(':')) return `${image} has no tag (it means latest)`;
  return last.endsWith(':latest') ? `${image} uses the tag latest` : null;
}

/** Logical lines of a Dockerfile (continuations joined), with the line each starts on. */
function instructions(text: string): { line: number; op: string; args: string }[] {
  const out: { line: number; op: string; args: string }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let l = lines[i];
    while (/\\\s*$/.test(l) && i + 1 < lines.length) l = l.replace(/\\\s*$/, ' ') + lines[++i];
    const t = l.trim();
    if (!t || t.startsWith('#')) continue;
    const m = /^(\S+)\s*(.*)$/.exec(t)!;
    out.push({ line: start, op: m[1].toUpperCase(), args: m[2] });
  }
  return out;
}

/** ENV / ARG pairs: `K=V K2="V 2"` or the legacy `ENV K V`. */
function pairs(op: string, args: string): [string, string][] {
  if (op === 'ENV' && !/^\S+=/.test(args)) {
    const m = /^(\S+)\s+(.*)$/.exec(args);
    return m ? [[m[1], m[2].trim()]] : [];
  }
  const out: [string, string][] = [];
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_.-]*)(?:=("(?:[^"\\]|\\.)*"|'[^']*'|\S*))?/g)) {
    if (m[2] === undefined) continue;
    out.push([m[1], m[2].replace(/^["']|["']$/g, '')]);
  }
  return out;
}

export function lintDockerfile(path: string, text: string): SarifResult[] {
  const out: SarifResult[] = [];
  const stages = new Set<string>();
  let finalFrom = 0;
  let user: { line: number; name: string } | null = null;
  let healthcheck = false;
  for (const ins of instructions(text)) {
    if (ins.op === 'FROM') {
      const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const image = parts[0] ?? '';
      if (image && image !== 'scratch' && !stages.has(image.toLowerCase()) && !image.includes('$')) {
        const problem = pinProblem(image);
        if (problem) out.push(result('latest-tag', 'warning', `FROM ${problem}: pin a version or digest`, path, ins.line));
      }
      if (parts[1]?.toLowerCase() === 'as' && parts[2]) stages.add(parts[2].toLowerCase());
      finalFrom = ins.line;
      user = null;
      healthcheck = false;
    } else if (ins.op === 'USER') user = { line: ins.line, name: ins.args.split(':')[0].trim() };
    else if (ins.op === 'HEALTHCHECK') healthcheck = !/^NONE\b/i.test(ins.args);
    else if (ins.op === 'ENV' || ins.op === 'ARG') {
      for (const [k, v] of pairs(ins.op, ins.args)) {
        if (SECRET_NAME.test(k) && !isReference(v)) out.push(result('secret-in-env', 'error', `${ins.op} ${k} sets a secret-looking value in the image: pass it at run time (a secret), not in the Dockerfile`, path, ins.line));
      }
    }
  }
  if (finalFrom) {
    if (!user) out.push(result('root-user', 'warning', 'the final stage has no USER: the container runs as root', path, finalFrom));
    else if (user.name === 'root' || user.name === '0') out.push(result('root-user', 'warning', `USER ${user.name}: the container runs as root`, path, user.line));
    if (!healthcheck) out.push(result('no-healthcheck', 'note', 'the final stage has no HEALTHCHECK', path, finalFrom));
  }
  return out;
}

export function lintCompose(path: string, text: string): SarifResult[] {
  const out: SarifResult[] = [];
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  if (doc.errors.length) return out;
  const lineOf = (n: unknown) => ((n as YamlNode | undefined)?.range ? lc.linePos((n as YamlNode).range![0]).line : 1);
  const services = doc.get('services', true);
  if (!isMap(services)) return out;
  for (const item of services.items) {
    const name = String(isScalar(item.key) ? item.key.value : item.key);
    const svc = item.value;
    if (!isMap(svc)) continue;
    const at = lineOf(item.key);
    const image = svc.get('image', true);
    if (isScalar(image) && typeof image.value === 'string' && !svc.has('build') && !image.value.includes('$')) {
      const problem = pinProblem(image.value);
      if (problem) out.push(result('latest-tag', 'warning', `service ${name}: image ${problem}`, path, lineOf(image)));
    }
    const user = svc.get('user', true);
    if (isScalar(user) && ['root', '0'].includes(String(user.value).split(':')[0])) out.push(result('root-user', 'warning', `service ${name} runs as user ${user.value}`, path, lineOf(user)));
    const hc = svc.get('healthcheck', true);
    if (!hc || (isMap(hc) && hc.get('disable') === true)) out.push(result('no-healthcheck', 'note', `service ${name} has no healthcheck`, path, at));
    const env = svc.get('environment', true);
    const check = (k: string, v: string, node: unknown) => {
      if (SECRET_NAME.test(k) && !isReference(v)) out.push(result('secret-in-env', 'error', `service ${name}: environment ${k} is a secret-looking value written in the compose file`, path, lineOf(node)));
    };
    if (isMap(env)) for (const e of env.items) check(String(isScalar(e.key) ? e.key.value : e.key), String(isScalar(e.value) ? (e.value.value ?? '') : ''), e.key);
    else if (isSeq(env)) {
      for (const e of env.items) {
        if (!isScalar(e) || typeof e.value !== 'string' || !e.value.includes('=')) continue;
        const i = e.value.indexOf('=');
        check(e.value.slice(0, i), e.value.slice(i + 1), e);
      }
    }
  }
  return out;
}

export const dockerfileScanner: Scanner = {
  name: 'dockerfile',
  version: '1.0.0',
  async run(ctx) {
    const results: SarifResult[] = [];
    let files = 0;
    const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);
    for await (const f of walkFiles(ctx.workspace, ctx.root, ctx.exclude, (p) => isDockerfile(base(p)) || isCompose(base(p)))) {
      const buf = await readRegular(f.abs, MAX_FILE_BYTES);
      if (!buf) continue;
      files++;
      const text = buf.toString('utf8');
      results.push(...(isDockerfile(base(f.path)) ? lintDockerfile(f.path, text) : lintCompose(f.path, text)));
    }
    ctx.log(`dockerfile: ${files} Dockerfiles and compose files, ${results.length} findings`);
    return sarifRun('slipway-dockerfile', this.version, DOCKER_RULES, results);
  },
};

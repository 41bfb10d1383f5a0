/**
 * The browser bundle may import from shared/ only what runs in a browser: no shared/node/, no Node built-in
 * modules, no run-time use of Buffer anywhere in the import graph of web/src, and shared/protocol's index
 * (which the UI may use) passes the same check. The log-frame codec works without Buffer.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const NODE_BUILTINS = new Set(builtinModules);
const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : /\.tsx?$/.test(f) ? [p] : [];
  });
}

function resolveLocal(from: string, spec: string): string {
  const base = resolve(dirname(from), spec);
  for (const c of [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {
      /* next candidate */
    }
  }
  throw new Error(`${relative(ROOT, from)}: cannot resolve ${spec}`);
}

/** Every file reachable from the entries by relative imports, and the problems found in them. */
function scan(entries: string[]): { files: string[]; problems: string[] } {
  const seen = new Set<string>();
  const problems: string[] = [];
  const queue = [...entries];
  while (queue.length) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const rel = relative(ROOT, file);
    if (rel.startsWith('shared/node/')) problems.push(`${rel}: Node-only folder`);
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
    if (/\bBuffer\s*\.|\bnew\s+Buffer\b|\bprocess\.(env|cwd|exit)\b/.test(code)) problems.push(`${rel}: uses Buffer or process at run time`);
    for (const m of code.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith('.')) {
        if (!/\.css$/.test(spec)) queue.push(resolveLocal(file, spec));
      } else if (spec.startsWith('node:') || NODE_BUILTINS.has(spec.split('/')[0])) problems.push(`${rel}: imports Node module ${spec}`);
      else if (['ws', 'better-sqlite3', 'express', 'dockerode', 'pino'].includes(spec)) problems.push(`${rel}: imports server package ${spec}`);
    }
  }
  return { files: [...seen].map((f) => relative(ROOT, f)), problems };
}

describe('web/ imports only browser-safe code', () => {
  it('web/src and everything it imports from shared/', () => {
    const { files, problems } = scan(walk(join(ROOT, 'web/src')));
    expect(files).toContain('shared/protocol/client.ts');
    expect(problems).toEqual([]);
  });

  it("shared/protocol's index", () => {
    expect(scan([join(ROOT, 'shared/protocol/index.ts')]).problems).toEqual([]);
  });

  it('shared/job, the schema the job editor validates with', () => {
    expect(scan([join(ROOT, 'shared/job/index.ts')]).problems).toEqual([]);
  });

  it('the scan notices a Node-only module (shared/mask.ts)', () => {
    expect(scan([join(ROOT, 'shared/mask.ts')]).problems.join('\n')).toMatch(/shared\/node\/mask\.ts/);
  });

  it('log frames encode and decode without Buffer', async () => {
    const { decodeLogChunk, encodeLogChunk } = await import('../../shared/protocol/log-frame');
    const g = globalThis as { Buffer?: unknown };
    const saved = g.Buffer;
    let out: ReturnType<typeof decodeLogChunk>;
    let frame: Uint8Array;
    delete g.Buffer;
    try {
      frame = encodeLogChunk({ stageRunId: 7, epoch: 3, seq: 42, offset: 1_000_000_000_123, data: new TextEncoder().encode('hé\n') });
      out = decodeLogChunk(frame);
    } finally {
      g.Buffer = saved;
    }
    expect(frame.constructor).toBe(Uint8Array);
    expect(typeof out).toBe('object');
    const chunk = out as Exclude<typeof out, string>;
    expect({ ...chunk, data: new TextDecoder().decode(chunk.data) }).toEqual({ stageRunId: 7, epoch: 3, seq: 42, offset: 1_000_000_000_123, data: 'hé\n' });
  });
});

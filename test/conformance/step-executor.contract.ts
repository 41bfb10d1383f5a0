/**
 * The StepExecutor contract, in two parts:
 *  - generic: every kind passes it through a KindFixture that gives a config it runs and one its schema refuses
 *    (identity and explicit registration, one schema shared with the master and exportable as JSON Schema, a
 *    refused config named by field, a stop before start honoured, a success in a 0700 workspace of the build
 *    user, outputs that pass the kind's own output schema);
 *  - process: kinds that run a process the test can steer (exit code, env, a grandchild) also pass the process
 *    checks (exit codes, env and secret masking, no agent env leaking, process-group kill on timeout and cancel).
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinExecutors, type ExecutorRegistry } from '../../agent/executors/registry';
import type { StepExecutor } from '../../agent/executors/types';
import { builtinStepKinds, outputsProblem, type StepKinds } from '../../shared/job';
import type { RegistryAccess, Source } from '../../shared/protocol';
import { gone, waitUntil, type Harness } from './executor-harness';

export interface ProcessFixture {
  exit(code: number): Record<string, unknown>;
  printEnv(name: string): Record<string, unknown>;
  /** Start a grandchild that sleeps, write its pid to the named workspace file, wait for it. */
  grandchild(pidFile: string, ignoreTerm: boolean): Record<string, unknown>;
  /** Try to read a file; exit non-zero when it cannot. */
  read(path: string): Record<string, unknown>;
  /** A step whose process cannot even start. */
  unstartable(): Record<string, unknown>;
}

export interface KindFixture {
  executor: StepExecutor;
  /** A config (and the source it needs, if any) the executor runs to success on this host. */
  good(): Promise<{ config: Record<string, unknown>; source?: Source; registries?: RegistryAccess[] }>;
  /** A config the kind's schema refuses, and the field the error must name. */
  invalid: { config: Record<string, unknown>; field: RegExp };
  process?: ProcessFixture;
  /** Plugin kinds: the agent registry the executor was registered in and the master's kinds (default: the built-ins). */
  registry?: () => ExecutorRegistry;
  kinds?: () => StepKinds;
}

export function executorContract(h: Harness, f: KindFixture): void {
  const ex = f.executor;
  describe(`StepExecutor contract: ${ex.kind}`, () => {
    it('has a kind and a version and is registered explicitly with its kind', () => {
      expect(ex.kind).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(ex.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(ex.def.kind).toBe(ex.kind);
      expect((f.registry ?? builtinExecutors)().get(ex.kind)).toBe(ex);
      // One schema: the executor's definition is the one the master validates job files with.
      expect((f.kinds ?? builtinStepKinds)().get(ex.kind)).toBe(ex.def);
      expect(['repository', 'clean', 'none']).toContain(ex.def.workspace);
    });

    it('exports its config schema as JSON Schema', () => {
      // A plugin's kind exports the JSON Schema its manifest declares; a built-in's is derived from its zod schema.
      const schema = ex.def.jsonSchema ?? (z.toJSONSchema(ex.def.config, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>);
      expect(schema).toBeTypeOf('object');
      expect((f.kinds ?? builtinStepKinds)().jsonSchema()[ex.kind]).toEqual(schema);
    });

    it('refuses a config its schema refuses, naming the field', async () => {
      expect(ex.def.config.safeParse(f.invalid.config).success).toBe(false);
      const r = await h.run(ex, f.invalid.config);
      expect(r.result).toMatchObject({ status: 'error', exitCode: null });
      expect(r.result.error).toMatch(f.invalid.field);
    });

    it('does nothing and reports the stop reason when stopped before it starts', async () => {
      const good = await f.good();
      const r = await h.run(ex, good.config, { source: good.source, registries: good.registries, stop: { status: 'cancelled', graceMs: 100, message: 'cancelled by user' } });
      expect(r.result).toMatchObject({ status: 'cancelled', error: 'cancelled by user' });
      expect(r.result.outputs).toBeUndefined();
    });

    it('succeeds in a 0700 workspace of the build user, publishing only outputs its kind allows', async () => {
      const good = await f.good();
      const parsed = ex.def.config.parse(good.config);
      // The normalised config parses to itself: the executor re-parses what the master sent.
      expect(ex.def.config.parse(parsed)).toEqual(parsed);
      const r = await h.run(ex, good.config, { source: good.source, registries: good.registries });
      expect(r.result.status, r.output).toBe('success');
      expect(r.result.exitCode).toBe(0);
      expect(r.startedAt).toBeTypeOf('number');
      const st = statSync(r.workspace);
      expect(st.mode & 0o777).toBe(0o700);
      if (h.runAs) expect(st.uid).toBe(h.runAs.uid);
      if (r.result.outputs) {
        expect(outputsProblem(r.result.outputs, ex.def.outputs)).toBeNull();
        for (const k of Object.keys(r.result.outputs)) expect(ex.def.outputNames(parsed)).toContain(k);
      }
    });
  });

  const p = f.process;
  if (!p) return;
  describe(`StepExecutor process contract: ${ex.kind}`, () => {
    it('succeeds on exit code 0 and reports when it started', async () => {
      const r = await h.run(ex, p.exit(0));
      expect(r.result).toMatchObject({ status: 'success', exitCode: 0 });
      expect(r.output).toBe('before\n');
      expect(r.startedAt).toBeTypeOf('number');
    });

    it('fails on exit code 1', async () => {
      const r = await h.run(ex, p.exit(1));
      expect(r.result).toMatchObject({ status: 'failed', exitCode: 1 });
    });

    it('reports an infrastructure error, not a failed step, when the process cannot start', async () => {
      const r = await h.run(ex, p.unstartable());
      expect(r.result.status).toBe('error');
      expect(r.result.exitCode).toBeNull();
      expect(r.result.error).toMatch(/could not start/);
    });

    it('sees job env, step env and secrets', async () => {
      expect((await h.run(ex, p.printEnv('JOB_VAR'))).output).toBe('from-job\n');
      expect((await h.run(ex, p.printEnv('STEP_VAR'), { env: { STEP_VAR: 'from-step' } })).output).toBe('from-step\n');
      const r = await h.run(ex, p.printEnv('DB_PASSWORD'), { secrets: { DB_PASSWORD: 'pa55-w0rd-xyz' } });
      // The step saw the value (something was printed) but the log carries only the mask.
      expect(r.output).toBe('***\n');
      expect(r.result.status).toBe('success');
    });

    it('does not leak the agent environment into the step', async () => {
      process.env.SLIPWAY_AGENT_TOKEN = 'agent-token-must-not-leak';
      try {
        const r = await h.run(ex, p.printEnv('SLIPWAY_AGENT_TOKEN'));
        expect(r.output).toBe('\n');
      } finally {
        delete process.env.SLIPWAY_AGENT_TOKEN;
      }
    });

    it('runs with HOME set to its workspace', async () => {
      const r = await h.run(ex, p.printEnv('HOME'));
      expect(r.output).toBe(`${r.workspace}\n`);
    });

    it.runIf(process.getuid?.() === 0)('as root: the step cannot read a root-only file such as the agent token', async () => {
      const tokenFile = join(h.workDir, 'agent.token');
      writeFileSync(tokenFile, 'agent-secret-token', { mode: 0o600 });
      const r = await h.run(ex, p.read(tokenFile));
      expect(r.result.status).toBe('failed');
      expect(r.output).not.toContain('agent-secret-token');
      const list = await h.run(ex, p.read(join(h.workDir, 'builds')));
      expect(list.result.status).toBe('failed');
    });

    it('timeout kills the whole process group, grandchild included', async () => {
      const r = await h.run(ex, p.grandchild('gc.pid', false), { stopAfterFile: 'gc.pid', stop: { status: 'timeout', graceMs: 2000, message: 'step timed out' } });
      expect(r.result.status).toBe('timeout');
      const pid = Number(readFileSync(join(r.workspace, 'gc.pid'), 'utf8'));
      expect(pid).toBeGreaterThan(0);
      await waitUntil(() => gone(pid), `grandchild ${pid} to be gone`);
    });

    it('cancel escalates to SIGKILL after the grace when SIGTERM is ignored', async () => {
      const r = await h.run(ex, p.grandchild('gc.pid', true), { stopAfterFile: 'gc.pid', stop: { status: 'cancelled', graceMs: 300, message: 'cancelled by user' } });
      expect(r.result.status).toBe('cancelled');
      const pid = Number(readFileSync(join(r.workspace, 'gc.pid'), 'utf8'));
      await waitUntil(() => gone(pid), `grandchild ${pid} to be gone`);
    });
  });
}

/**
 * Step kinds known to the job schema. Each kind has a zod schema for its config and may have aliases
 * (`compile:` and `test:` are shell steps). A StepExecutor on the agent registers under the same kind.
 * Later issues add checkout, scan, image and deploy here; third-party plugins call registerStepKind.
 */
import { z } from 'zod';

export interface StepKindDef {
  kind: string;
  aliases: string[];
  /** Validates the value under the step key and returns the executor's config object. */
  config: z.ZodType<Record<string, unknown>>;
}

const registry = new Map<string, StepKindDef>();

export function registerStepKind(def: StepKindDef): void {
  for (const key of [def.kind, ...def.aliases]) {
    if (registry.has(key)) throw new Error(`step kind '${key}' is registered twice`);
    registry.set(key, def);
  }
}

export function stepKindFor(key: string): StepKindDef | undefined {
  return registry.get(key);
}

export function stepKindKeys(): string[] {
  return [...registry.keys()].sort();
}

/** Shell: `sh: <command>` or `sh: { run: <command>, shell?: bash, junit?: path }`. */
export const shellConfigSchema = z
  .union([
    z.string().min(1),
    z.strictObject({
      run: z.string().min(1),
      /** Interpreter; the command is passed to it with -c (default sh, or bash when installed). */
      shell: z.string().optional(),
      /** Test report path (JUnit XML), kept for a later issue's test results. */
      junit: z.string().optional(),
    }),
  ])
  .transform((v) => (typeof v === 'string' ? { run: v } : v));

registerStepKind({ kind: 'shell', aliases: ['sh', 'compile', 'test', 'run'], config: shellConfigSchema });

/**
 * Checkout: `checkout: {}` / `checkout: true`, or `{ depth?, submodules?, path? }` overriding the job's repo
 * settings. Added automatically as the first step of every stage of a job with a repo (unless the stage
 * says `checkout: false` or has its own checkout step).
 */
export const checkoutConfigSchema = z
  .union([
    z.literal(true),
    z.null(),
    z.strictObject({
      depth: z.number().int().min(0).optional(),
      submodules: z.boolean().optional(),
      /** Sub-directory of the workspace to check out into (default: the workspace itself). */
      path: z
        .string()
        .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'path must stay inside the workspace')
        .optional(),
    }),
  ])
  .transform((v) => (v === true || v === null ? {} : v));

registerStepKind({ kind: 'checkout', aliases: [], config: checkoutConfigSchema });

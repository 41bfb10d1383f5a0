/**
 * Checkout: `checkout: {}` / `checkout: true`, or `{ depth?, submodules?, path? }` overriding the job's repo
 * settings. Added automatically as the first step of every stage of a job with a repo (unless the stage says
 * `checkout: false` or has its own checkout step). Its outputs are the commit it checked out (sha, author,
 * message, and changedFiles when the master did not know them), which the master records with the build.
 */
import { z } from 'zod';
import { defineStepKind } from '../step-kind';

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

export type CheckoutConfig = z.output<typeof checkoutConfigSchema>;

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

export const checkoutOutputsSchema = z.strictObject({
  sha: z.string().regex(SHA),
  author: z.string().max(512),
  message: z.string().max(65536),
  changedFiles: z.array(z.string().max(4096)).max(100_000).optional(),
});

export const checkoutKind = defineStepKind<CheckoutConfig>({
  kind: 'checkout',
  aliases: [],
  config: checkoutConfigSchema,
  capabilities: [],
  workspace: 'repository',
  repositoryPath: (c) => c.path ?? '',
  outputNames: () => ['sha', 'author', 'message', 'changedFiles'],
  outputs: checkoutOutputsSchema as z.ZodType<Record<string, string | string[]>>,
  reports: () => [],
  commitOf: (o) => {
    const p = checkoutOutputsSchema.safeParse(o);
    return p.success ? p.data : undefined;
  },
});

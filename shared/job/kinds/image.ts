/**
 * Image: builds the app layer of a three-layer image (OS base -> middleware -> app) with the Docker engine and
 * pushes it to a registry granted to the job's team.
 *
 *   - image:
 *       name: shop/web            # repository in the registry (required)
 *       from: shop/node-runtime:20  # generate `FROM <from>` + `COPY . <workdir>/` over the context (app layer)
 *       # or dockerfile: Dockerfile (relative to the context) for base and middleware images
 *       context: dist             # workspace directory sent as the build context (default .)
 *       registry: local           # a registry granted to the team (default: the only one granted)
 *       tags: [latest]            # extra tags; the image is always tagged b<build number> and, with a commit, <sha7>
 *       buildArgs: { NODE_ENV: production }
 *       push: true                # false: build only (the image stays on this agent's engine)
 *
 * `from` may name an image in the same registry without its host (`shop/node-runtime:20`): the registry host
 * is put in front when the name has none. Outputs: image, tag, reference (`host/name@sha256:...`, what a
 * deploy should use), digest, size, layers, cachedSteps, builtSteps.
 */
import { z } from 'zod';
import { defineStepKind } from '../step-kind';

const REPO_RE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
/** A registry's name (as master/store/registries.ts takes it): static, so the master can check where a step pushes. */
const REGISTRY_NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const insideWorkspace = (p: string) => !p.startsWith('/') && !p.split('/').includes('..');

export const imageConfigSchema = z
  .strictObject({
    name: z.string().regex(REPO_RE, 'name is a repository path such as shop/web (lower case, / separated)'),
    from: z.string().min(1).optional(),
    dockerfile: z.string().min(1).refine(insideWorkspace, 'dockerfile must stay inside the context').optional(),
    context: z.string().min(1).refine(insideWorkspace, 'context must stay inside the workspace').default('.'),
    /** Directory the context is copied to in a generated Dockerfile (with `from`). */
    workdir: z.string().startsWith('/', 'workdir is an absolute path in the image').default('/app'),
    /** CMD of a generated Dockerfile (with `from`); the middleware's CMD otherwise. */
    cmd: z.array(z.string()).optional(),
    registry: z.string().regex(REGISTRY_NAME_RE, 'registry is the name of a registry granted to the team, written out (no expressions: the master checks where a step pushes)').optional(),
    tags: z.array(z.string().regex(TAG_RE, 'tags are letters, digits, _ . - (max 128)')).max(20).default([]),
    buildArgs: z.record(z.string(), z.string()).default({}),
    push: z.boolean().default(true),
  })
  .refine((c) => (c.from === undefined) !== (c.dockerfile === undefined), 'give either from: (an app layer over a middleware image) or dockerfile:');

export type ImageConfig = z.output<typeof imageConfigSchema>;

export const imageOutputsSchema = z.strictObject({
  image: z.string(),
  tag: z.string(),
  reference: z.string(),
  digest: z.string(),
  size: z.number(),
  layers: z.number(),
  cachedSteps: z.number(),
  builtSteps: z.number(),
});

export const imageKind = defineStepKind<ImageConfig>({
  kind: 'image',
  aliases: [],
  config: imageConfigSchema,
  capabilities: ['docker'],
  workspace: 'clean',
  outputNames: () => Object.keys(imageOutputsSchema.shape),
  outputs: imageOutputsSchema as z.ZodType<Record<string, string | number>>,
  reports: () => [],
});

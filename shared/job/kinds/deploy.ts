/**
 * Deploy: applies one service of a compose file to the stage's environment on this agent's Docker engine
 * (shared/compose: the supported subset and the health model), rolling, with rollback on failure.
 *
 *   - deploy:
 *       app: shop-web                # app name (default: the job name): labels, container names, etcd keys
 *       compose: deploy/compose.yml  # workspace path of the compose template, or
 *       composeInline: |             # the template itself
 *         services: { web: { image: "${IMAGE}", healthcheck: { http: /health } } }
 *       service: web                 # which service (default: the only one)
 *       image: ${{ steps.image.outputs.reference }}   # becomes ${IMAGE} in the template
 *       replicas: 2                  # overrides deploy.replicas (also ${REPLICAS})
 *       values: { LOG_LEVEL: info }  # more template variables for this environment
 *       swarm: { port: 8080 }        # optional: a Swarm service on this port instead of containers
 *
 * Template variables: IMAGE, APP, ENVIRONMENT, BUILD_NUMBER, REPLICAS, the `values`, and the build's secrets
 * (applied, but shown as ${NAME} in the recorded file). Outputs: app, environment, image, instances
 * (`ip:port` of each live instance), replicas, compose (the rendered file applied).
 */
import { z } from 'zod';
import { NAME_RE } from '../schema';
import type { JobConfig } from '../parse';
import { defineStepKind } from '../step-kind';

const insideWorkspace = (p: string) => !p.startsWith('/') && !p.split('/').includes('..');

export const deployConfigSchema = z
  .strictObject({
    app: z.string().regex(NAME_RE, 'app names are 1-63 characters of a-z, 0-9, ., _ or -').optional(),
    compose: z.string().min(1).refine(insideWorkspace, 'compose must be a path inside the workspace').optional(),
    composeInline: z.string().min(1).optional(),
    service: z.string().optional(),
    image: z.string().min(1).optional(),
    replicas: z.number().int().min(0).max(100).optional(),
    values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
    /**
     * Deploy as a Swarm service (the agent's engine must be a Swarm manager): one instance per node on this
     * fixed port, stop-first updates, rollback by the swarm (agent/deploy/swarm.ts).
     */
    swarm: z.strictObject({ port: z.number().int().min(1).max(65535) }).optional(),
  })
  .refine((c) => (c.compose === undefined) !== (c.composeInline === undefined), 'give either compose: (a file in the workspace) or composeInline:');

export type DeployConfig = z.output<typeof deployConfigSchema>;

/**
 * What a job deploys: each deploy step's app (its `app`, or the job's name) in its stage's environment. `stepIndex`
 * is the effective index (after an implicit checkout step); errors name the step as written through stepLocator.
 */
export function deployTargets(job: JobConfig): { app: string; environment: string; stageIndex: number; stepIndex: number }[] {
  return job.stages.flatMap((stage, stageIndex) =>
    stage.steps.flatMap((s, stepIndex) =>
      s.kind === 'deploy' ? [{ app: typeof s.config.app === 'string' ? s.config.app : job.name, environment: stage.environment, stageIndex, stepIndex }] : [],
    ),
  );
}

export const deployOutputsSchema = z.strictObject({
  app: z.string(),
  environment: z.string(),
  image: z.string(),
  instances: z.array(z.string()),
  replicas: z.number(),
  compose: z.string(),
  /** Set when the deploy failed (and was rolled back): why, with the last health probes and log lines. */
  failure: z.string().max(16_384).optional(),
});

export const deployKind = defineStepKind<DeployConfig>({
  kind: 'deploy',
  aliases: [],
  config: deployConfigSchema,
  capabilities: ['docker'],
  workspace: 'clean',
  outputNames: () => Object.keys(deployOutputsSchema.shape),
  outputs: deployOutputsSchema as z.ZodType<Record<string, string | number | string[]>>,
  reports: () => [],
  deploymentOf: (o) => {
    const p = deployOutputsSchema.safeParse(o);
    return p.success ? p.data : undefined;
  },
});

/** Pure helpers of the deployments page: what runs where, and where a deployment's digest can be promoted. */
import type { BuildDetail, DeploymentInfo } from '../../shared/api';

/** The newest successful deployment of each app and environment (the list is newest first). */
export function currentDeployments(list: DeploymentInfo[]): DeploymentInfo[] {
  const seen = new Map<string, DeploymentInfo>();
  for (const d of list) {
    const key = `${d.app}\u0000${d.environment}`;
    if (d.failure === null && !seen.has(key)) seen.set(key, d);
  }
  return [...seen.values()].sort((a, b) => a.app.localeCompare(b.app) || a.environment.localeCompare(b.environment));
}

/** Later stages of the deploying build that run in another environment: where its digest can be promoted. */
export function promoteTargets(d: DeploymentInfo, build: BuildDetail | undefined): { stage: string; environment: string }[] {
  if (!build) return [];
  const at = build.stages.find((s) => s.name === d.stage);
  if (!at) return [];
  const seen = new Set<string>();
  return build.stages
    .filter((s) => s.index > at.index && s.environment !== d.environment && !seen.has(s.name) && seen.add(s.name))
    .map((s) => ({ stage: s.name, environment: s.environment }));
}

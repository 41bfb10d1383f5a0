/**
 * Pushes a job's image steps would make, checked against the repository prefixes of the team's registry grants
 * (shared/registry-prefixes.ts). The master checks at job save, apply and move (JobsService) and again when a
 * stage is dispatched (engine/scheduler/dispatcher.ts), since grants can change after a job was saved: a push
 * outside the team's prefixes never reaches an agent. `push: false` steps and `from:` images (pulls) are not
 * restricted. A step naming a registry not granted to the team, or none while several are, is left to the agent
 * (it gets no credentials for it and fails the step saying so).
 */
import type { FieldIssue } from '../../shared/errors';
import { stepLocator, type JobConfig } from '../../shared/job';
import { repositoryAllowed, type PushGrant } from '../../shared/registry-prefixes';

/**
 * Issues (file, line, field `stages[S].steps[I].image.name`) for image steps of `config` that push outside the
 * team's prefixes; only the stages in `stageIndexes` when given. `yaml` is the job's text (for line numbers and
 * the step index as written: the parsed steps start with an implicit checkout the file does not show).
 */
export function imagePushIssues(config: JobConfig, yaml: string, file: string, grants: PushGrant[], stageIndexes?: number[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const locator = stepLocator(config, yaml, file);
  config.stages.forEach((stage, si) => {
    if (stageIndexes && !stageIndexes.includes(si)) return;
    stage.steps.forEach((step, pi) => {
      if (step.kind !== 'image') return;
      const cfg = step.config as { name: string; registry?: string; push?: boolean };
      if (cfg.push === false) return;
      const grant = cfg.registry === undefined ? (grants.length === 1 ? grants[0] : undefined) : grants.find((g) => g.registry === cfg.registry);
      if (!grant || repositoryAllowed(cfg.name, grant.prefixes)) return;
      issues.push(
        locator.issue(
          si,
          pi,
          ['image', 'name'],
          `team '${config.team}' may not push '${cfg.name}' to registry '${grant.registry}': its repositories there are ${grant.prefixes.join(', ')} (an admin sets them with slipway registry add --prefixes; push: false builds without pushing)`,
        ),
      );
    });
  });
  return issues;
}

/**
 * What a step kind is (StepKindDef): its config schema, host capabilities, workspace need, outputs and
 * reports. The registry of kinds is step-kinds.ts; the built-in definitions are in kinds/.
 */
import type { z } from 'zod';
import type { QualityGate } from './gate';
import type { OutputValue } from './outputs';

/** A report a step attaches after it ran: a file of a declared format, parsed on the master. */
export interface ReportSpec {
  /** 'junit' or 'sarif' (the master refuses formats it has no parser for). */
  format: string;
  /** Workspace-relative path of the file. */
  path: string;
  /** Fail the step when the report is missing or malformed, or records failing tests. Default false. */
  failStep: boolean;
  /** SARIF reports: limits on the findings; exceeding one fails the step with a summary (shared/job/gate.ts). */
  gate?: QualityGate;
  /**
   * The file's own format when it is not `format`: a plugin report format the agent converts it from
   * (shared/job/report-formats.ts) before the upload.
   */
  from?: string;
  /** Where in the step's value the report is set (`['junit']`), for errors about it. */
  field?: string[];
}

/**
 * How the stage's workspace must be prepared for a kind:
 *  - 'repository': the job's pooled workspace, cleaned but keeping the repository at `repositoryPath(config)`
 *    (incremental checkouts);
 *  - 'clean': an empty workspace (the default for a stage none of whose steps needs a repository);
 *  - 'none': the step does not use the workspace.
 */
export type WorkspaceNeed = 'repository' | 'clean' | 'none';

/** The build's commit as a step kind's outputs describe it (checkout). */
export interface CommitRecord {
  sha: string;
  author: string;
  message: string;
  changedFiles?: string[];
}

/** A deployment as a step kind's outputs describe it (deploy); the master keeps it in the deployment history. */
export interface DeploymentRecord {
  app: string;
  /** The environment the step reports; the master records the stage's own environment. */
  environment: string;
  /** The image reference applied (`host/name@sha256:...` when the image step's reference was used). */
  image: string;
  replicas: number;
  /** `ip:port` of each live instance. */
  instances: string[];
  /** The rendered compose file applied (secrets shown as references). */
  compose: string;
  /**
   * Why the deploy failed (the last health probes, exit code and log tail), when it did: the instances are
   * then what runs after the rollback. Absent for a successful deployment.
   */
  failure?: string;
}

export interface StepKindDef<C extends Record<string, unknown> = Record<string, unknown>> {
  kind: string;
  /** Other keys for the same kind in a job file (`compile:` and `test:` are shell steps). */
  aliases: string[];
  /**
   * Validates the value under the step key and returns the executor's config. Its output must parse again
   * to itself: the executor parses the config it receives with this same schema.
   */
  config: z.ZodType<C>;
  /**
   * The config's JSON Schema as its author wrote it (plugin kinds: the manifest's); absent: derived from `config`
   * (z.toJSONSchema) for the editor schema.
   */
  jsonSchema?: Record<string, unknown>;
  /** The plugin that provides the kind, when it is not built in (shared/plugins). */
  plugin?: { name: string; version: string };
  /** Host capabilities an agent needs to run the kind (docker, etcd, nginx); the scheduler matches on them. */
  capabilities: string[];
  workspace: WorkspaceNeed;
  /** For 'repository' kinds: the workspace-relative directory the repository occupies ('' = the workspace). */
  repositoryPath?(config: C): string | undefined;
  /** The output names a step of this config may publish; references to others are refused at apply. */
  outputNames(config: C): string[];
  /** Type of the outputs (validated by the agent before sending and by the master before storing). */
  outputs: z.ZodType<Record<string, OutputValue>>;
  /**
   * Plugin scanners a step of this config runs (the scan step's plugin tools): the scheduler gives the stage
   * only to an agent running each, from the plugin version the master names. Absent: none.
   */
  scanners?(config: C): string[];
  /** Reports the step attaches (e.g. shell's `junit:`). */
  reports(config: C): ReportSpec[];
  /** When the kind's outputs describe the build's commit, how (the master records it with the build). */
  commitOf?(outputs: Record<string, OutputValue>): CommitRecord | undefined;
  /**
   * When a successful step of the kind deployed an app, the deployment its outputs describe (the master records
   * it in the deployment history of the app and environment).
   */
  deploymentOf?(outputs: Record<string, OutputValue>): DeploymentRecord | undefined;
}

/** Any kind's definition, config type erased (what a registry holds). */
export type AnyStepKind = StepKindDef<Record<string, unknown>>;

/** Typed helper for defining a kind: keeps C across the functions. */
export function defineStepKind<C extends Record<string, unknown>>(def: StepKindDef<C>): AnyStepKind {
  return def as unknown as AnyStepKind;
}


/**
 * Scanners of the scan step (agent/executors/scan.ts): each is a small plugin that looks at the workspace and
 * returns one SARIF 2.1.0 run. Built-ins: secrets and dockerfile (our own rules, in-process); plugins add
 * more (agent/plugins/plugin-process.ts runs them in a child node process as the job's build user). They
 * register explicitly in the executor registry; the scan executor knows none by name.
 */
import type { RunAs } from '../executors/types';

export type SarifLevel = 'error' | 'warning' | 'note' | 'none';

/** The SARIF run a scanner returns (only the parts Slipway writes). */
export interface SarifRun {
  tool: { driver: { name: string; version?: string; informationUri?: string; rules: { id: string; shortDescription: { text: string }; defaultConfiguration: { level: SarifLevel } }[] } };
  results: SarifResult[];
  invocations?: { executionSuccessful: boolean; toolExecutionNotifications?: { message: { text: string }; level: SarifLevel }[] }[];
}

export interface SarifResult {
  ruleId: string;
  level: SarifLevel;
  message: { text: string };
  locations: { physicalLocation: { artifactLocation: { uri: string }; region?: { startLine: number; startColumn?: number } } }[];
}

export interface ScanContext {
  /** Absolute workspace path; findings name files relative to it. */
  workspace: string;
  /** Absolute directory to scan (the step's `path`, inside the workspace). */
  root: string;
  /** Workspace-relative globs never scanned (plus .git and the scan's own output). */
  exclude: string[];
  /** Absolute path of the secrets allow-list file (may not exist). */
  allowList: string;
  /** The tool's settings (`scan: { config: { TOOL: {...} } }`), validated on the master with its schema. */
  config: Record<string, unknown>;
  env: Record<string, string>;
  runAs?: RunAs;
  signal: AbortSignal;
  /** A line for the step log. */
  log(line: string): void;
}

export interface Scanner {
  /** The name a scan step lists in `tools:`. */
  name: string;
  version: string;
  /** Runs the scan; throws ScannerUnavailableError when the tool it adapts is not there. */
  run(ctx: ScanContext): Promise<SarifRun>;
}

/** The adapted tool is missing (shellcheck not installed): the step fails naming it and how to get it. */
export class ScannerUnavailableError extends Error {}

/** One rule of a built-in scanner. */
export interface RuleDef {
  id: string;
  description: string;
  level: SarifLevel;
}

/** A run of `tool` with its rules and results. */
export function sarifRun(tool: string, version: string, rules: RuleDef[], results: SarifResult[]): SarifRun {
  return {
    tool: { driver: { name: tool, version, rules: rules.map((r) => ({ id: r.id, shortDescription: { text: r.description }, defaultConfiguration: { level: r.level } })) } },
    results,
  };
}

export function result(ruleId: string, level: SarifLevel, message: string, file: string, line?: number, column?: number): SarifResult {
  return {
    ruleId,
    level,
    message: { text: message },
    locations: [{ physicalLocation: { artifactLocation: { uri: file }, ...(line ? { region: { startLine: line, ...(column ? { startColumn: column } : {}) } } : {}) } }],
  };
}

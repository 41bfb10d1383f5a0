/**
 * The built-in scanners a scan step may list in `tools:` (types.ts says what a scanner is): secrets and
 * dockerfile, in-process. Other scanners come from plugins (agent/plugins; plugins/eslint-sarif,
 * plugins/shellcheck-sarif); the executor registry (agent/executors/registry.ts) holds both.
 */
import type { ScannerSource } from '../executors/types';
import { dockerfileScanner } from './dockerfile';
import { secretsScanner } from './secrets';
import type { Scanner } from './types';

export type { Scanner, ScanContext, SarifRun } from './types';
export { ScannerUnavailableError } from './types';

/** A ScannerSource of the built-ins only (a scan executor outside an agent's registry). */
export function builtinScanners(): ScannerSource {
  const byName = new Map<string, Scanner>([secretsScanner, dockerfileScanner].map((s) => [s.name, s]));
  return { scanner: (n) => byName.get(n), scannerNames: () => [...byName.keys()] };
}

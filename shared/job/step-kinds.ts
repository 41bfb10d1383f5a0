/**
 * Step kinds: one definition per kind, used by the master (job validation, JSON Schema export for editors and
 * the UI), the CLI (apply -f) and the agent's executor (typed config, its host capabilities, the workspace it
 * needs). Nothing registers itself on import: a StepKinds registry is filled explicitly, by builtinStepKinds()
 * for the built-ins, and by whoever wires third-party plugins (register()).
 */
import { z } from 'zod';
import type { AnyStepKind } from './step-kind';
import { KindRegistry } from './kind-registry';
import { checkoutKind } from './kinds/checkout';
import { deployKind } from './kinds/deploy';
import { imageKind } from './kinds/image';
import { createScanKind } from './kinds/scan';
import { builtinScannerKinds, type ScannerKinds } from './scanner-kinds';
import { NotifierKinds } from './notifier-kinds';
import { ReportFormats } from './report-formats';
import { shellKind } from './kinds/shell';

export * from './step-kind';

export class StepKinds extends KindRegistry<AnyStepKind> {
  /** Plugin notifier kinds a job's `notify:` may use (none unless the owner of this registry adds them). */
  notifiers = new NotifierKinds();
  /** Plugin report formats a step's reports may be written in (none unless the owner adds them). */
  reportFormats = new ReportFormats();

  constructor() {
    // By kind and by each alias.
    super('step kind', (def) => [def.kind, ...def.aliases]);
  }

  /** One entry per kind. */
  list(): AnyStepKind[] {
    return [...new Set(this.defs.values())];
  }

  /**
   * JSON Schema (draft 2020-12) of each key's step value, for editors and UI forms: `{ [key]: schema }`.
   * The input side of the schema (what a job file may say), not the normalised config.
   */
  jsonSchema(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of this.keys()) {
      const def = this.defs.get(key)!;
      out[key] = def.jsonSchema ?? z.toJSONSchema(def.config, { io: 'input', unrepresentable: 'any' });
    }
    return out;
  }
}

/**
 * A new registry holding the built-in kinds (shell, checkout, image, deploy, scan). Each call makes its own, so no caller can change
 * what another validates against; register third-party kinds on the one you keep. The scan kind validates its
 * tools against `scanners` (default: the built-in scanners; the master passes the plugins' too).
 */
export function builtinStepKinds(scanners: ScannerKinds = builtinScannerKinds()): StepKinds {
  return new StepKinds().register(shellKind).register(checkoutKind).register(imageKind).register(deployKind).register(createScanKind(scanners));
}

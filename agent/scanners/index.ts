/** The scanners a scan step may list in `tools:`, registered explicitly (types.ts says what a scanner is). */
import { dockerfileScanner } from './dockerfile';
import { eslintScanner } from './eslint';
import { secretsScanner } from './secrets';
import { shellcheckScanner } from './shellcheck';
import type { Scanner } from './types';

export type { Scanner, ScanContext, SarifRun } from './types';
export { ScannerUnavailableError } from './types';

export class ScannerRegistry {
  private readonly byName = new Map<string, Scanner>();

  /** Throws when the name is taken (two plugins must not silently shadow each other). */
  register(s: Scanner): this {
    if (this.byName.has(s.name)) throw new Error(`scanner '${s.name}' is registered twice`);
    this.byName.set(s.name, s);
    return this;
  }

  get(name: string): Scanner | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}

export function builtinScanners(): ScannerRegistry {
  return new ScannerRegistry().register(secretsScanner).register(dockerfileScanner).register(eslintScanner).register(shellcheckScanner);
}

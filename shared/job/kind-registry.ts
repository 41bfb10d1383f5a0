/**
 * What the registries of things plugins add have in common (step kinds, scanner kinds, notifier kinds, report
 * formats): definitions by key, registered explicitly (nothing registers itself on import), a key taken twice
 * refused (two plugins must not silently shadow each other), and keys known but refused with a reason, which
 * job validation and the scheduler's waiting reasons give (`... is provided by plugin 'p', which is disabled`).
 * Each registry adds its own `problem()` wording and lookups.
 */
export class KindRegistry<D> {
  protected readonly defs = new Map<string, D>();
  protected readonly refused = new Map<string, string>();

  /**
   * @param what how errors name an entry (`step kind`, `scanner`, ...)
   * @param keysOf the keys a definition is registered under (its kind, and aliases where a registry has them)
   */
  constructor(
    private readonly what: string,
    private readonly keysOf: (def: D) => readonly string[],
  ) {}

  /** Throws when a key is taken; registers nothing then. */
  register(def: D): this {
    const keys = this.keysOf(def);
    for (const key of keys) if (this.defs.has(key)) throw new Error(`${this.what} '${key}' is registered twice`);
    for (const key of keys) this.defs.set(key, def);
    return this;
  }

  /** Marks `key` as known but refused, with the reason job validation gives. */
  refuse(key: string, reason: string): this {
    this.refused.set(key, reason);
    return this;
  }

  /** Why `key` is refused (see refuse), or undefined when it is registered or unknown. */
  refusal(key: string): string | undefined {
    return this.defs.has(key) ? undefined : this.refused.get(key);
  }

  get(key: string): D | undefined {
    return this.defs.get(key);
  }

  /** Every registered key, sorted. */
  keys(): string[] {
    return [...this.defs.keys()].sort();
  }
}

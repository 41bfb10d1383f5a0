/**
 * Plugin notifier kinds: the keys a notify channel may use besides the built-in webhook, slack, dingtalk,
 * feishu and email (`notify: [ { mattermost: { url: MM_HOOK } } ]`), each with the schema of its settings
 * and the settings fields that name team secrets. Filled by the master's plugin service (enabled plugins;
 * a disabled plugin's kinds refused by name) and by the CLI from the master's manifests; job validation
 * (parse.ts) and the team channel API check plugin channels against it.
 */
import type { z } from 'zod';

export interface NotifierKindDef {
  kind: string;
  /** Validates the channel's settings (absent: the empty object). */
  config: z.ZodType<Record<string, unknown>>;
  /** Top-level settings fields holding a team secret's name (the master resolves them for the plugin). */
  secrets: string[];
  plugin: { name: string; version: string };
}

export class NotifierKinds {
  private readonly byKind = new Map<string, NotifierKindDef>();
  private readonly refused = new Map<string, string>();

  /** Throws when the kind is taken. */
  register(def: NotifierKindDef): this {
    if (this.byKind.has(def.kind)) throw new Error(`notifier '${def.kind}' is registered twice`);
    this.byKind.set(def.kind, def);
    return this;
  }

  /** Marks `kind` as known but refused (`notifier 'x' is provided by plugin 'p', which is disabled`). */
  refuse(kind: string, reason: string): this {
    this.refused.set(kind, reason);
    return this;
  }

  get(kind: string): NotifierKindDef | undefined {
    return this.byKind.get(kind);
  }

  keys(): string[] {
    return [...this.byKind.keys()].sort();
  }

  /** Why a channel may not use `kind`, or undefined when it may. */
  problem(kind: string): string | undefined {
    if (this.byKind.has(kind)) return undefined;
    const known = ['webhook', 'slack', 'dingtalk', 'feishu', 'email', ...this.keys()].join(', ');
    return this.refused.get(kind) ?? `unknown notification channel '${kind}' (known: ${known}; plugins add more)`;
  }
}

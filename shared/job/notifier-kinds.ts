/**
 * Plugin notifier kinds: the keys a notify channel may use besides the built-in webhook, slack, dingtalk,
 * feishu and email (`notify: [ { mattermost: { url: MM_HOOK } } ]`), each with the schema of its settings
 * and the settings fields that name team secrets. Filled by the master's plugin service (enabled plugins;
 * a disabled plugin's kinds refused by name) and by the CLI from the master's manifests; job validation
 * (parse.ts) and the team channel API check plugin channels against it.
 */
import type { z } from 'zod';
import { KindRegistry } from './kind-registry';

export interface NotifierKindDef {
  kind: string;
  /** Validates the channel's settings (absent: the empty object). */
  config: z.ZodType<Record<string, unknown>>;
  /** Top-level settings fields holding a team secret's name (the master resolves them for the plugin). */
  secrets: string[];
  plugin: { name: string; version: string };
}

export class NotifierKinds extends KindRegistry<NotifierKindDef> {
  constructor() {
    super('notifier', (def) => [def.kind]);
  }

  /** Why a channel may not use `kind`, or undefined when it may. */
  problem(kind: string): string | undefined {
    if (this.defs.has(kind)) return undefined;
    const known = ['webhook', 'slack', 'dingtalk', 'feishu', 'email', ...this.keys()].join(', ');
    return this.refused.get(kind) ?? `unknown notification channel '${kind}' (known: ${known}; plugins add more)`;
  }
}

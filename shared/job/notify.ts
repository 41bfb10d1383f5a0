/**
 * A job's notifications (`notify:` in the job file): where to tell whom about which build events.
 *
 *   notify:
 *     - webhook: https://hooks.example/ci   # generic JSON POST; with `secret`, signed (X-Slipway-Signature-256)
 *       secret: NOTIFY_HMAC                 # team secret: the HMAC-SHA256 key
 *       on: [failure, fixed, deploy, approval]
 *     - slack: SLACK_HOOK_URL               # team secret holding the incoming-webhook URL (the URL is a credential)
 *     - dingtalk: DINGTALK_HOOK_URL         # same, DingTalk robot; `sign: NAME` for a robot with signing on
 *     - feishu: FEISHU_HOOK_URL             # same, Feishu/Lark bot; `sign: NAME` likewise
 *     - email: [dev@example.com]            # over the master's SMTP server (SLIPWAY_SMTP_URL)
 *     - mattermost: { url: MM_HOOK }        # a plugin notifier kind (plugins/mattermost-notify), settings
 *                                           # checked with its schema (notifier-kinds.ts, checkNotifiers)
 *
 * Events: failure (a build failed or timed out), fixed (a build succeeded after a failed one of the same
 * branch), deploy (a build with a deploy step succeeded), approval (a build waits for approval). Default on:
 * [failure, fixed].
 */
import { z } from 'zod';
import type { NotifierKinds } from './notifier-kinds';

export const NOTIFY_EVENTS = ['failure', 'fixed', 'deploy', 'approval'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

const SECRET_NAME = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the name of a team secret');
const on = z.array(z.enum(NOTIFY_EVENTS)).min(1).default(['failure', 'fixed']);

export const notifyChannelSchema = z.union([
  z.strictObject({ webhook: z.string().url().refine((u) => /^https?:/.test(u), 'an http(s) URL'), secret: SECRET_NAME.optional(), on }),
  z.strictObject({ slack: SECRET_NAME, on }),
  /** `sign`: team secret of a robot with signing on (DingTalk: timestamp and sign in the URL; Feishu: in the body). */
  z.strictObject({ dingtalk: SECRET_NAME, sign: SECRET_NAME.optional(), on }),
  z.strictObject({ feishu: SECRET_NAME, sign: SECRET_NAME.optional(), on }),
  z.strictObject({ email: z.array(z.string().email()).min(1).max(50), on }),
  pluginChannelSchema(),
]);
export type NotifyChannel = z.output<typeof notifyChannelSchema>;
/** A channel of a plugin notifier kind, normalised: `{ mattermost: {...}, on }` -> `{ notifier: 'mattermost', config: {...}, on }`. */
export type PluginChannel = Extract<NotifyChannel, { notifier: string }>;

/** The keys of the built-in channels (a plugin kind may not be one of them). */
const BUILTIN_KEYS = new Set(['webhook', 'slack', 'dingtalk', 'feishu', 'email', 'secret', 'sign', 'notifier', 'config']);

/**
 * Any other one-key channel is a plugin notifier's, with its settings as value; only its shape is checked here
 * (the kind and settings against the enabled plugins: checkNotifiers). Its issues abort the branch, so a
 * malformed built-in channel keeps its own error.
 */
function pluginChannelSchema() {
  return z
    .looseObject({ on })
    .superRefine((c, ctx) => {
      const keys = Object.keys(c).filter((k) => k !== 'on');
      if (keys.length !== 1 || BUILTIN_KEYS.has(keys[0]) || !/^[a-z][a-z0-9-]{0,62}$/.test(keys[0])) {
        ctx.addIssue({ code: 'custom', message: 'a channel is one of webhook, slack, dingtalk, feishu, email or a plugin notifier kind, with on' });
        return;
      }
      const v = (c as Record<string, unknown>)[keys[0]];
      if (v !== null && v !== undefined && (typeof v !== 'object' || Array.isArray(v))) ctx.addIssue({ code: 'custom', path: [keys[0]], message: "a plugin notifier's settings are a map" });
    })
    .transform((c) => {
      const kind = Object.keys(c).find((k) => k !== 'on')!;
      return { notifier: kind, config: ((c as Record<string, unknown>)[kind] ?? {}) as Record<string, unknown>, on: c.on };
    });
}

/** The channel's kind (the key it was written with). */
export function channelKind(c: NotifyChannel): string {
  return 'notifier' in c ? c.notifier : 'webhook' in c ? 'webhook' : 'slack' in c ? 'slack' : 'dingtalk' in c ? 'dingtalk' : 'feishu' in c ? 'feishu' : 'email';
}

const SECRET_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Checks plugin channels against `notifiers` and normalises their settings (defaults applied). Returns the
 * problems with the path of each under the channel (`[kind, field...]`), by channel index.
 */
export function checkNotifiers(channels: NotifyChannel[], notifiers: NotifierKinds): { index: number; path: (string | number)[]; message: string }[] {
  const out: { index: number; path: (string | number)[]; message: string }[] = [];
  channels.forEach((c, index) => {
    if (!('notifier' in c)) return;
    const problem = notifiers.problem(c.notifier);
    if (problem) return void out.push({ index, path: [c.notifier], message: problem });
    const def = notifiers.get(c.notifier)!;
    const r = def.config.safeParse(c.config);
    if (!r.success) {
      for (const i of r.error.issues) out.push({ index, path: [c.notifier, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))], message: i.message });
      return;
    }
    for (const field of def.secrets) {
      const v = r.data[field];
      if (v !== undefined && (typeof v !== 'string' || !SECRET_NAME_RE.test(v))) out.push({ index, path: [c.notifier, field], message: 'the name of a team secret (the value is a credential: keep it in a secret)' });
    }
    c.config = r.data;
  });
  return out;
}

/** The team secret names a plugin channel's settings hold (its kind's `secrets` fields). */
export function pluginChannelSecrets(c: PluginChannel, notifiers: NotifierKinds | undefined): string[] {
  const fields = notifiers?.get(c.notifier)?.secrets ?? [];
  return fields.map((f) => c.config[f]).filter((v): v is string => typeof v === 'string');
}

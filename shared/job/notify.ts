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
 *
 * Events: failure (a build failed or timed out), fixed (a build succeeded after a failed one of the same
 * branch), deploy (a build with a deploy step succeeded), approval (a build waits for approval). Default on:
 * [failure, fixed].
 */
import { z } from 'zod';

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
]);
export type NotifyChannel = z.output<typeof notifyChannelSchema>;

/** The channel's kind (the key it was written with). */
export function channelKind(c: NotifyChannel): 'webhook' | 'slack' | 'dingtalk' | 'feishu' | 'email' {
  return 'webhook' in c ? 'webhook' : 'slack' in c ? 'slack' : 'dingtalk' in c ? 'dingtalk' : 'feishu' in c ? 'feishu' : 'email';
}

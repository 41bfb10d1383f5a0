/**
 * How one notification is sent, per channel kind: the generic webhook (the event as JSON, HMAC-SHA256 signed
 * with the channel's secret in X-Slipway-Signature-256 = "sha256=<hex>", as GitHub signs its webhooks), the
 * chat webhooks in the shapes their robots accept (Slack `{text}`, DingTalk `{msgtype: text, text: {content}}`,
 * Feishu `{msg_type: text, content: {text}}`), email over SMTP with nodemailer, and plugin notifier kinds
 * through SendContext.plugin (master/plugins/notifier-process.ts). Each send throws with a
 * message for the delivery's lastError (never containing a URL or credential) when the channel refuses it.
 */
import { createHmac } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { NotificationInfo } from '../../shared/api';
import type { NotifyChannel, PluginChannel } from '../../shared/job/notify';

/** What every channel is told (already masked: no team secret value in it). */
export interface NotificationEvent {
  event: NotificationInfo['event'];
  job: string;
  build: { id: number; number: number; status: string; branch: string | null; commit: string | null; url: string };
  /** Steps that failed (failure events). */
  failedSteps: string[];
  /** One line for chat and mail subjects. */
  title: string;
  /** A few lines for chat bodies and mails. */
  text: string;
}

export interface SendContext {
  deliveryId: number;
  /** The channel's secrets resolved by name (chat webhook URLs, the HMAC key). */
  secrets: Record<string, string>;
  smtp?: { url?: string; from: string };
  timeoutMs: number;
  /** Delivers through a plugin notifier (the master's plugins); absent: plugin channels fail saying so. */
  plugin?(channel: PluginChannel, e: NotificationEvent): Promise<void>;
}

export const signBody = (key: string, body: string) => `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;

/**
 * Signatures of chat robots with signing on. DingTalk: timestamp in ms, sign = base64(HMAC-SHA256(key = secret,
 * "timestamp\nsecret")), both in the URL. Feishu: timestamp in seconds, sign = base64(HMAC-SHA256(key =
 * "timestamp\nsecret", empty message)), both in the body.
 */
export function signChat(kind: 'dingtalk' | 'feishu', secret: string, nowMs: number): { timestamp: number; sign: string } {
  if (kind === 'dingtalk') return { timestamp: nowMs, sign: createHmac('sha256', secret).update(`${nowMs}\n${secret}`).digest('base64') };
  const ts = Math.floor(nowMs / 1000);
  return { timestamp: ts, sign: createHmac('sha256', `${ts}\n${secret}`).update('').digest('base64') };
}

/** The JSON body each chat robot accepts. */
export function chatBody(kind: 'slack' | 'dingtalk' | 'feishu', e: NotificationEvent): unknown {
  const text = `${e.title}\n${e.text}`;
  if (kind === 'slack') return { text };
  if (kind === 'dingtalk') return { msgtype: 'text', text: { content: text } };
  return { msg_type: 'text', content: { text } };
}

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number, what: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new Error(`${what}: ${cause ?? (e as Error).name}`);
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status}`);
  return text;
}

export async function sendNotification(channel: NotifyChannel, e: NotificationEvent, ctx: SendContext): Promise<void> {
  if ('notifier' in channel) {
    if (!ctx.plugin) throw new Error(`${channel.notifier}: this master runs no plugins`);
    return ctx.plugin(channel, e);
  }
  if ('webhook' in channel) {
    const body = JSON.stringify({ event: e.event, job: e.job, build: e.build, failedSteps: e.failedSteps, title: e.title });
    const headers: Record<string, string> = { 'x-slipway-event': e.event, 'x-slipway-delivery': String(ctx.deliveryId) };
    if (channel.secret) {
      const key = ctx.secrets[channel.secret];
      if (key === undefined) throw new Error(`webhook: team secret '${channel.secret}' (the signing key) does not exist`);
      headers['x-slipway-signature-256'] = signBody(key, body);
    }
    await post(channel.webhook, body, headers, ctx.timeoutMs, `webhook ${new URL(channel.webhook).host}`);
    return;
  }
  if ('email' in channel) {
    if (!ctx.smtp?.url) throw new Error('email: the master has no SMTP server (SLIPWAY_SMTP_URL)');
    const u = new URL(ctx.smtp.url);
    const transport = nodemailer.createTransport({
      host: u.hostname,
      port: Number(u.port || (u.protocol === 'smtps:' ? 465 : 25)),
      secure: u.protocol === 'smtps:',
      ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } } : {}),
      connectionTimeout: ctx.timeoutMs,
      greetingTimeout: ctx.timeoutMs,
      socketTimeout: ctx.timeoutMs,
    });
    try {
      await transport.sendMail({ from: ctx.smtp.from, to: channel.email.join(', '), subject: e.title, text: `${e.text}\n`, headers: { 'X-Slipway-Event': e.event } });
    } catch (err) {
      throw new Error(`email: ${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message.slice(0, 300)}`);
    } finally {
      transport.close();
    }
    return;
  }
  const kind = 'slack' in channel ? 'slack' : 'dingtalk' in channel ? 'dingtalk' : 'feishu';
  const name = 'slack' in channel ? channel.slack : 'dingtalk' in channel ? channel.dingtalk : channel.feishu;
  let url = ctx.secrets[name];
  if (url === undefined) throw new Error(`${kind}: team secret '${name}' (the webhook URL) does not exist`);
  let body = chatBody(kind, e) as Record<string, unknown>;
  const signName = 'sign' in channel ? channel.sign : undefined;
  if (signName) {
    const key = ctx.secrets[signName];
    if (key === undefined) throw new Error(`${kind}: team secret '${signName}' (the signing secret) does not exist`);
    const signed = signChat(kind as 'dingtalk' | 'feishu', key, Date.now());
    if (kind === 'dingtalk') url += `${url.includes('?') ? '&' : '?'}timestamp=${signed.timestamp}&sign=${encodeURIComponent(signed.sign)}`;
    else body = { timestamp: String(signed.timestamp), sign: signed.sign, ...body };
  }
  const answer = await post(url, JSON.stringify(body), {}, ctx.timeoutMs, `${kind} (secret ${name})`);
  // DingTalk and Feishu answer 200 with an error code in the body.
  try {
    const j = JSON.parse(answer) as { errcode?: number; code?: number; errmsg?: string; msg?: string };
    const code = j.errcode ?? j.code;
    if (code !== undefined && code !== 0) throw new Error(`${kind}: refused with code ${code}: ${(j.errmsg ?? j.msg ?? '').slice(0, 200)}`);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
}

/**
 * Notifications of build events to the job's channels (`notify:` in the job file, shared/job/notify.ts) and
 * to its team's channels (set through the API, routes.ts).
 *
 * Told by core.onBuildStatus after the commit, like the commit status reporter: failed or timeout -> failure;
 * success -> fixed when the latest finished earlier build of the branch had failed, and deploy when the
 * build has a deploy step; waiting -> approval. Each (event, channel) becomes one delivery row (store/
 * notifications.ts) before anything is sent, so a master restart resumes pending deliveries; a failed attempt
 * is retried with exponential backoff (backoffMs, doubled, ATTEMPTS in all), and every attempt's outcome is
 * visible (GET /builds/:id/notifications). Never blocks the engine: deliveries run in the background, one at
 * a time. No secret reaches a notification: the event carries no parameters or env, and any value of the
 * secrets the job uses (its `secrets:`, repo credentials, the channels' own) is masked before it is stored.
 * A plugin notifier's channel is delivered the same way (same rows, retries and status) through the plugin's
 * master entry in a child process with a timeout (master/plugins/notifier-process.ts); it gets the masked
 * event, its settings and the team secrets its settings name, nothing else.
 */
import type { BuildStatus, CommitInfo } from '../../shared/api';
import { channelKind, pluginChannelSecrets, type NotifyChannel, type NotifyEvent } from '../../shared/job/notify';
import type { NotifierKinds } from '../../shared/job/notifier-kinds';
import { NotifierRunner } from '../plugins/notifier-process';
import type { JobConfig } from '../../shared/job';
import type { EngineCore } from '../engine/core';
import { createNotificationsStore } from '../store/notifications';
import { sendNotification, type NotificationEvent } from './channels';

/** Attempts per delivery, the first included. */
export const ATTEMPTS = 6;
const TICK_MS = 500;

export interface NotifierOptions {
  baseUrl(): string;
}

export interface Notifier {
  stop(): void;
}

const EVENT_WORD: Record<NotifyEvent, string> = { failure: 'failed', fixed: 'is fixed', deploy: 'deployed', approval: 'waits for approval' };

/** Every secret name a job's build or its channels may hold a value of. */
function secretNames(config: JobConfig, notifiers: NotifierKinds | undefined): string[] {
  const names = new Set<string>(config.secrets);
  if (config.repo?.credentials) names.add(config.repo.credentials);
  if (config.repo?.webhookSecret) names.add(config.repo.webhookSecret);
  if (config.status?.token) names.add(config.status.token);
  for (const c of config.notify ?? []) for (const n of channelSecrets(c, notifiers)) names.add(n);
  return [...names];
}

function channelSecrets(c: NotifyChannel, notifiers: NotifierKinds | undefined): string[] {
  if ('notifier' in c) return pluginChannelSecrets(c, notifiers);
  if ('webhook' in c) return c.secret ? [c.secret] : [];
  if ('slack' in c) return [c.slack];
  if ('dingtalk' in c) return c.sign ? [c.dingtalk, c.sign] : [c.dingtalk];
  if ('feishu' in c) return c.sign ? [c.feishu, c.sign] : [c.feishu];
  return [];
}

/** Where a channel sends, without credentials. */
function targetOf(c: NotifyChannel, notifiers: NotifierKinds | undefined): string {
  if ('webhook' in c) return new URL(c.webhook).host;
  if ('email' in c) return c.email.join(', ');
  if ('notifier' in c) {
    const names = channelSecrets(c, notifiers);
    return `plugin notifier ${c.notifier}${names.length ? ` (secret ${names.join(', ')})` : ''}`;
  }
  return `secret ${channelSecrets(c, notifiers)[0]}`;
}

export function maskValues(text: string, values: string[]): string {
  let out = text;
  // Longest first, so a secret containing another is masked whole.
  for (const v of [...values].filter((x) => x.length >= 4).sort((a, b) => b.length - a.length)) out = out.split(v).join('***');
  return out;
}

export function startNotifier(core: EngineCore, opts: NotifierOptions): Notifier {
  const { ctx } = core;
  const log = ctx.log.child({ part: 'notify' });
  const store = createNotificationsStore(ctx.db);
  const backoffMs = ctx.config.notify?.backoffMs ?? 5000;
  let stopped = false;
  let running = false;
  const runner = new NotifierRunner();
  // Every installed plugin's notifiers (a disabled one's channels still get their secrets masked).
  const notifiers = () => ctx.plugins?.allKinds().notifiers;

  const eventsFor = (buildId: number, status: BuildStatus, config: JobConfig): NotifyEvent[] => {
    if (status === 'failed' || status === 'timeout') return ['failure'];
    if (status === 'waiting') return ['approval'];
    if (status !== 'success') return [];
    const out: NotifyEvent[] = [];
    const prev = store.previousFinishedStatus(buildId);
    if (prev === 'failed' || prev === 'timeout') out.push('fixed');
    if (config.stages.some((s) => s.kinds.includes('deploy'))) out.push('deploy');
    return out;
  };

  core.onBuildStatus((buildId, status) => {
    if (stopped) return;
    try {
      const config = core.buildConfig(buildId);
      const b = store.build(buildId);
      if (!b) return;
      // The job's own channels, then its team's.
      const channels = [...(config.notify ?? []), ...store.teamChannels(b.teamId).map((t) => JSON.parse(t.channel) as NotifyChannel)];
      if (!channels.length) return;
      const events = eventsFor(buildId, status, config);
      if (!events.length) return;
      const values = Object.values(ctx.secrets.resolve(b.teamId, [...secretNames(config, notifiers()), ...channels.flatMap((c) => channelSecrets(c, notifiers()))]));
      const commit = b.commitInfo ? (JSON.parse(b.commitInfo) as CommitInfo) : null;
      const failedSteps = status === 'failed' || status === 'timeout' ? store.failedSteps(buildId) : [];
      const now = Date.now();
      for (const event of events) {
        const title = `${b.job} #${b.number} ${EVENT_WORD[event]}${b.branch ? ` (${b.branch})` : ''}`;
        const lines = [
          `build ${b.number} of ${b.job}: ${status}`,
          ...(b.sha ? [`commit ${b.sha.slice(0, 12)}${commit?.message ? `: ${commit.message.split('\n')[0].slice(0, 200)}` : ''}`] : []),
          ...failedSteps.map((s) => `failed: ${s}`),
          `${opts.baseUrl()}/builds/${b.id}`,
        ];
        const e: NotificationEvent = {
          event,
          job: b.job,
          build: { id: b.id, number: b.number, status, branch: b.branch, commit: b.sha, url: `${opts.baseUrl()}/builds/${b.id}` },
          failedSteps,
          title,
          text: lines.join('\n'),
        };
        const payload = maskValues(JSON.stringify(e), values);
        for (const channel of channels.filter((c) => c.on.includes(event))) {
          store.add({ buildId, event, kind: channelKind(channel), channel: JSON.stringify(channel), target: targetOf(channel, notifiers()), payload }, now);
        }
      }
      void pump();
    } catch (err) {
      log.error({ build: buildId, err: (err as Error).message }, 'could not queue notifications');
    }
  });

  /** Sends every due delivery, one at a time; a tick or a new event starts it again. */
  async function pump(): Promise<void> {
    if (running || stopped) return;
    running = true;
    try {
      for (let batch = store.due(Date.now(), 20); batch.length && !stopped; batch = store.due(Date.now(), 20)) {
        for (const d of batch) {
          const channel = JSON.parse(d.channel) as NotifyChannel;
          if (stopped) return;
          try {
            await sendNotification(channel, JSON.parse(d.payload) as NotificationEvent, {
              deliveryId: d.id,
              secrets: ctx.secrets.resolve(d.teamId, channelSecrets(channel, notifiers())),
              smtp: ctx.config.notify && { url: ctx.config.notify.smtpUrl, from: ctx.config.notify.smtpFrom },
              timeoutMs: 10_000,
              plugin: async (c, event) => {
                const found = ctx.plugins?.notifierOf(c.notifier) ?? { problem: `no plugin provides notifier '${c.notifier}'` };
                if ('problem' in found) throw new Error(`${c.notifier}: ${found.problem}`);
                const resolved = ctx.secrets.resolve(d.teamId, pluginChannelSecrets(c, notifiers()));
                const secrets: Record<string, string> = {};
                for (const field of found.secrets) {
                  const name = c.config[field];
                  if (typeof name !== 'string') continue;
                  if (resolved[name] === undefined) throw new Error(`${c.notifier}: team secret '${name}' (${field}) does not exist`);
                  secrets[field] = resolved[name];
                }
                await runner.send(found.plugin, found.file, { kind: c.notifier, config: c.config, secrets, event, deliveryId: d.id, timeoutMs: ctx.config.notify?.pluginTimeoutMs ?? 10_000 });
              },
            });
            if (stopped) return;
            store.delivered(d.id, Date.now());
          } catch (err) {
            if (stopped) return;
            const attempt = d.attempts + 1;
            const next = attempt >= ATTEMPTS ? null : Date.now() + backoffMs * 2 ** (attempt - 1);
            store.attemptFailed(d.id, (err as Error).message, next);
            log.warn({ build: d.buildId, delivery: d.id, kind: d.kind, attempt }, `notification ${d.event} to ${d.kind} ${d.target} failed: ${(err as Error).message}${next ? '' : ' (gave up)'}`);
          }
        }
      }
    } catch (err) {
      // The store closed under a send in flight (shutdown), or the database failed: the delivery stays pending.
      if (!stopped) log.error({ err: (err as Error).message }, 'notification pass failed');
    } finally {
      running = false;
    }
  }

  const timer = setInterval(() => void pump(), TICK_MS);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      void runner.close();
    },
  };
}

/**
 * The mattermost-notify plugin's master entry: the notifier `mattermost`. The master calls send(ctx) in a
 * child node process (no master environment, as nobody when the master is root, killed after a timeout)
 * for each delivery attempt, with
 *   ctx.config   the channel's settings, valid against the manifest's JSON Schema
 *   ctx.secrets  the team secrets its settings name, by field: { url: 'https://mm.example/hooks/...' }
 *   ctx.event    { event, job, build: { id, number, status, branch, commit, url }, failedSteps, title, text },
 *                secrets of the job already masked
 * Resolving is a delivery; throwing is a failed attempt, retried by the master with backoff. The message
 * never carries the URL (it is a credential).
 */
const EMOJI = { failure: ':x:', fixed: ':white_check_mark:', deploy: ':rocket:', approval: ':raised_hand:' };

/** The body a Mattermost incoming webhook accepts. */
export function mattermostBody(config, event, deliveryId) {
  return {
    text: `${EMOJI[event.event] ?? ''} **${event.title}**\n${event.text}`.trim(),
    username: config.username ?? 'Slipway',
    ...(config.channel ? { channel: config.channel } : {}),
    ...(config.iconUrl ? { icon_url: config.iconUrl } : {}),
    props: { slipway: { event: event.event, job: event.job, build: event.build.id, deliveryId } },
  };
}

export const notifiers = {
  mattermost: {
    async send(ctx) {
      const url = ctx.secrets.url;
      if (!url) throw new Error('the webhook URL secret is empty');
      const body = mattermostBody(ctx.config, ctx.event, ctx.deliveryId);
      let res;
      try {
        res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), redirect: 'error', signal: AbortSignal.timeout(Math.max(1000, ctx.timeoutMs - 500)) });
      } catch (e) {
        throw new Error(`mattermost ${new URL(url).host}: ${e.cause?.code ?? e.name}`);
      }
      if (!res.ok) throw new Error(`mattermost ${new URL(url).host}: HTTP ${res.status} ${(await res.text().catch(() => '')).slice(0, 200)}`);
    },
  },
};

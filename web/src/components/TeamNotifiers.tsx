/**
 * A team's own notification channels (maintainers; GET/PUT/DELETE /teams/:team/notifications): told about every
 * job of the team. A channel is written like a job's `notify:` entry: a webhook URL (optionally signed with a
 * team secret), or a team secret holding a Slack / DingTalk / Feishu robot URL, or e-mail recipients; and the
 * events. The master validates it (shared/job/notify.ts) and says what is wrong. The enabled plugins' notifier
 * kinds are offered too, their settings as fields their manifest's config schema drives (PluginChannelFields);
 * a plugin channel can be edited (its settings loaded back into the form, saved under the same name).
 */
import { useState } from 'preact/hooks';
import type { TeamNotifierInfo } from '../../../shared/api';
import { useAction } from '../action';
import { useLoad } from '../data';
import { session } from '../session';
import { PluginChannelFields, type NotifierKind } from './PluginChannelFields';
import type { JsonSchema } from '../job-form/SchemaField';

const KINDS = ['webhook', 'slack', 'dingtalk', 'feishu', 'email'] as const;
const EVENTS = ['failure', 'fixed', 'deploy', 'approval'] as const;
const TARGET: Record<(typeof KINDS)[number], string> = {
  webhook: 'URL, e.g. https://hooks.example/ci',
  slack: 'team secret holding the webhook URL',
  dingtalk: 'team secret holding the robot URL',
  feishu: 'team secret holding the bot URL',
  email: 'recipients, comma-separated',
};

function describe(n: TeamNotifierInfo): string {
  const c = n.channel;
  const on = ((c.on as string[] | undefined) ?? ['failure', 'fixed']).join(', ');
  // A plugin notifier's channel (set through the API or CLI): its kind and settings (secret names only).
  if (typeof c.notifier === 'string') return `${c.notifier} (plugin) ${JSON.stringify(c.config ?? {})} on ${on}`;
  const kind = KINDS.find((k) => k in c) ?? 'channel';
  const target = Array.isArray(c[kind]) ? (c[kind] as string[]).join(', ') : String(c[kind] ?? '');
  return `${kind} ${target}${c.secret ? ` (signed with ${String(c.secret)})` : ''}${c.sign ? ` (signed with ${String(c.sign)})` : ''} on ${((c.on as string[] | undefined) ?? ['failure', 'fixed']).join(', ')}`;
}

export function TeamNotifiers({ team }: { team: string }) {
  const s = session()!;
  const list = useLoad(() => s.client.teamNotifiers(team), [team]);
  // The enabled plugins' notifier kinds (none when the manifests cannot be read).
  const plugins = useLoad(
    () =>
      s.client.pluginManifests().then(
        (ms) => ms.flatMap((m) => m.provides.notifiers.map((n): NotifierKind => ({ kind: n.kind, plugin: `${m.name}@${m.version}`, description: n.description, config: n.config as JsonSchema, secrets: n.secrets }))),
        () => [] as NotifierKind[],
      ),
    [],
  );
  const [name, setName] = useState('');
  const [kind, setKind] = useState<string>('webhook');
  const [config, setConfig] = useState<Record<string, unknown>>({});
  const pluginKind = (plugins.data ?? []).find((k) => k.kind === kind);
  const [target, setTarget] = useState('');
  const [sign, setSign] = useState('');
  const [on, setOn] = useState<string[]>(['failure', 'fixed']);
  const [error, act] = useAction(list.reload);
  const save = async (e: Event) => {
    e.preventDefault();
    const channel: Record<string, unknown> = pluginKind
      ? { [kind]: config, on }
      : {
          [kind]: kind === 'email' ? target.split(',').map((x) => x.trim()).filter(Boolean) : target.trim(),
          on,
          ...(sign.trim() ? { [kind === 'webhook' ? 'secret' : 'sign']: sign.trim() } : {}),
        };
    if (await act(() => s.client.setTeamNotifier(team, name, channel))) {
      setName('');
      setTarget('');
      setSign('');
      setConfig({});
    }
  };
  /** Loads a plugin channel back into the form; saving keeps its name, so it replaces the channel. */
  const edit = (n: TeamNotifierInfo) => {
    setName(n.name);
    setKind(String(n.channel.notifier));
    setConfig({ ...((n.channel.config as Record<string, unknown> | undefined) ?? {}) });
    setOn([...((n.channel.on as string[] | undefined) ?? ['failure', 'fixed'])]);
  };
  return (
    <div data-testid={`notifiers-${team}`}>
      <h3>Notification channels</h3>
      <ul class="plain">
        {(list.data ?? []).map((n) => (
          <li>
            <strong>{n.name}</strong> <span class="small">{describe(n)}</span>{' '}
            {typeof n.channel.notifier === 'string' && (
              <button type="button" class="link" onClick={() => edit(n)}>
                Edit
              </button>
            )}{' '}
            <button type="button" class="link" onClick={() => window.confirm(`Remove channel ${n.name}?`) && act(() => s.client.removeTeamNotifier(team, n.name))}>
              Remove
            </button>
          </li>
        ))}
        {list.data && !list.data.length && <li class="muted small">No channels: the team hears only what its jobs' notify: entries say.</li>}
      </ul>
      <form class="inline-form" onSubmit={save} aria-label={`New channel of ${team}`}>
        <input aria-label="Channel name" placeholder="name, e.g. ops-chat" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <select
          aria-label="Channel kind"
          value={kind}
          onChange={(e) => {
            setKind((e.target as HTMLSelectElement).value);
            setConfig({});
          }}
        >
          {KINDS.map((k) => (
            <option value={k}>{k}</option>
          ))}
          {(plugins.data ?? []).map((k) => (
            <option value={k.kind}>{`${k.kind} (plugin)`}</option>
          ))}
        </select>
        {pluginKind ? (
          <PluginChannelFields kind={pluginKind} team={team} value={config} onChange={setConfig} />
        ) : (
          <input aria-label="Channel target" placeholder={TARGET[kind as (typeof KINDS)[number]]} required value={target} onInput={(e) => setTarget((e.target as HTMLInputElement).value)} />
        )}
        {!pluginKind && kind !== 'slack' && kind !== 'email' && (
          <input aria-label="Signing secret (optional)" placeholder="signing secret name (optional)" value={sign} onInput={(e) => setSign((e.target as HTMLInputElement).value)} />
        )}
        {EVENTS.map((ev) => (
          <label class="check">
            <input type="checkbox" checked={on.includes(ev)} onChange={(e) => setOn((e.target as HTMLInputElement).checked ? [...on, ev] : on.filter((x) => x !== ev))} /> {ev}
          </label>
        ))}
        <button type="submit">Save channel</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/**
 * Delivers a notification through a plugin notifier (manifest `provides.notifiers`, module `entry.master`):
 * one fresh `node` child per delivery attempt, which imports the plugin's master entry and calls
 *   export const notifiers = { [kind]: { async send(ctx) } }
 * with ctx = { kind, config, secrets, event, deliveryId, timeoutMs, plugin: { name, version } }: `config` is
 * the channel's settings as validated at apply, `secrets` the team secrets its settings name (resolved here,
 * by settings field), `event` the notification as every channel gets it (masked before it was stored: no
 * secret value of the job in it). `send` resolving is a delivery; throwing is a failed attempt (retried with
 * backoff by master/notify/notifier.ts, its message the delivery's lastError).
 *
 * The child gets no master environment (PATH and LANG only), runs as nobody when the master is root, and is
 * killed after the timeout, so a plugin can neither read the master's data nor hang deliveries. The package
 * is unpacked once per version into a directory of its own outside the (0700) data directory. The child,
 * its contract, timeout and kill are shared/node/plugin-host.ts, the host the agent runs plugin steps in; the
 * values of the channel's secrets are masked (***) in whatever error text comes back.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endedBy, startPluginHost } from '../../shared/node/plugin-host';
import { unpackTarball } from '../../shared/node/tarball';
import type { PluginRow } from '../store/plugins';

export interface NotifierDelivery {
  kind: string;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
  event: unknown;
  deliveryId: number;
  timeoutMs: number;
}

export class NotifierRunner {
  private root: Promise<string> | undefined;
  private readonly unpacked = new Map<string, Promise<string>>();

  /** Sends `d` through `plugin` (package at `file`); throws an Error naming the plugin on any failure. */
  async send(plugin: PluginRow, file: string, d: NotifierDelivery): Promise<void> {
    const who = `plugin ${plugin.name}@${plugin.version}`;
    const entry = plugin.manifest.entry.master;
    if (!entry) throw new Error(`${who} has no entry.master`);
    const dir = await this.unpack(plugin, file);
    const runAs = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    const o = await startPluginHost({
      entry: join(dir, entry),
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
      runAs,
      request: { mode: 'notify', ctx: { ...d, plugin: { name: plugin.name, version: plugin.version } } },
      stdout: 'ignore',
      captureStderr: true,
      // The first line of the message only: it becomes the delivery's lastError, listed to the team.
      errors: 'message',
      timeoutMs: d.timeoutMs,
      // A notifier that puts its secret (a token) in its error must not put it in lastError or the log.
      mask: Object.values(d.secrets),
    }).done;
    if (o.startError) throw new Error(`${who}: ${o.startError}`);
    if (o.timedOut) throw new Error(`${who}: the '${d.kind}' notifier did not finish within ${d.timeoutMs} ms`);
    const r = o.reply;
    if (!r) throw new Error(`${who}: its process ended (${endedBy(o)}) before the '${d.kind}' notifier answered${o.stderrTail ? `: ${o.stderrTail}` : ''}`);
    if ('result' in r) return;
    if ('loadError' in r) throw new Error(`${who} failed to load: ${r.loadError}`);
    if ('threw' in r) throw new Error(`${who}: the '${d.kind}' notifier threw: ${r.threw}`);
    if ('crashed' in r) throw new Error(`${who}: the '${d.kind}' notifier crashed: ${r.crashed}`);
    throw new Error(`${who}: unexpected answer`);
  }

  /** Removes the unpacked packages (master stop). */
  async close(): Promise<void> {
    const root = await this.root?.catch(() => undefined);
    if (root) await rm(root, { recursive: true, force: true });
  }

  private unpack(plugin: PluginRow, file: string): Promise<string> {
    const key = `${plugin.name}@${plugin.version}@${plugin.sha256}`;
    let p = this.unpacked.get(key);
    if (!p) {
      p = (async () => {
        // World-traversable (0755) so the nobody child can read the code; nothing secret is in it.
        this.root ??= mkdtemp(join(tmpdir(), 'slipway-notifiers-')).then(async (r) => (await chmod(r, 0o755), r));
        const root = await this.root;
        const dir = join(root, `${plugin.name}@${plugin.version}`);
        const tmp = join(root, `.unpack-${randomBytes(6).toString('hex')}`);
        await mkdir(tmp, { mode: 0o755 });
        await unpackTarball(file, tmp);
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
        return dir;
      })();
      p.catch(() => this.unpacked.delete(key));
      this.unpacked.set(key, p);
    }
    return p;
  }
}

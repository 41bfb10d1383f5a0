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
 * is unpacked once per version into a directory of its own outside the (0700) data directory.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpackTarball } from '../../shared/node/tarball';
import type { PluginRow } from '../store/plugins';

const HOST = `
import { pathToFileURL } from 'node:url';
const reply = (m) => new Promise((r) => process.send(m, () => r()));
const text = (e) => String((e && e.message) || e).split('\\n')[0].slice(0, 500);
for (const ev of ['uncaughtException', 'unhandledRejection']) {
  process.on(ev, async (e) => { await reply({ crashed: text(e) }); process.exit(70); });
}
process.once('message', async (req) => {
  let mod;
  try { mod = await import(pathToFileURL(process.argv[1]).href); }
  catch (e) { await reply({ loadError: text(e) }); process.exit(0); }
  const notifiers = mod.notifiers ?? (mod.default && mod.default.notifiers);
  const n = notifiers && notifiers[req.ctx.kind];
  if (!n || typeof n.send !== 'function') { await reply({ loadError: 'the module exports no notifier ' + JSON.stringify(req.ctx.kind) + ' (export const notifiers = { ... })' }); process.exit(0); }
  try { await n.send(req.ctx); await reply({ sent: true }); }
  catch (e) { await reply({ threw: text(e) }); }
  process.exit(0);
});
`;

type HostReply = { sent: true } | { threw: string } | { crashed: string } | { loadError: string };

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
    const reply = await new Promise<HostReply | string>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', HOST, join(dir, entry)], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        uid: runAs?.uid,
        gid: runAs?.gid,
        serialization: 'json',
      });
      let err = '';
      let answer: HostReply | undefined;
      let timedOut = false;
      child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString('utf8')).slice(-1000)));
      const killGroup = () => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group is gone already.
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, d.timeoutMs);
      child.on('message', (m: HostReply) => (answer ??= m));
      child.once('error', (e) => resolve(`could not start node: ${e.message}`));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        // Whatever the notifier left running (a child of its own) goes with it.
        killGroup();
        if (timedOut) resolve(`the '${d.kind}' notifier did not finish within ${d.timeoutMs} ms`);
        else resolve(answer ?? `its process ended (${code !== null ? `exit ${code}` : `signal ${signal}`}) before the '${d.kind}' notifier answered${err ? `: ${err.trim().split('\n').pop()}` : ''}`);
      });
      const ctx = { ...d, plugin: { name: plugin.name, version: plugin.version } };
      child.send({ ctx }, () => undefined);
    });
    if (typeof reply === 'string') throw new Error(`${who}: ${reply}`);
    if ('sent' in reply) return;
    if ('loadError' in reply) throw new Error(`${who} failed to load: ${reply.loadError}`);
    if ('threw' in reply) throw new Error(`${who}: the '${d.kind}' notifier threw: ${reply.threw}`);
    throw new Error(`${who}: the '${d.kind}' notifier crashed: ${reply.crashed}`);
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

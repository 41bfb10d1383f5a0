/**
 * The edge role: keeps nginx routing to the live instances registered in etcd.
 *
 * It watches the key prefix of every routed app (an etcd watch, not polling), renders one nginx include file
 * (an upstream and a server block per route), and applies it only when the text changed:
 *   write `<file>.next` -> rename over `<file>` (atomic) -> reload (SIGHUP to nginx's master) -> the new
 *   workers run -> the old ones stop accepting (see endHandOver);
 * when nginx refuses the file, the previous file is put back and nginx keeps running on its old configuration.
 *
 * Why `nginx -t` does not come first: it is a whole nginx start (about 10-20 ms here), the largest cost
 * between a registration and its routing. nginx's master checks a configuration itself when it gets SIGHUP
 * and, when it is invalid, logs the error and keeps its old workers and configuration: a refused file never
 * routes a request either way. New workers are the master's proof that it accepted the file; when they do not
 * come within CHECK_AFTER_MS, `nginx -t` tells the edge why, it puts the last good file back on disk (for
 * nginx's next start) and reports the refusal; a second SIGHUP then re-reads that good file, in case the
 * running master accepted what the check refused. Where the edge cannot see nginx's workers (no pid file, no
 * /proc children list), `nginx -t` runs beside every reload.
 * The master's pid comes from `pidFile` or the `pid` directive of `nginx -T`; without one the edge reloads
 * with `nginx -s reload`.
 * Bursts of changes are debounced (`debounceMs`). A route with no instance renders a server answering 503,
 * never an empty upstream (which fails `nginx -t`).
 */
import { execFile } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Etcd3, Watcher } from 'etcd3';
import { appPrefix } from './registrar';
import { renderEdgeConfig, type EdgeRoute } from './edge-template';

export type { EdgeRoute } from './edge-template';

const run = promisify(execFile);

/**
 * How long the edge waits after a change for more before it applies them together: etcd delivers a burst of
 * registrations (a scale to 20) within a few ms, so 5 ms folds it into one reload (bench: 1 for 19 more).
 */
export const DEFAULT_EDGE_DEBOUNCE_MS = 5;
const DEFAULT_DEBOUNCE_MS = DEFAULT_EDGE_DEBOUNCE_MS;
/**
 * How often the edge lists each route's prefix to compare it with what its watch delivered. etcd 3.4.23 (Debian's)
 * can lose the cancel of a watch that fell behind when a compaction passes it (seen here in about 1 run in 4
 * under load): that watch then delivers nothing, ever, and only a list notices. A list of one prefix is one
 * small range read.
 */
export const DEFAULT_EDGE_RESYNC_MS = 5000;
/** A difference must still be there this much later (a live watch closes it within ms) to replace the watch. */
const RESYNC_RECHECK_MS = 1000;
/** How long the edge waits for nginx's new workers before it runs `nginx -t` to learn why they are late. */
const CHECK_AFTER_MS = 100;

export interface NginxEdgeOptions {
  etcd: Etcd3;
  /** Registration key prefix (the registrar's; default `/`). */
  prefix?: string;
  routes: EdgeRoute[];
  /** The include file this edge owns (nginx.conf includes it inside `http {}`). */
  file: string;
  /** A user template (mustache, see DEFAULT_EDGE_TEMPLATE in edge-template.ts for the variables); default: the built-in one. */
  template?: string;
  /** nginx command line to check and reload: e.g. ['nginx', '-p', PREFIX, '-c', CONF]. */
  nginx: string[];
  /** Default DEFAULT_EDGE_DEBOUNCE_MS. */
  debounceMs?: number;
  /** Default DEFAULT_EDGE_RESYNC_MS; the list that finds a watch that went silent (see there). */
  resyncMs?: number;
  /** nginx's pid file (default: the `pid` directive in `nginx -T`; none found: `nginx -s reload`). */
  pidFile?: string;
  /**
   * End nginx's fixed 100 ms overlap of old and new workers as soon as the new workers run (default true; see
   * `endHandOver`). false leaves the hand-over to nginx (the bench's baseline).
   */
  fastHandOver?: boolean;
  log?: (msg: string) => void;
}

export interface EdgeStatus {
  applied: number;
  refused: number;
  lastError?: string;
  /** Instances per route as last applied: `app_env` -> ['ip:port', ...]. */
  upstreams: Record<string, string[]>;
}

/**
 * The pid file named by the `pid` directive of the configuration nginx would load (`nginx -T`), resolved
 * against the `-p` prefix when relative; undefined when there is none or nginx -T fails.
 */
export async function pidFileOf(nginx: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run(nginx[0], [...nginx.slice(1), '-T'], { timeout: 10_000, maxBuffer: 16 * 1024 * 1024 });
    const m = /^\s*pid\s+([^;\s]+)\s*;/m.exec(stdout);
    if (!m) return undefined;
    if (m[1].startsWith('/')) return m[1];
    const p = nginx.indexOf('-p');
    return p >= 0 && nginx[p + 1] ? `${nginx[p + 1].replace(/\/$/, '')}/${m[1]}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The worker processes of an nginx master that still accept connections (their title is `nginx: worker
 * process`; one that is shutting down shows `... is shutting down`), from /proc; undefined when /proc has no
 * children list for it (another pid namespace, an old kernel).
 */
export function acceptingWorkers(master: number): number[] | undefined {
  let children: string;
  try {
    children = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8');
  } catch {
    return undefined;
  }
  const out: number[] = [];
  for (const c of children.split(' ')) {
    if (!c) continue;
    try {
      const title = readFileSync(`/proc/${c}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ').trimEnd();
      if (title.endsWith('worker process')) out.push(Number(c));
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}

/** How many keys differ between the edge's view of a route and a list of its prefix. */
function differences(view: Map<string, string>, kvs: { key: Buffer; value: Buffer }[]): number {
  const listed = new Map(kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
  let n = 0;
  for (const [k, v] of listed) if (view.get(k) !== v) n++;
  for (const k of view.keys()) if (!listed.has(k)) n++;
  return n;
}

export class NginxEdge {
  private readonly prefix: string;
  private readonly instances = new Map<string, Map<string, string>>();
  private readonly watchers = new Set<Watcher>();
  private readonly resyncTimers = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** Watches replaced after they failed for good (compaction, lost revision, fell silent). */
  rewatches = 0;
  private timer?: NodeJS.Timeout;
  private applying: Promise<void> = Promise.resolve();
  /** Instances changed since the last apply began (set by schedule, cleared when an apply takes its snapshot). */
  private dirty = false;
  private lastText?: string;
  private pidFile?: string;
  readonly status: EdgeStatus = { applied: 0, refused: 0, upstreams: {} };

  constructor(private readonly o: NginxEdgeOptions) {
    this.prefix = o.prefix ?? '/';
  }

  async start(): Promise<void> {
    this.lastText = await readFile(this.o.file, 'utf8').catch(() => undefined);
    this.pidFile = this.o.pidFile ?? (await pidFileOf(this.o.nginx));
    for (const r of this.o.routes) await this.watchRoute(r);
    // The lists above scheduled an apply; this one covers them. On a busy host the debounce may have fired
    // already while a watch was being created: apply again only if something changed since that one began,
    // so a refused file (or template) is tried, and counted, once.
    clearTimeout(this.timer);
    await this.applying;
    if (this.dirty || this.status.applied + this.status.refused === 0) await this.apply();
  }

  /**
   * Lists the route's prefix and watches it from the listed revision + 1, so no change between the two is
   * missed or applied twice. A watch that fails for good (cancelled by compaction, a revision etcd no longer
   * has after a restart with lost data) is replaced by a new list + watch; a watch that reconnects after a
   * disconnection is replaced the same way, so the edge converges to etcd's current state either way.
   */
  private async watchRoute(r: EdgeRoute): Promise<void> {
    if (this.stopped) return;
    const id = `${r.app}_${r.environment}`;
    const p = appPrefix(this.prefix, r.app, r.environment);
    const revision = await this.relist(id, p);
    const w = await this.o.etcd.watch().prefix(p).startRevision(String(revision + 1)).create();
    this.watchers.add(w);
    // A replaced watch may still deliver what it had buffered: events older than the list that replaced it,
    // which would bring back keys deleted since. Only the current watch of the route is followed.
    w.on('put', (kv) => {
      if (!this.watchers.has(w)) return;
      this.route(id).set(kv.key.toString(), kv.value.toString());
      this.schedule();
    });
    w.on('delete', (kv) => {
      if (!this.watchers.has(w)) return;
      this.route(id).delete(kv.key.toString());
      this.schedule();
    });
    let resync: NodeJS.Timeout | undefined;
    const replace = (why: string) => {
      if (!this.watchers.delete(w)) return;
      if (resync) {
        clearTimeout(resync);
        this.resyncTimers.delete(resync);
      }
      void w.cancel().catch(() => undefined);
      this.o.log?.(`edge: watch of ${p} ${why}; listing and watching again`);
      this.rewatches++;
      this.rewatch(r, p, 200);
    };
    // After a disconnection the watch would resume from its old revision, which a restarted etcd that lost
    // its data may not reach for a long time: start again from a fresh list instead.
    w.on('disconnected', () => replace('was disconnected'));
    w.on('error', (e: Error) => replace(`ended (${e.message})`));
    // The list that finds a watch etcd stopped feeding without telling (DEFAULT_EDGE_RESYNC_MS). A difference
    // is acted on only if a second list RESYNC_RECHECK_MS later still differs: a live watch is ms behind.
    const resyncMs = this.o.resyncMs ?? DEFAULT_EDGE_RESYNC_MS;
    let suspect = false;
    const arm = (ms: number) => {
      if (resync) this.resyncTimers.delete(resync);
      if (this.stopped || !this.watchers.has(w)) return;
      resync = setTimeout(() => void check(), ms).unref();
      this.resyncTimers.add(resync);
    };
    const check = async () => {
      const listed = await this.o.etcd.getAll().prefix(p).exec().catch(() => undefined);
      // etcd unreachable: the watch's own disconnection replaces it when etcd is back.
      if (!listed || !this.watchers.has(w)) return arm(resyncMs);
      const differing = differences(this.route(id), listed.kvs);
      if (differing === 0) {
        suspect = false;
        return arm(resyncMs);
      }
      if (!suspect) {
        suspect = true;
        return arm(RESYNC_RECHECK_MS);
      }
      replace(`missed changes: ${differing} key(s) still differ from etcd ${RESYNC_RECHECK_MS} ms later (a lost watch event)`);
    };
    arm(resyncMs);
  }

  /**
   * Lists and watches the route again after `delayMs`, and again (backing off to 5 s) until that succeeds: etcd
   * may be down for longer than the client's own retries, and a route given up would never follow etcd again.
   */
  private rewatch(r: EdgeRoute, p: string, delayMs: number): void {
    if (this.stopped) return;
    setTimeout(() => {
      this.watchRoute(r).catch((err: Error) => {
        this.o.log?.(`edge: watching ${p} failed (${err.message}); trying again`);
        this.rewatch(r, p, Math.min(delayMs * 2, 5000));
      });
    }, delayMs).unref();
  }

  /** Replaces the route's instances with what etcd holds now; returns the revision read at. */
  private async relist(id: string, p: string): Promise<number> {
    const res = await this.o.etcd.getAll().prefix(p).exec();
    const m = this.route(id);
    m.clear();
    for (const kv of res.kvs) m.set(kv.key.toString(), kv.value.toString());
    this.schedule();
    return Number(res.header.revision);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const t of this.resyncTimers) clearTimeout(t);
    this.resyncTimers.clear();
    await Promise.all([...this.watchers].map((w) => w.cancel()));
    await this.applying;
  }

  /** Applies now (waits for any apply in progress first). */
  apply(): Promise<void> {
    this.applying = this.applying.then(() => this.applyNow());
    return this.applying;
  }

  /**
   * SIGHUP to nginx's master (pid file), or `nginx -s reload` without one. Returns the master's pid and the
   * workers that accepted connections before the reload, for `endHandOver` (undefined: not known).
   */
  private async reload(): Promise<{ master: number; old: number[] } | undefined> {
    if (this.pidFile) {
      const pid = Number(readFileSync(this.pidFile, 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 1) throw new Error(`${this.pidFile} holds no pid`);
      const old = this.o.fastHandOver === false ? undefined : acceptingWorkers(pid);
      process.kill(pid, 'SIGHUP');
      return old && { master: pid, old };
    }
    await run(this.o.nginx[0], [...this.o.nginx.slice(1), '-s', 'reload'], { timeout: 10_000 });
    return undefined;
  }

  /** `nginx -t` at the lowest CPU priority (a busy host's reload comes first): the refusal, or undefined. */
  private check(): Promise<string | undefined> {
    return run('nice', ['-n', '19', this.o.nginx[0], ...this.o.nginx.slice(1), '-t'], { timeout: 10_000 }).then(
      () => undefined,
      (e: { stderr?: string; message: string }) => (e.stderr || e.message).trim(),
    );
  }

  /**
   * After a SIGHUP nginx's master starts the new workers, then sleeps a fixed 100 ms with signals blocked
   * (ngx_master_process_cycle: `ngx_msleep(100)`) before it tells the old workers to stop accepting. The old
   * workers share the listening sockets, so for those 100 ms about half the new connections are still routed
   * by the old configuration: to an instance already deregistered, or never to the one just registered. The
   * edge ends that overlap as soon as the new workers run by sending the old ones the signal the master sends
   * them after its sleep, SIGQUIT: a graceful shutdown that closes their copy of the listening sockets
   * (the sockets stay open in the master and the new workers, so no queued connection is lost) and finishes
   * the requests in flight. The master then marks them exiting as usual and does not respawn them. An apply
   * counts as applied only once the old workers stopped accepting. When no new worker appears (nginx refused
   * the file) or `/proc` cannot be read, nothing is signalled.
   */
  private async endHandOver(master: number, old: number[], refused: () => boolean): Promise<boolean> {
    if (old.length === 0) return false;
    const deadline = performance.now() + 1000;
    while (performance.now() < deadline && !refused()) {
      await new Promise((r) => setTimeout(r, 1));
      const now = acceptingWorkers(master);
      if (!now) return false;
      if (now.filter((p) => !old.includes(p)).length < old.length) continue;
      for (const p of old) {
        try {
          process.kill(p, 'SIGQUIT');
        } catch {
          // Already gone.
        }
      }
      // A worker retitles itself `... is shutting down` right before it closes its listening sockets: once
      // none of the old ones accepts, every new connection is routed by the new file.
      while (performance.now() < deadline && (acceptingWorkers(master) ?? []).some((p) => old.includes(p))) await new Promise((r) => setTimeout(r, 1));
      return true;
    }
    return false;
  }

  private route(id: string): Map<string, string> {
    let m = this.instances.get(id);
    if (!m) this.instances.set(id, (m = new Map()));
    return m;
  }

  private schedule(): void {
    this.dirty = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.apply(), this.o.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  private refuse(msg: string): void {
    this.status.refused++;
    this.status.lastError = msg;
    this.o.log?.(`edge: ${msg}`);
  }

  private async applyNow(): Promise<void> {
    this.dirty = false;
    const snapshot = new Map([...this.instances].map(([id, m]) => [id, [...m.values()]]));
    let text: string;
    try {
      text = renderEdgeConfig(this.o.routes, snapshot, this.o.template);
    } catch (e) {
      this.refuse(`the edge template does not render: ${(e as Error).message}`);
      return;
    }
    if (text === this.lastText) return;
    const previous = this.lastText;
    // Small file, written synchronously: the thread pool's hand-offs cost more than the write.
    writeFileSync(`${this.o.file}.next`, text);
    renameSync(`${this.o.file}.next`, this.o.file);
    let handOver: { master: number; old: number[] } | undefined;
    const reload = await this.reload().then(
      (h) => void (handOver = h),
      (e: Error) => e,
    );
    // `nginx -t` is a whole nginx start. When the edge can see nginx's workers, new ones are the master's own
    // proof that it accepted the file, and the check runs only when they are late (CHECK_AFTER_MS) or never
    // come (a refused file: the check then names the error). Otherwise it runs beside the reload.
    let checked: string | undefined | null = null;
    let check: Promise<unknown> | undefined;
    const startCheck = () => (check ??= this.check().then((r) => (checked = r)));
    let refused: string | undefined;
    if (handOver) {
      const { master, old } = handOver;
      const late = setTimeout(startCheck, CHECK_AFTER_MS);
      const ended = await this.endHandOver(master, old, () => typeof checked === 'string');
      clearTimeout(late);
      if (!ended) startCheck();
      await check;
      refused = checked ?? undefined;
    } else {
      refused = await startCheck().then(() => checked ?? undefined);
    }
    if (refused !== undefined) {
      const msg = refused;
      // Put the last good file back. nginx refused the file at its reload too and still runs on the old one;
      // reload once more so a master that accepted what the check refused returns to the good file.
      if (previous !== undefined) {
        await writeFile(`${this.o.file}.next`, previous);
        await rename(`${this.o.file}.next`, this.o.file);
        await this.reload().catch((err: Error) => this.o.log?.(`edge: reload after a refused check failed: ${err.message}`));
      }
      this.refuse(`nginx -t refused the new configuration, keeping the old one: ${msg}`);
      return;
    }
    if (reload) {
      this.refuse(`nginx reload failed: ${reload.message}`);
      return;
    }
    this.lastText = text;
    this.status.applied++;
    this.status.lastError = undefined;
    this.status.upstreams = Object.fromEntries([...snapshot].map(([id, v]) => [id, [...v].sort()]));
  }
}

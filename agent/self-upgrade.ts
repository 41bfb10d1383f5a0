/**
 * Self-upgrade: an agent started from the bundle with --auto-upgrade keeps its version equal to the agent
 * bundle its master serves (master/agent-bundle). After every accept (a master upgrade restarts the master,
 * so every agent reconnects) and every CHECK_INTERVAL_MS it reads GET /agent/slipway-agent.json; when the
 * version differs it
 *   1. drains: takes no new work and tells the master (agent:state draining, upgradingTo = the version);
 *   2. waits until its running stages finished and their records were acknowledged (no step is killed);
 *   3. downloads /agent/slipway-agent.mjs and compares its sha256 with the json's; a mismatch is refused
 *      with one clear line, the agent keeps its version, takes work again and retries at the next check;
 *   4. replaces its own bundle file atomically (rename), stops, and exits UPGRADE_EXIT_CODE: its supervisor
 *      (the systemd unit's RestartForceExitStatus, or the installer's --foreground loop) starts the new one.
 * A master that refuses the agent's protocol version takes the same path without the drain message (the
 * agent cannot speak to it): it is how an agent more than one protocol version behind catches up.
 */
import { createHash } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { z } from 'zod';

/** Exit status of an agent that replaced its bundle and wants to be started again (EX_TEMPFAIL). */
export const UPGRADE_EXIT_CODE = 75;
const CHECK_INTERVAL_MS = 5 * 60_000;
const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

const BundleInfoSchema = z.object({ version: z.string().min(1).max(64), sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().positive() });
export type BundleInfo = z.infer<typeof BundleInfoSchema>;

export class BundleChecksumError extends Error {}

export interface SelfUpgradeDeps {
  /** http(s) URL of the master. */
  url: string;
  ca?: Buffer;
  /** This agent's version (AGENT_VERSION) and the bundle file it runs from, which it replaces. */
  version: string;
  bundlePath: string;
  log: Logger;
  /** Stop taking work and tell the master (when connected) that the agent upgrades to `version`. */
  drain(version: string): void;
  /** The upgrade failed: take work again (unless the agent is stopping anyway). */
  undrain(): void;
  /** Resolves when no stage runs and every record is acknowledged (bounded). */
  idle(): Promise<void>;
  /** Stops services and the connection, then exits with UPGRADE_EXIT_CODE. */
  restart(): Promise<void>;
}

export class SelfUpgrade {
  private busy = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SelfUpgradeDeps) {}

  /** Checks every CHECK_INTERVAL_MS until stop() (the agent also calls check() after each accept). */
  start(): void {
    this.timer ??= setInterval(() => void this.check(), CHECK_INTERVAL_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  get upgrading(): boolean {
    return this.busy;
  }

  /**
   * Compares versions and upgrades when they differ. `connected` false: the master refused the agent
   * (protocol version), so there is no drain message to send. Resolves true when the agent is restarting.
   */
  async check(connected = true): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    const { log } = this.deps;
    let drained = false;
    try {
      const info = await fetchBundleInfo(this.deps.url, this.deps.ca);
      if (!info || info.version === this.deps.version) return false;
      log.info(`the master serves agent ${info.version}, this agent is ${this.deps.version}: upgrading once the running stages are done`);
      if (connected) this.deps.drain(info.version);
      drained = true;
      await this.deps.idle();
      // The master may have moved on while the stages ran: install what it serves now.
      const latest = (await fetchBundleInfo(this.deps.url, this.deps.ca)) ?? info;
      await installBundle(this.deps.url, this.deps.ca, latest, this.deps.bundlePath);
      log.info(`agent ${latest.version} installed in ${this.deps.bundlePath} (sha256 verified); restarting`);
      process.stderr.write(`slipway agent: upgraded ${this.deps.version} -> ${latest.version} (sha256 ${latest.sha256}); restarting\n`);
      await this.deps.restart();
      return true;
    } catch (err) {
      const message = (err as Error).message;
      log.error(`agent upgrade failed: ${message}`);
      if (err instanceof BundleChecksumError) process.stderr.write(`slipway agent: ${message}\n`);
      if (drained && connected) this.deps.undrain();
      return false;
    } finally {
      this.busy = false;
    }
  }
}

/** GET /agent/slipway-agent.json; undefined when the master serves no bundle (404). */
export async function fetchBundleInfo(url: string, ca?: Buffer): Promise<BundleInfo | undefined> {
  const res = await get(`${url.replace(/\/+$/, '')}/agent/slipway-agent.json`, ca, 64 * 1024);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET /agent/slipway-agent.json answered ${res.status}`);
  const parsed = BundleInfoSchema.safeParse(JSON.parse(res.body.toString('utf8')));
  if (!parsed.success) throw new Error(`GET /agent/slipway-agent.json: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Downloads the bundle, checks its sha256 against `info` and only then renames it over `target`. */
export async function installBundle(url: string, ca: Buffer | undefined, info: BundleInfo, target: string): Promise<void> {
  const from = `${url.replace(/\/+$/, '')}/agent/slipway-agent.mjs`;
  const res = await get(from, ca, MAX_BUNDLE_BYTES);
  if (res.status !== 200) throw new Error(`GET ${from} answered ${res.status}`);
  const sha = createHash('sha256').update(res.body).digest('hex');
  if (sha !== info.sha256) {
    throw new BundleChecksumError(
      `checksum mismatch: ${from} has sha256 ${sha}, the master announced ${info.sha256} for version ${info.version}; not installed (the agent keeps its version and retries later)`,
    );
  }
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, res.body, { mode: 0o755 });
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function get(url: string, ca: Buffer | undefined, limit: number): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { ca, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limit) req.destroy(new Error(`GET ${url}: larger than ${limit} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
  });
}

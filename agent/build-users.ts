/**
 * One unprivileged build user per job. When the agent runs as root, every step, checkout and workspace
 * write of a job runs as `slipway-j<jobId>` (jobId: master:assign.build.jobId), created on first use with
 * `useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin` and a group of its own,
 * uid and gid JOB_UID_BASE + jobId: the system ranges useradd allocates from hold fewer than 1,000 ids, too
 * few for an agent that serves many jobs.
 * Workspaces of different jobs therefore have different owners (mode 0700): a step of one job cannot read
 * another job's workspaces, even when it guesses their paths. One agent serves one master, so the job id
 * names the job without ambiguity on this host.
 *
 * Users stay after retention removed their job's workspaces: such a user owns nothing, cannot log in and
 * keeps its uid reserved for the job, so a later build of the job gets the same uid (no chown of stale files
 * needed, and no other job can ever inherit files of a recycled uid).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { RunAs } from './executors/types';

const run = promisify(execFile);
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** useradd's exit code when /etc/passwd is locked by another process (e.g. another agent on the host). */
const USERADD_LOCKED = 10;
/**
 * Host-wide lock held around useradd (flock(1), util-linux): concurrent useradd processes were seen here to
 * lose each other's /etc/passwd update (one caller got a uid that vanished), so agents on one host take turns.
 * In /run (root's, 0755), not the world-writable /run/lock where a user could plant a symlink.
 */
const USERADD_LOCK = '/run/slipway-build-users.lock';
/** Build users get uid JOB_UID_BASE + jobId, far above the ranges useradd allocates from. */
export const JOB_UID_BASE = 200_000;
/** useradd's and groupadd's exit code when the id is already taken: then they pick one themselves. */
const USERADD_UID_TAKEN = 4;

/** The build user of a job: `slipway-j<jobId>`; throws for an id that is not a positive integer. */
export function buildUserName(jobId: number): string {
  if (!Number.isSafeInteger(jobId) || jobId <= 0) throw new Error(`build.jobId must be a positive integer, got ${jobId}`);
  return `slipway-j${jobId}`;
}

/** uid/gid of a user from the passwd database, or undefined when there is no such user. */
export async function lookupUser(name: string): Promise<RunAs | undefined> {
  try {
    const { stdout } = await run('getent', ['passwd', name], { env: { PATH } });
    const fields = stdout.trim().split(':');
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    // getent exits 2 for an unknown user.
    return undefined;
  }
}

/** Resolves (and creates) the build users of jobs; uid/gid are cached for the agent's lifetime. */
export class BuildUsers {
  private readonly cache = new Map<number, RunAs>();
  /** useradd calls of this process run one at a time (and host-wide under USERADD_LOCK). */
  private chain: Promise<unknown> = Promise.resolve();

  /** BuildUsers when the process runs as root; undefined otherwise (steps then run as the agent's user). */
  static ifRoot(): BuildUsers | undefined {
    return typeof process.getuid === 'function' && process.getuid() === 0 ? new BuildUsers() : undefined;
  }

  /** The job's user, created when missing; throws naming the user when it can neither be found nor created. */
  async forJob(jobId: number): Promise<RunAs> {
    const name = buildUserName(jobId);
    const cached = this.cache.get(jobId);
    if (cached) return cached;
    const next = this.chain.then(() => this.ensure(name, jobId));
    this.chain = next.catch(() => {});
    const user = await next;
    this.cache.set(jobId, user);
    return user;
  }

  private async ensure(name: string, jobId: number): Promise<RunAs> {
    const found = await lookupUser(name);
    if (found) return found;
    let lastError = '';
    let idArg = [String(JOB_UID_BASE + jobId)];
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        // Looked up again under the lock: another agent may have made the user since.
        const create = [
          'n="$1"; id="$2"',
          'getent passwd "$n" >/dev/null && exit 0',
          'getent group "$n" >/dev/null || groupadd --system ${id:+--gid "$id"} "$n" || exit $?',
          'exec useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --gid "$n" ${id:+--uid "$id"} "$n"',
        ].join('\n');
        await run('flock', ['--wait', '60', USERADD_LOCK, '/bin/sh', '-c', create, 'sh', name, ...idArg], { env: { PATH } });
      } catch (e) {
        const err = e as { code?: number; stderr?: string; message: string };
        lastError = (err.stderr || err.message).trim();
        if (err.code === USERADD_UID_TAKEN && idArg.length) {
          idArg = [];
          continue;
        }
        // "already exists" (another agent on this host made it meanwhile) is success: the lookup below finds it.
        if (err.code === USERADD_LOCKED) {
          await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
          continue;
        }
      }
      const created = await lookupUser(name);
      if (created) return created;
      break;
    }
    throw new Error(`cannot create build user '${name}' with useradd: ${lastError || 'user missing after useradd'}`);
  }
}

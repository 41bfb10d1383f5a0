/**
 * Git for the tests' own repositories: `git(cwd, ...args)` with a fixed identity and no system or global
 * config, and TestRepo, a repository on branch main whose commit() writes files and returns the new sha.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const gitIdentityEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Ada Lovelace',
  GIT_AUTHOR_EMAIL: 'ada@example.com',
  GIT_COMMITTER_NAME: 'Ada Lovelace',
  GIT_COMMITTER_EMAIL: 'ada@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

/** Runs git in cwd; returns trimmed stdout (throws with git's stderr on failure). */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitIdentityEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A non-bare repository on branch main; commit() writes files and returns the new sha. */
export class TestRepo {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    git(dir, 'init', '--quiet', '--initial-branch=main');
    // Lets tests fetch any reachable sha (file://, git daemon, ssh) unless a test turns it off.
    git(dir, 'config', 'uploadpack.allowReachableSHA1InWant', 'true');
  }
  commit(message: string, files: Record<string, string>): string {
    for (const [p, content] of Object.entries(files)) {
      mkdirSync(dirname(join(this.dir, p)), { recursive: true });
      writeFileSync(join(this.dir, p), content);
    }
    git(this.dir, 'add', '-A');
    git(this.dir, 'commit', '--quiet', '--allow-empty', '-m', message);
    return git(this.dir, 'rev-parse', 'HEAD');
  }
  get url(): string {
    return `file://${this.dir}`;
  }
}

/**
 * A directory holding a `git` wrapper to put first on a master's PATH: every `git fetch` waits while the file
 * `gate` is absent (touching `blocked`, when given, while it waits), then runs the real git. Returns the
 * directory. Tests use it to hold the master's fetches at a known point.
 */
export function gatedGitBin(dir: string, gate: string, blocked?: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  const touch = blocked ? `: > '${blocked}'; ` : '';
  writeFileSync(join(bin, 'git'), `#!/bin/sh\nif [ "$1" = fetch ]; then while [ ! -e '${gate}' ]; do ${touch}sleep 0.05; done; fi\nexec '${realGit}' "$@"\n`);
  chmodSync(join(bin, 'git'), 0o755);
  return bin;
}

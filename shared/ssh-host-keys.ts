/**
 * Strict SSH host key verification for git over SSH, shared by the master (ls-remote, fetch for diffs)
 * and the agent (checkout, submodules). Pure text helpers: the callers write the files.
 *
 * Every git call over SSH runs `sh <private dir>/ssh` (GIT_SSH_COMMAND, GIT_SSH_VARIANT=ssh), a wrapper
 * written next to the key file in the caller's private 0700 temp dir, which runs
 *   ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile=<dir>/known_hosts -o GlobalKnownHostsFile=/dev/null
 *       -o UpdateHostKeys=no -o BatchMode=yes -o IdentitiesOnly=yes [-i <dir>/id]
 * <dir>/known_hosts holds the job's repo.knownHosts lines followed by the host's own known_hosts files
 * (hostKnownHostsFiles). The global file is /dev/null because its lines are already in that one file:
 * exactly one file decides which keys are trusted, and ssh never writes to it (strict mode, no updates).
 *
 * When ssh refuses the host key, the wrapper prints ssh's own messages and then answers git with a
 * protocol error packet ("ERR ..."), so that git's last line (the one errors quote) is
 *   fatal: remote error: SSH host key of <host> (port <port>) is not known ... repo.knownHosts ... ssh-keyscan
 * instead of git's generic "Could not read from remote repository".
 */

/** A short description of the first malformed known_hosts line ("line 2: ..."), or null when all are usable. */
export function knownHostsProblem(text: string): string | null {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0].startsWith('@') ? fields[0] : undefined;
    if (marker && marker !== '@cert-authority' && marker !== '@revoked') {
      return `line ${i + 1}: unknown marker '${marker}' (only @cert-authority and @revoked exist)`;
    }
    const need = marker ? 4 : 3;
    if (fields.length < need) {
      return `line ${i + 1}: expected '${marker ? `${marker} ` : ''}<hosts> <key type> <base64 key>' as printed by ssh-keyscan, got ${fields.length} field${fields.length === 1 ? '' : 's'}`;
    }
    const key = fields[need - 1];
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key)) return `line ${i + 1}: the key '${key.slice(0, 20)}' is not base64`;
  }
  return null;
}

/** The known_hosts files OpenSSH reads by default for a user whose home is `home`, global ones first. */
export function hostKnownHostsFiles(home: string): string[] {
  return ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2', `${home}/.ssh/known_hosts`, `${home}/.ssh/known_hosts2`];
}

/** Whether git reaches `url` over SSH: ssh://, git+ssh://, ssh+git:// or the scp-like user@host:path form. */
export function isSshRepoUrl(url: string): boolean {
  if (/^(ssh|git\+ssh|ssh\+git):\/\//i.test(url)) return true;
  if (url.includes('://') || url.startsWith('/')) return false;
  return /^(?:[^@/\s]+@)?[^:/\s]+:/.test(url);
}

/** A POSIX shell single-quoted word. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface SshWrapperOptions {
  /** The caller's private 0700 temp dir: the wrapper's own log files go there. */
  dir: string;
  /** The known_hosts file the wrapper trusts (in `dir`). */
  knownHostsFile: string;
  /** The private key file (in `dir`), when the job has an SSH key. */
  keyFile?: string;
}

/** The text of the ssh wrapper (run with `sh`); see the header comment. */
export function sshWrapperScript(o: SshWrapperOptions): string {
  const opts = [
    ...(o.keyFile ? ['-i', shellQuote(o.keyFile)] : []),
    '-o IdentitiesOnly=yes',
    '-o BatchMode=yes',
    '-o StrictHostKeyChecking=yes',
    `-o UserKnownHostsFile=${shellQuote(o.knownHostsFile)}`,
    '-o GlobalKnownHostsFile=/dev/null',
    '-o UpdateHostKeys=no',
  ].join(' ');
  return `# Written by Slipway for one git call (shared/ssh-host-keys.ts); removed with its directory.
log=$(mktemp ${shellQuote(`${o.dir}/ssh-log.`)}XXXXXX) || exit 255
ssh -E "$log" ${opts} "$@"
rc=$?
if [ "$rc" -ne 0 ]; then
  cat "$log" >&2
  if grep -q 'Host key verification failed' "$log"; then
    port=22 host=
    while [ $# -gt 0 ]; do
      case "$1" in
        -p) port=$2; shift 2 ;;
        -o|-i|-l|-F|-E|-J) shift 2 ;;
        -*) shift ;;
        *) host=\${1#*@}; break ;;
      esac
    done
    if grep -q 'has changed' "$log"; then
      msg="SSH host key of $host (port $port) does not match repo.knownHosts nor this host's known_hosts (the key changed, or a man in the middle): check the new key with the server's admin, then replace the host's line in the job's repo.knownHosts (ssh-keyscan -p $port $host prints it)"
    else
      msg="SSH host key of $host (port $port) is not known: add the host's key line to the job's repo.knownHosts (ssh-keyscan -p $port $host prints it; compare its fingerprint with the server's) or to this host's /etc/ssh/ssh_known_hosts"
    fi
    # A git protocol error packet: git stops with "fatal: remote error: <msg>" as its last line.
    printf '%04xERR %s' $((\${#msg} + 8)) "$msg"
  fi
fi
rm -f "$log"
exit "$rc"
`;
}

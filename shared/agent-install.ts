/**
 * The one command that installs an agent on a new host (run as root there): it fetches the master's
 * installer (GET /agent/install.sh, master/agent-bundle/install-script.ts) and hands it the token through
 * the environment, never argv (other users of the host can read argv in ps). The CLI prints it after
 * `agent token create`; the web UI's agent page builds it with the same function.
 */

/** Agent names the master accepts (AgentHelloSchema.name). */
const AGENT_NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** POSIX shell single-quoting. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9._\/:=,@+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export interface AgentInstallOptions {
  /** The master as the agent host reaches it. */
  url: string;
  environment: string;
  /** Agent name; left to the host name when it is not a valid agent name. */
  name?: string;
  token: string;
  /** Run in the foreground instead of installing a systemd unit. */
  foreground?: boolean;
}

export function agentInstallCommand(o: AgentInstallOptions): string {
  const url = o.url.replace(/\/+$/, '');
  const args = ['--url', url, '--environment', o.environment];
  if (o.name && AGENT_NAME.test(o.name)) args.push('--name', o.name);
  if (o.foreground) args.push('--foreground');
  return `curl -fsSL ${shellQuote(`${url}/agent/install.sh`)} | SLIPWAY_AGENT_TOKEN=${shellQuote(o.token)} bash -s -- ${args.map(shellQuote).join(' ')}`;
}

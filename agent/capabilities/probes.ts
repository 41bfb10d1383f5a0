/**
 * Host capabilities an agent can offer (docker, etcd, nginx), each checked by a probe at agent start. Step kinds
 * name the capabilities they need (StepKindDef.capabilities) and the scheduler gives a stage only to an agent
 * whose probes succeeded for all of them. A capability the agent file declares (capabilities.declare) is
 * taken as present without probing. Probes are bounded in time and never throw: a failed probe is reported
 * with why, so `slipway agents` shows what is missing on which host.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { CapabilityInfo } from '../../shared/protocol';
import type { AgentFile } from '../agent-file';

export const PROBE_TIMEOUT_MS = 3000;

export interface CapabilityProbe {
  name: string;
  /** Checks the host; resolves ok with what it found, or not ok with why. Never rejects. */
  probe(file: AgentFile, env: NodeJS.ProcessEnv): Promise<Omit<CapabilityInfo, 'name'>>;
}

function getJson(opts: http.RequestOptions): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.get({ ...opts, timeout: PROBE_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body.length < 65536 ? (body += c) : undefined));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error('answer is not JSON'));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
  });
}

const versionAtLeast = (v: string, min: string) => {
  const [a, b] = v.split('.').map(Number);
  const [c, d] = min.split('.').map(Number);
  return a > c || (a === c && b >= d);
};

/** The Docker Engine API answers on its socket with an API version the executors speak. */
export const dockerProbe: CapabilityProbe = {
  name: 'docker',
  async probe(file, env) {
    const fromEnv = env.DOCKER_HOST?.startsWith('unix://') ? env.DOCKER_HOST.slice('unix://'.length) : undefined;
    const socket = file.docker?.socket ?? fromEnv ?? '/var/run/docker.sock';
    const min = file.docker?.minApiVersion ?? '1.41';
    try {
      const v = (await getJson({ socketPath: socket, path: '/version' })) as { Version?: string; ApiVersion?: string };
      if (!v.ApiVersion) return { ok: false, detail: `${socket} answered without an ApiVersion` };
      if (!versionAtLeast(v.ApiVersion, min)) return { ok: false, detail: `Docker API ${v.ApiVersion} at ${socket} is older than ${min}` };
      return { ok: true, detail: `Docker ${v.Version ?? '?'} (API ${v.ApiVersion}) at ${socket}` };
    } catch (e) {
      return { ok: false, detail: `Docker Engine API not reachable at ${socket}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
  },
};

/** One of the configured etcd endpoints answers /version. */
export const etcdProbe: CapabilityProbe = {
  name: 'etcd',
  async probe(file) {
    const endpoints = file.etcd?.endpoints ?? [];
    if (!endpoints.length) return { ok: false, detail: 'no etcd endpoints configured (etcd.endpoints in the agent file)' };
    const errors: string[] = [];
    for (const e of endpoints) {
      try {
        const u = new URL('/version', e);
        const v = (await getJson({ host: u.hostname, port: u.port, path: u.pathname })) as { etcdserver?: string };
        return { ok: true, detail: `etcd ${v.etcdserver ?? '?'} at ${e}` };
      } catch (err) {
        errors.push(`${e}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    return { ok: false, detail: `no etcd endpoint answers (${errors.join('; ')})` };
  },
};

/** An nginx binary runs (`nginx -v`). */
export const nginxProbe: CapabilityProbe = {
  name: 'nginx',
  probe(file) {
    const binary = file.nginx?.binary ?? 'nginx';
    return new Promise((resolve) => {
      execFile(binary, ['-v'], { timeout: PROBE_TIMEOUT_MS }, (err, _stdout, stderr) => {
        if (err) resolve({ ok: false, detail: `${binary} -v failed: ${(err as NodeJS.ErrnoException).code ?? err.message}` });
        else resolve({ ok: true, detail: stderr.trim() || `${binary} runs` });
      });
    });
  },
};

/** The built-in probes, by capability name. */
export function builtinProbes(): Map<string, CapabilityProbe> {
  return new Map([dockerProbe, etcdProbe, nginxProbe].map((p) => [p.name, p]));
}

/**
 * Probes what the agent may need: every built-in probe, plus what its executors need (a need without a probe
 * is reported missing unless declared). Declared capabilities are ok without probing.
 */
export async function probeCapabilities(
  needed: string[],
  file: AgentFile,
  probes: Map<string, CapabilityProbe> = builtinProbes(),
  env: NodeJS.ProcessEnv = process.env,
): Promise<CapabilityInfo[]> {
  const declared = new Set(file.capabilities.declare);
  const names = [...new Set([...probes.keys(), ...needed, ...declared])].sort();
  return Promise.all(
    names.map(async (name): Promise<CapabilityInfo> => {
      if (declared.has(name)) return { name, ok: true, detail: 'declared in the agent config file' };
      const p = probes.get(name);
      if (!p) return { name, ok: false, detail: 'no probe for this capability on the agent (declare it in the agent config file)' };
      return { name, ...(await p.probe(file, env)) };
    }),
  );
}
